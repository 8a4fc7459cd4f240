#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_tunnel and fuzz_engine from the fixtures (standard library).

  python3 tests/fuzz/seeds.py            # rewrites tests/fuzz/corpus/{fuzz_tunnel,fuzz_engine}/

fuzz_tunnel seeds: one control byte, then a stream of well-formed frames (the examples of
docs/tunnel-protocol.md, and RESPONSES frames holding the headers of each fixture's server
packets, as intercept would send them).

fuzz_engine seeds: the input layout of tests/fuzz/fuzz_engine.cpp - a configuration, then one
operation per fixture packet: client packets as "captured, raw IPv4" operations, server packets
as "response, raw IPv4" operations on the flow the engine opened for that connection, with
time steps of the capture's own gaps in between.
"""

import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
import pcaptool  # noqa: E402

FIXTURES = os.path.join(here, "..", "fixtures")
CORPUS = os.path.join(here, "corpus")
SERVER_PORTS = {80, 6379}


def frame(mtype, payload, version=2, flags=0):
    """A tunnel frame; handshake frames (CHALLENGE, HELLO, HELLO_ACK) carry header version 1."""
    return b"TC" + bytes([version, mtype]) + struct.pack("!HI", flags, len(payload)) + payload


def ip_packets(path):
    """(timestamp in seconds, IPv4 packet bytes, decoded Tcp) for every IPv4/TCP record."""
    pcap = pcaptool.Pcap.read(path)
    frac = 1e9 if pcap.magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
    out = []
    for r in pcap.records:
        t = pcaptool.decode(pcap.linktype, r.data)
        if t is None:
            continue
        out.append((r.ts_sec + r.ts_frac / frac, bytes(r.data[t.ip_off:]), t))
    return out


def tunnel_seeds():
    nonce_i, nonce_t = bytes(range(32)), bytes(range(32, 64))
    handshake = (frame(1, bytes([1]) + nonce_i, version=1, flags=2) +
                 frame(2, b"\x02\x02ab" + nonce_t + b"\x20" + bytes(range(0xA0, 0xC0)), version=1) +
                 frame(3, b"\x01\x02\x03\x04\x20" + bytes(range(0xC0, 0xE0)), version=1))
    seeds = {
        "handshake": handshake + frame(8, b""),
        "hello_mac": frame(2, b"\x02\x00" + nonce_t + b"\x20" + bytes(range(32)), version=1),
        "hello_v1": frame(2, b"\x01\x02ab\x00", version=1),
        "reject": frame(4, b"\x02\x00\x02no"),
        "routes": frame(5, bytes.fromhex("04c00002019c40c61201020050")) +
                  frame(6, bytes.fromhex("04c00002019c40c61201020050")),
        "route_v6": frame(5, bytes([6]) + bytes(36)),
        "responses_example": frame(7, bytes.fromhex("0002000445 0005dc0003010203".replace(" ", ""))),
        "unknown_type": frame(9, b"future"),
    }
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".pcap"):
            continue
        items = []
        for _, packet, t in ip_packets(os.path.join(FIXTURES, name)):
            if t.sport in SERVER_PORTS:
                # Headers only, total length as captured (responseHeaderBytes).
                items.append(packet[:t.ip_hlen + t.tcp_hlen])
        if not items:
            continue
        items = items[:200]
        payload = struct.pack("!H", len(items)) + b"".join(struct.pack("!H", len(i)) + i for i in items)
        seeds["responses_" + name[:-5]] = frame(7, payload)
    # Control byte (tests/fuzz/fuzz_tunnel.cpp): chunk size - 1 in the low 6 bits; 0x40: a 64-byte
    # session payload limit; 0x80: an unauthenticated peer's handshake, then the session.
    out = {}
    for name, stream in seeds.items():
        out[name] = bytes([0x0F]) + stream
    out["handshake"] = bytes([0x80 | 0x0F]) + seeds["handshake"] + seeds["routes"]
    out["handshake_bytewise"] = bytes([0x80]) + seeds["handshake"]
    out["hello_mac"] = bytes([0x80 | 0x0F]) + seeds["hello_mac"]
    out["hello_v1"] = bytes([0x80 | 0x0F]) + seeds["hello_v1"]
    out["preauth_responses"] = bytes([0x80 | 0x3F]) + frame(7, bytes.fromhex("ffff0001450001460001470000"), version=1)
    out["preauth_oversize"] = bytes([0x80 | 0x3F]) + b"TC\x01\x02\x00\x00\x00\x00\x02\x01" + bytes(513)
    out["responses_small_limit"] = bytes([0x40 | 0x3F]) + seeds["responses_example"] + seeds["routes"]
    return out


def engine_config():
    # copies 1; no port shift; no sampling; wait for responses; not only complete sessions;
    # MTU 576+924 = 1500; MSS 88+1372 = 1460; no client pool; 16 sessions; 4 retransmits;
    # 3 SYN retries.
    return bytes([0, 0, 0, 1, 0]) + struct.pack("!HH", 924, 1372) + bytes([0, 15, 4, 3])


def engine_seed(path, accelerate):
    out = bytearray(engine_config())
    flows = {}  # captured (client ip, port) -> index of the route the engine added for it
    last = None
    for ts, packet, t in ip_packets(path)[:300]:
        if last is not None:
            gap_ms = min(4000, int((ts - last) * 1000 / accelerate))
            if gap_ms > 0:
                out += bytes([4]) + struct.pack("!H", gap_ms)
        last = ts
        packet = packet[:1200]  # keeps seeds small; the IP length still tells the payload size
        if t.dport in SERVER_PORTS:
            key = (t.src, t.sport)
            if key not in flows and ((t.flags & pcaptool.TH_SYN) or t.payload_len > 0):
                flows[key] = len(flows)
            out += bytes([5]) + struct.pack("!H", len(packet)) + packet + bytes([1])
        else:
            key = (t.dst, t.dport)
            if key not in flows or len(flows) > 256:
                continue
            out += bytes([5]) + struct.pack("!H", len(packet)) + packet + bytes([0, flows[key]])
    out += bytes([6]) + bytes([4]) + struct.pack("!H", 4000)
    return bytes(out)


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    write("fuzz_tunnel", tunnel_seeds())
    engine = {}
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".pcap"):
            engine[name[:-5]] = engine_seed(os.path.join(FIXTURES, name), accelerate=1)
    write("fuzz_engine", engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
