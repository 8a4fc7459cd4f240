#!/usr/bin/env python3
"""Misbehaving tunnel peers and a response flood, for bad_input_test.sh (standard library only).
The wire layout is docs/tunnel-protocol.md.

  tunnel_peer.py garbage HOST PORT        sends an HTTP request instead of frames
  tunnel_peer.py oversize HOST PORT       sends a frame header announcing a 4 GiB payload
  tunnel_peer.py nomac HOST PORT          answers the challenge with a HELLO without a MAC
  tunnel_peer.py preauth HOST PORT        sends a 12-byte RESPONSES frame claiming 65535 items
                                          before any HELLO
  tunnel_peer.py stuck HOST PORT SECRET_FILE CLIENT_IP:PORT SERVER_IP:PORT SECONDS READY_FILE
        completes the handshake, adds the route, then never reads: sends a heartbeat every
        200 ms for SECONDS (so it is not idle), then nothing; touches READY_FILE once the
        route is sent; exits when intercept has closed the connection (or after 60 s)
  tunnel_peer.py takeover HOST PORT SECRET_FILE CLIENT_IP:PORT SERVER_IP:PORT SECONDS READY_FILE
        completes the handshake and adds the route (one another peer may own), touches
        READY_FILE, then reads for SECONDS and prints "responses N": the response headers of
        that flow intercept sent it
  tunnel_peer.py hold HOST PORT COUNT SECONDS READY_FILE
        opens COUNT connections (without a handshake) and keeps them open for SECONDS;
        touches READY_FILE once all connect() calls returned
  tunnel_peer.py flood SRC_IP:PORT DST_IP:PORT COUNT
        sends COUNT TCP ACK segments SRC -> DST from a raw socket (run it in the target
        namespace: they leave through the target's route to the assistant)

garbage/oversize/nomac/preauth print what intercept did: "closed", "reject REASON TEXT" or
"open" (nothing within 5 s); exit status 0 when intercept closed or rejected, 1 otherwise.
"""

import hashlib
import hmac
import os
import socket
import struct
import sys
import time


# Protocol 2: handshake frames (CHALLENGE, HELLO, HELLO_ACK) carry header version 1, the rest 2.
HANDSHAKE = 1
SESSION = 2


def frame(mtype, payload=b"", version=SESSION):
    return b"TC" + bytes([version, mtype]) + struct.pack("!HI", 0, len(payload)) + payload


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(sock):
    head = read_exact(sock, 10)
    if head[:2] != b"TC" or head[2] not in (HANDSHAKE, SESSION):
        raise ValueError("bad frame header %r" % head)
    (length,) = struct.unpack("!I", head[6:10])
    return head[3], read_exact(sock, length)


def connect(host, port):
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def outcome(sock):
    """What intercept does next: a REJECT, a close, or nothing within 5 s."""
    deadline = time.time() + 5
    try:
        while time.time() < deadline:
            mtype, payload = read_frame(sock)
            if mtype == 4:
                reason = payload[0]
                (n,) = struct.unpack("!H", payload[1:3])
                return "reject %d %s" % (reason, payload[3:3 + n].decode(errors="replace"))
    except (EOFError, ConnectionResetError):
        return "closed"
    except socket.timeout:
        return "open"
    return "open"


def cmd_bad(kind, host, port):
    sock = connect(host, port)
    read_frame(sock)  # CHALLENGE
    if kind == "garbage":
        sock.sendall(b"GET / HTTP/1.0\r\nHost: intercept\r\n\r\n")
    elif kind == "oversize":
        sock.sendall(b"TC\x01\x07\x00\x00\xff\xff\xff\xff" + b"\x00" * 1000)
    elif kind == "preauth":
        sock.sendall(frame(7, bytes.fromhex("ffff0001450001460001470000"), HANDSHAKE))
    else:
        ident = b"no mac"
        sock.sendall(frame(2, bytes([2, len(ident)]) + ident + os.urandom(32) + b"\x00", HANDSHAKE))
    result = outcome(sock)
    print(result)
    return 0 if result != "open" else 1


def parse_ep(text):
    ip, port = text.rsplit(":", 1)
    return socket.inet_aton(ip), int(port)


