#!/usr/bin/env python3
"""A MySQL client that logs in, then waits before it runs its commands, for sessions captured
mid-stream (tests/e2e/mysql_midstream_test.sh): the capture starts while it waits.

  mysql_idle_client.py HOST PORT USER PASSWORD SCHEMA TAG FIFO [--deprecate-eof]

Logs in (mysql_native_password, answering an AuthSwitchRequest too), prints "ready port=N" (its
local port, the test's key to the connection in the capture), then reads lines from FIFO:
"keepalive" turns TCP keepalive on with a 1 s idle time (its probes are pure ACKs: a capture then
sees the connection idle), "go" ends the wait. Then: a first query (the one a replay of a
connection seen mid-stream cannot know starts a request), three queries, a server-side prepared
statement prepared and executed twice, its close, a last query, COM_QUIT. Every statement carries
/* TAG-... */. Prints one line per command answered; exits 1 on an ERR or a protocol surprise.
The protocol by hand (no client library prepares server-side by default): Python's standard
library only.
"""
import hashlib
import socket
import struct
import sys

CLIENT_LONG_PASSWORD = 1
CLIENT_LONG_FLAG = 4
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PS_MULTI_RESULTS = 0x40000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_DEPRECATE_EOF = 0x1000000
SERVER_MORE_RESULTS_EXISTS = 0x0008


class Conn:
    def __init__(self, host, port, deprecate_eof):
        self.sock = socket.create_connection((host, port))
        self.deprecate_eof = deprecate_eof
        self.seq = 0

    def read(self):
        header = self._exact(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        self.seq = (header[3] + 1) & 0xFF
        payload = self._exact(length)
        if payload[:1] == b"\xff":
            code = struct.unpack("<H", payload[1:3])[0]
            raise SystemExit(f"ERR {code}: {payload[9:].decode(errors='replace')}")
        return payload

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise SystemExit("the server closed the connection")
            out += chunk
        return out

    def send(self, payload, seq=None):
        seq = self.seq if seq is None else seq
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)
        self.seq = (seq + 1) & 0xFF

    def command(self, payload):
        self.send(payload, 0)

    # The rows of a result set whose column count packet was `first`; returns how many.
    def result_set(self, first):
        columns = first[0]
        for _ in range(columns):
            self.read()
        if not self.deprecate_eof:
            self.read()  # EOF after the definitions
        rows = 0
        while True:
            p = self.read()
            if p[:1] == b"\xfe" and len(p) < 0xFFFFFF:
                return rows, p
            rows += 1

    # The answer to a query or an execute: OK, or result sets (several with MORE_RESULTS).
    def answer(self):
        total = 0
        while True:
            p = self.read()
            if p[:1] == b"\x00":
                return total
            rows, end = self.result_set(p)
            total += rows
            status = struct.unpack("<H", end[3:5])[0] if len(end) == 5 else ok_status(end)
            if not status & SERVER_MORE_RESULTS_EXISTS:
                return total


def lenenc(data, pos):
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1:pos + 1 + size], "little"), pos + 1 + size


def ok_status(p):
    _, pos = lenenc(p, 1)
    _, pos = lenenc(p, pos)
    return struct.unpack("<H", p[pos:pos + 2])[0]


def native(password, scramble):
    s1 = hashlib.sha1(password.encode()).digest()
    s2 = hashlib.sha1(scramble[:20] + hashlib.sha1(s1).digest()).digest()
    return bytes(a ^ b for a, b in zip(s1, s2))


def login(c, user, password, schema):
    g = c.read()
    version_end = g.index(b"\x00", 1)
    pos = version_end + 1 + 4
    scramble = g[pos:pos + 8]
    pos += 8 + 1 + 2 + 1 + 2 + 2
    auth_len = g[pos]
    pos += 1 + 10
    part2 = g[pos:pos + max(13, auth_len - 8)]
    scramble += part2.split(b"\x00", 1)[0]
    caps = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
            CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS |
            CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | (CLIENT_DEPRECATE_EOF if c.deprecate_eof else 0))
    auth = native(password, scramble)
    c.send(struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23) + user.encode() + b"\x00" +
           bytes([len(auth)]) + auth + schema.encode() + b"\x00" + b"mysql_native_password\x00")
    p = c.read()
    if p[:1] == b"\xfe":  # AuthSwitchRequest
        plugin, data = p[1:].split(b"\x00", 1)
        if plugin != b"mysql_native_password":
            raise SystemExit(f"cannot answer auth plugin {plugin!r}")
        c.send(native(password, data.rstrip(b"\x00")))
        p = c.read()
    if p[:1] != b"\x00":
        raise SystemExit("no OK after the login")


def query(c, sql):
    c.command(b"\x03" + sql.encode())
    print(f"query: {c.answer()} rows", flush=True)


def prepare(c, sql):
    c.command(b"\x16" + sql.encode())
    p = c.read()
    stmt, columns, params = struct.unpack("<IHH", p[1:9])
    for count in (params, columns):
        for _ in range(count):
            c.read()
        if count and not c.deprecate_eof:
            c.read()
    print(f"prepare: statement {stmt}, {params} parameters", flush=True)
    return stmt, params


def execute(c, stmt, values):
    # flags 0, iteration count 1, NULL bitmap, new-params-bound 1, every parameter a string.
    body = struct.pack("<BIBI", 0x17, stmt, 0, 1) + bytes((len(values) + 7) // 8) + b"\x01"
    body += b"\xfd\x00" * len(values)
    for v in values:
        data = str(v).encode()
        body += bytes([len(data)]) + data
    c.command(body)
    print(f"execute: {c.answer()} rows", flush=True)


# Reads the fifo until a writer closes it; True once "go" came.
def wait_for_go(sock, fifo):
    with open(fifo) as f:
        for line in f:
            if line.strip() == "keepalive":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            elif line.strip() == "go":
                return True
    return False


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    host, port, user, password, schema, tag, go = args
    c = Conn(host, int(port), "--deprecate-eof" in sys.argv)
    login(c, user, password, schema)
    print(f"ready port={c.sock.getsockname()[1]}", flush=True)
    while not wait_for_go(c.sock, go):
        pass
    query(c, f"SELECT /* {tag}-first */ 1")
    query(c, f"SELECT /* {tag}-q1 */ COUNT(*) FROM sbtest1")
    query(c, f"SELECT /* {tag}-q2 */ id, k FROM sbtest1 WHERE id BETWEEN 1 AND 5")
    query(c, f"UPDATE /* {tag}-q3 */ sbtest1 SET k = k + 1 WHERE id = 7")
    stmt, _ = prepare(c, f"SELECT /* {tag}-ps */ c FROM sbtest1 WHERE id = ?")
    execute(c, stmt, [3])
    execute(c, stmt, [4])
    c.command(struct.pack("<BI", 0x19, stmt))
    query(c, f"SELECT /* {tag}-last */ 2")
    c.command(b"\x01")
    c.sock.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
