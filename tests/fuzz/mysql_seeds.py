#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_mysql (tests/fuzz/fuzz_mysql.cpp): scripts of [op][length][bytes]
operations (op 0: captured client, 1: target, 2: online server) for a login, a prepared
statement and its execution, an auth switch, a refused TLS login, and a session captured
mid-stream (a first byte 0xFF: the hook logs in afresh; the client's bytes start inside a query,
the online server's with the answer to a command the hook never sees).

  python3 tests/fuzz/mysql_seeds.py      # rewrites tests/fuzz/corpus/fuzz_mysql/
"""
import os
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_mysql")
CAPS = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000 | 0x100000 | 0x200000


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def greeting(scramble, plugin=b"mysql_native_password"):
    caps = 0xDFFFFFFF
    return packet(0, b"\x0a8.0.33\x00" + struct.pack("<I", 7) + scramble[:8] + b"\x00" +
                  struct.pack("<HBHHB", caps & 0xFFFF, 45, 2, caps >> 16, 21) + b"\x00" * 10 +
                  scramble[8:] + b"\x00" + plugin + b"\x00")


def handshake(user=b"app", caps=CAPS):
    return packet(1, struct.pack("<IIB", caps, 1 << 24, 45) + b"\x00" * 23 + user + b"\x00" +
                  bytes([20]) + b"A" * 20 + b"shop\x00mysql_native_password\x00" + b"\x00")


def ok(seq):
    return packet(seq, b"\x00\x00\x00\x02\x00\x00\x00")


def prepare_ok(sid):
    return (packet(1, b"\x00" + struct.pack("<IHHBH", sid, 1, 1, 0, 0)) + packet(2, b"\x03def") +
            packet(3, b"\xfe\x00\x00\x02\x00") + packet(4, b"\x03def") + packet(5, b"\xfe\x00\x00\x02\x00"))


def op(stream, data):
    out = b""
    while True:  # operations carry at most 255 bytes
        out += bytes([stream, min(len(data), 255)]) + data[:255]
        data = data[255:]
        if not data:
            return out


SEEDS = {
    "login_prepare_execute": [(2, greeting(b"online-scramble-0123")), (1, greeting(b"TARGET-scramble-4567")),
                              (0, handshake()), (2, ok(2)), (1, ok(2)),
                              (0, packet(0, b"\x16SELECT ?")), (2, prepare_ok(7)), (1, prepare_ok(1)),
                              (0, packet(0, b"\x17" + struct.pack("<I", 7) + b"\x00\x01\x00\x00\x00")),
                              (0, packet(0, b"\x19" + struct.pack("<I", 7)))],
    "auth_switch": [(1, greeting(b"TARGET-scramble-4567", b"caching_sha2_password")), (0, handshake()),
                    (1, packet(2, b"\xfeclient_ed25519\x00" + b"s" * 32 + b"\x00")), (1, ok(4)),
                    (0, packet(0, b"\x03SELECT 1"))],
    "tls": [(1, greeting(b"TARGET-scramble-4567")),
            (0, packet(1, struct.pack("<IIB", CAPS | 0x800, 1 << 24, 45) + b"\x00" * 23))],
}

MIDSTREAM = {
    "midstream_prepare_execute": [(1, greeting(b"TARGET-scramble-4567")), (1, ok(2)),
                                  (2, ok(1) + ok(1) + prepare_ok(7)),
                                  (0, b"ERE id = 3" + packet(0, b"\x03UPDATE t SET k = 1") +
                                   packet(0, b"\x16SELECT ?")),
                                  (1, ok(1) + prepare_ok(1)),
                                  (0, packet(0, b"\x17" + struct.pack("<I", 7) + b"\x00\x01\x00\x00\x00") +
                                   packet(0, b"\x19" + struct.pack("<I", 7)) + packet(0, b"\x01"))],
}

os.makedirs(CORPUS, exist_ok=True)
for name, ops in SEEDS.items():
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(b"".join(op(s, d) for s, d in ops))
for name, ops in MIDSTREAM.items():
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(b"\xff" + b"".join(op(s, d) for s, d in ops))