def handshake(sock, secret_file, ident):
    """The client side of the protocol 2 handshake, with mutual authentication."""
    with open(secret_file) as f:
        secret = f.readline().rstrip("\r\n \t").encode()
    mtype, payload = read_frame(sock)
    assert mtype == 1, "expected CHALLENGE"
    nonce_i, nonce_t = payload[1:33], os.urandom(32)
    mac = hmac.new(secret, b"tcpcopy hello v2" + nonce_i + nonce_t, hashlib.sha256).digest()
    sock.sendall(frame(2, bytes([2, len(ident)]) + ident + nonce_t + bytes([32]) + mac, HANDSHAKE))
    mtype, payload = read_frame(sock)
    assert mtype == 3, "expected HELLO_ACK, got %d" % mtype
    proof = hmac.new(secret, b"intercept ack v2" + nonce_t + nonce_i, hashlib.sha256).digest()
    assert payload[4] == 32 and hmac.compare_digest(payload[5:37], proof), "intercept did not prove the secret"


def route_add(client, server):
    (cip, cport), (sip, sport) = parse_ep(client), parse_ep(server)
    return frame(5, b"\x04" + cip + struct.pack("!H", cport) + sip + struct.pack("!H", sport))


def cmd_stuck(host, port, secret_file, client, server, seconds, ready):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly
    sock.settimeout(5)
    sock.connect((host, int(port)))
    handshake(sock, secret_file, b"stuck peer")
    sock.sendall(route_add(client, server))
    open(ready, "w").close()
    end = time.time() + float(seconds)
    sock.setblocking(False)
    while time.time() < end:
        try:
            sock.send(frame(8))
        except BlockingIOError:
            pass
        except OSError:
            print("closed while sending heartbeats")
            return 0
        time.sleep(0.2)
    # Silent from now on: intercept should drop us as idle. A closed connection shows as a
    # readable socket whose pending data ends in EOF or a reset; we read only now.
    sock.setblocking(True)
    sock.settimeout(60)
    try:
        while sock.recv(65536):
            pass
        print("closed by intercept")
        return 0
    except ConnectionResetError:
        print("reset by intercept")
        return 0
    except socket.timeout:
        print("still open after 60 s")
        return 1


def cmd_takeover(host, port, secret_file, client, server, seconds, ready):
    sock = socket.create_connection((host, int(port)), timeout=5)
    handshake(sock, secret_file, b"takeover peer")
    sock.sendall(route_add(client, server))
    open(ready, "w").close()
    (cip, cport), (sip, sport) = parse_ep(client), parse_ep(server)
    end = time.time() + float(seconds)
    got = 0
    try:
        while time.time() < end:
            sock.settimeout(max(0.05, end - time.time()))
            mtype, payload = read_frame(sock)
            if mtype != 7:
                continue
            (count,), at = struct.unpack("!H", payload[:2]), 2
            for _ in range(count):
                (n,) = struct.unpack("!H", payload[at:at + 2])
                item = payload[at + 2:at + 2 + n]
                at += 2 + n
                ihl = (item[0] & 0x0F) * 4
                # A response goes server -> client.
                if item[12:16] == sip and item[16:20] == cip and item[ihl:ihl + 4] == struct.pack("!HH", sport, cport):
                    got += 1
    except (socket.timeout, EOFError, ConnectionResetError):
        pass
    print("responses %d" % got)
    return 0


def cmd_hold(host, port, count, seconds, ready):
    socks = []
    for _ in range(int(count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, int(port)))
        except BlockingIOError:
            pass
        socks.append(s)
    open(ready, "w").close()
    time.sleep(float(seconds))
    for s in socks:
        s.close()
    return 0


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def cmd_flood(src, dst, count):
    (sip, sport), (dip, dport) = parse_ep(src), parse_ep(dst)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    dst_addr = socket.inet_ntoa(dip)
    sent = 0
    for i in range(int(count)):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + i, 5000, 5 << 4, 0x10, 65535, 0, 0)
        pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, sip, dip)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        try:
            sock.sendto(ip + tcp, (dst_addr, 0))
            sent += 1
        except BlockingIOError:
            time.sleep(0.001)
    print("sent %d" % sent)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] in ("garbage", "oversize", "nomac", "preauth"):
        return cmd_bad(argv[1], argv[2], argv[3])
    if len(argv) == 9 and argv[1] == "stuck":
        return cmd_stuck(*argv[2:])
    if len(argv) == 9 and argv[1] == "takeover":
        return cmd_takeover(*argv[2:])
    if len(argv) == 7 and argv[1] == "hold":
        return cmd_hold(*argv[2:])
    if len(argv) == 5 and argv[1] == "flood":
        return cmd_flood(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
