#!/usr/bin/env python3
"""Small pcap tool for the test fixtures (Python 3 standard library only).

Reads and writes classic pcap files (both byte orders, microsecond and nanosecond
timestamps) with link types Ethernet (1), raw IPv4 (101, 228) and Linux cooked (113),
IPv4 + TCP only (but ipv6-dstopts). Subcommands:

  info IN                       packets, connections, GSO super-packets, checksums, truncation
  midstream IN OUT [--drop N]   drop the first N packets (N >= 2: SYN and SYN-ACK go) of every
                                connection, so the capture starts in the middle of each one
  retransmit IN OUT [--every K] [--delay D]
                                copy every K-th client data packet and insert the copy D packets
                                later in the file (a retransmission the capture point saw)
  reorder IN OUT [--every K]    within each connection, swap every K-th client data segment with
                                the next one of the same connection (timestamps stay in place)
  zero-checksums IN OUT         set the IPv4 header and TCP checksums to 0
  ipv6-dstopts IN OUT           put an 8-byte destination options header (PadN) between the
                                IPv6 header and TCP of every client packet (TCP source port not
                                in --server-ports; Ethernet frames): IPv6 extension headers
                                as a client may send them. Prints the number of packets changed.
  http-requests IN              reassemble each connection's client byte stream and print its
                                complete HTTP requests as nginx's lab log line:
                                "$request_method $request_uri $content_length $request_length"
  redis-commands IN             the same for RESP command arrays, printed like redis MONITOR
                                arguments ("SET" "k" "v")

The "client" of a connection is the side that sent the SYN; without a SYN in the capture it is
the side whose port is not in --server-ports (default 80,6379).
Exit status 0 on success, 1 on bad input (one line on stderr naming the file).
"""

import argparse
import struct
import sys
from collections import OrderedDict

ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = (101, 228, 12, 14)
LINKTYPE_LINUX_SLL = 113

TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class PcapError(Exception):
    pass


class Record:
    __slots__ = ("ts_sec", "ts_frac", "orig_len", "data")

    def __init__(self, ts_sec, ts_frac, orig_len, data):
        self.ts_sec = ts_sec
        self.ts_frac = ts_frac
        self.orig_len = orig_len
        self.data = bytearray(data)

    def copy(self):
        return Record(self.ts_sec, self.ts_frac, self.orig_len, bytes(self.data))


class Pcap:
    def __init__(self, endian, magic, header_rest, linktype, snaplen, records):
        self.endian = endian
        self.magic = magic
        self.header_rest = header_rest  # version, thiszone, sigfigs as read
        self.linktype = linktype
        self.snaplen = snaplen
        self.records = records

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            blob = f.read()
        if len(blob) < 24:
            raise PcapError(f"{path}: too short for a pcap header")
        magic_le = struct.unpack("<I", blob[:4])[0]
        if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise PcapError(f"{path}: not a classic pcap file (magic {magic_le:#x})")
        magic, vmaj, vmin, zone, sigfigs, snaplen, linktype = struct.unpack(
            endian + "IHHiIII", blob[:24])
        records = []
        off = 24
        while off < len(blob):
            if off + 16 > len(blob):
                raise PcapError(f"{path}: truncated record header at offset {off}")
            ts_sec, ts_frac, incl, orig = struct.unpack(endian + "IIII", blob[off:off + 16])
            off += 16
            if incl > 262144 or off + incl > len(blob):
                raise PcapError(f"{path}: bad record length {incl} at offset {off - 16}")
            records.append(Record(ts_sec, ts_frac, orig, blob[off:off + incl]))
            off += incl
        return Pcap(endian, magic, (vmaj, vmin, zone, sigfigs), linktype & 0xFFFF, snaplen,
                    records)

    def write(self, path):
        vmaj, vmin, zone, sigfigs = self.header_rest
        out = [struct.pack(self.endian + "IHHiIII", self.magic, vmaj, vmin, zone, sigfigs,
                           self.snaplen, self.linktype)]
        for r in self.records:
            out.append(struct.pack(self.endian + "IIII", r.ts_sec, r.ts_frac, len(r.data),
                                   r.orig_len))
            out.append(bytes(r.data))
        with open(path, "wb") as f:
            f.write(b"".join(out))


class Tcp:
    """A decoded IPv4/TCP packet; offsets index into the record's data."""
    __slots__ = ("ip_off", "ip_hlen", "ip_total", "src", "dst", "sport", "dport", "seq", "ack",
                 "flags", "tcp_off", "tcp_hlen", "payload_off", "payload_len", "captured_payload")


def ip_offset(linktype, data):
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        etype = struct.unpack("!H", data[12:14])[0]
        off = 14
        while etype == ETH_P_8021Q and len(data) >= off + 4:
            etype = struct.unpack("!H", data[off + 2:off + 4])[0]
            off += 4
        return off if etype == ETH_P_IP else None
    if linktype in LINKTYPE_RAW:
        return 0
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16 or struct.unpack("!H", data[14:16])[0] != ETH_P_IP:
            return None
        return 16
    raise PcapError(f"unsupported link type {linktype}")


def decode(linktype, data):
    off = ip_offset(linktype, data)
    if off is None or len(data) < off + 20:
        return None
    vihl = data[off]
    if vihl >> 4 != 4 or data[off + 9] != 6:
        return None
    ihl = (vihl & 0xF) * 4
    total = struct.unpack("!H", data[off + 2:off + 4])[0]
    frag = struct.unpack("!H", data[off + 6:off + 8])[0]
    if ihl < 20 or (frag & 0x1FFF) != 0 or len(data) < off + ihl + 20:
        return None
    t = Tcp()
    t.ip_off, t.ip_hlen, t.ip_total = off, ihl, total
    t.src = bytes(data[off + 12:off + 16])
    t.dst = bytes(data[off + 16:off + 20])
    to = off + ihl
    t.sport, t.dport, t.seq, t.ack = struct.unpack("!HHII", data[to:to + 12])
    t.tcp_hlen = (data[to + 12] >> 4) * 4
    t.flags = data[to + 13]
    t.tcp_off = to
    t.payload_off = to + t.tcp_hlen
    # TSO/GSO super-packets can carry an IP total length of 0; fall back to the frame.
    end = off + total if total >= ihl + t.tcp_hlen else len(data)
    t.payload_len = max(0, end - t.payload_off)
    t.captured_payload = max(0, min(end, len(data)) - t.payload_off)
    return t


def fmt_ip(b):
    return ".".join(str(x) for x in b)


def csum16(data):
    if len(data) % 2:
        data = bytes(data) + b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_checksum_ok(data, t):
    """None when the segment is not fully captured, else whether the checksum verifies."""
    if t.captured_payload < t.payload_len:
        return None
    seg = bytes(data[t.tcp_off:t.payload_off + t.payload_len])
    pseudo = t.src + t.dst + struct.pack("!BBH", 0, 6, len(seg))
    return csum16(pseudo + seg) == 0


class Conn:
    def __init__(self, key):
        self.key = key  # (client ip, client port, server ip, server port)
        self.packets = []  # record indices
        self.syn_seen = False


def connections(pcap, server_ports):
    """Groups TCP packets by connection; returns (OrderedDict key->Conn, list of (index, Tcp, from_client))."""
    conns = OrderedDict()
    decoded = []
    for i, r in enumerate(pcap.records):
        t = decode(pcap.linktype, r.data)
        if t is None:
            decoded.append((i, None, None))
            continue
        a = (t.src, t.sport)
        b = (t.dst, t.dport)
        k1 = a + b
        k2 = b + a
        if k1 in conns:
            key, from_client = k1, True
        elif k2 in conns:
            key, from_client = k2, False
        else:
            if (t.flags & TH_SYN) and not (t.flags & TH_ACK):
                from_client = True
            elif (t.flags & TH_SYN) and (t.flags & TH_ACK):
                from_client = False
            elif t.dport in server_ports and t.sport not in server_ports:
                from_client = True
            elif t.sport in server_ports and t.dport not in server_ports:
                from_client = False
            else:
                from_client = t.dport < t.sport
            key = k1 if from_client else k2
            conns[key] = Conn(key)
        c = conns[key]
        c.packets.append(i)
        if (t.flags & TH_SYN) and from_client:
            c.syn_seen = True
        decoded.append((i, t, from_client))
    return conns, decoded


def client_data_indices(conn, decoded):
    return [i for i in conn.packets if decoded[i][2] and decoded[i][1].payload_len > 0]


# ---------------------------------------------------------------------------------------------
# Stream reassembly

def client_stream(conn, decoded, records):
    """The client->server byte stream: (bytes, gap) where gap says the stream stops at a hole.

    Starts at the SYN's sequence number + 1, or without a SYN at the lowest data sequence
    number; duplicates and reordering are resolved by sequence number (RFC 1982 arithmetic)."""
    isn = None
    segs = []
    for i in conn.packets:
        _, t, from_client = decoded[i]
        if not from_client:
            continue
        if t.flags & TH_SYN:
            isn = (t.seq + 1) & 0xFFFFFFFF
            continue
        if t.captured_payload > 0:
            segs.append((t.seq, bytes(records[i].data[t.payload_off:t.payload_off + t.captured_payload]),
                         t.captured_payload < t.payload_len))
    if not segs:
        return b"", False
    if isn is None:
        base = segs[0][0]
        for seq, _, _ in segs:
            if ((seq - base) & 0xFFFFFFFF) >= 0x80000000:
                base = seq
        isn = base
    rel = sorted((((seq - isn) & 0xFFFFFFFF), data, trunc) for seq, data, trunc in segs)
    out = bytearray()
    gap = False
    for off, data, trunc in rel:
        if off >= 0x80000000:
            continue  # before the stream start
        if off > len(out):
            gap = True
            break
        end = off + len(data)
        if end > len(out):
            out += data[len(out) - off:]
        if trunc:
            gap = True
            break
    return bytes(out), gap


HTTP_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE")


def looks_like_request_line(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return False
    parts = buf[pos:end].split(b" ")
    return len(parts) == 3 and parts[0] in HTTP_METHODS and parts[2].startswith(b"HTTP/1.")


def http_requests(stream, segment_starts):
    """Complete requests in one client stream. When the stream does not begin with a request
    line (a midstream capture), parsing starts at the first segment boundary that does."""
    reqs = []
    pos = 0
    if not looks_like_request_line(stream, 0):
        pos = next((s for s in sorted(segment_starts) if looks_like_request_line(stream, s)), None)
        if pos is None:
            return reqs
    while pos < len(stream):
        hdr_end = stream.find(b"\r\n\r\n", pos)
        if hdr_end < 0:
            break
        head = stream[pos:hdr_end].split(b"\r\n")
        method, uri, _ = head[0].split(b" ", 2)
        clen = None
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                clen = value.strip()
        body = int(clen) if clen is not None else 0
        end = hdr_end + 4 + body
        if end > len(stream):
            break
        reqs.append("%s %s %s %d" % (method.decode(), uri.decode(),
                                     clen.decode() if clen is not None else "-", end - pos))
        pos = end
    return reqs


def monitor_repr(arg):
    """redis sdscatrepr(), as MONITOR prints each argument."""
    out = ['"']
    for ch in arg:
        c = chr(ch)
        if c in '\\"':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\a":
            out.append("\\a")
        elif c == "\b":
            out.append("\\b")
        elif 0x20 <= ch < 0x7F:
            out.append(c)
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


def redis_commands(stream):
    cmds = []
    pos = 0
    while pos < len(stream):
        if stream[pos:pos + 1] != b"*":
            eol = stream.find(b"\r\n", pos)  # inline command
            if eol < 0:
                break
            args = stream[pos:eol].split()
            if args:
                cmds.append(" ".join(monitor_repr(a) for a in args))
            pos = eol + 2
            continue
        eol = stream.find(b"\r\n", pos)
        if eol < 0:
            break
        n = int(stream[pos + 1:eol])
        p = eol + 2
        args = []
        for _ in range(n):
            eol = stream.find(b"\r\n", p)
            if eol < 0 or stream[p:p + 1] != b"$":
                return cmds
            ln = int(stream[p + 1:eol])
            p = eol + 2
            if p + ln + 2 > len(stream):
                return cmds
            args.append(stream[p:p + ln])
            p += ln + 2
        cmds.append(" ".join(monitor_repr(a) for a in args))
        pos = p
    return cmds


# ---------------------------------------------------------------------------------------------
# Subcommands

def cmd_info(args):
    pcap = Pcap.read(args.input)
    conns, decoded = connections(pcap, args.server_ports)
    tcp = [(i, t, fc) for i, t, fc in decoded if t is not None]
    mtu_frame = 1500 + (14 if pcap.linktype == LINKTYPE_ETHERNET else 0)
    gso = sum(1 for i, _, _ in tcp if pcap.records[i].orig_len > mtu_frame)
    truncated = sum(1 for r in pcap.records if len(r.data) < r.orig_len)
    bad = unverified = 0
    for i, t, _ in tcp:
        ok = tcp_checksum_ok(pcap.records[i].data, t)
        if ok is None:
            unverified += 1
        elif not ok:
            bad += 1
    data_pkts = sum(1 for _, t, fc in tcp if fc and t.payload_len > 0)
    max_len = max((r.orig_len for r in pcap.records), default=0)
    print(f"file: {args.input}")
    print(f"linktype: {pcap.linktype} snaplen: {pcap.snaplen}")
    print(f"packets: {len(pcap.records)} (tcp {len(tcp)}, client data {data_pkts})")
    print(f"connections: {len(conns)} (with SYN {sum(1 for c in conns.values() if c.syn_seen)})")
    print(f"clients: {' '.join(sorted({fmt_ip(k[0]) for k in conns}))}")
    print(f"servers: {' '.join(sorted({'%s:%d' % (fmt_ip(k[2]), k[3]) for k in conns}))}")
    print(f"largest frame: {max_len} bytes; frames > {mtu_frame} (GSO/TSO super-packets): {gso}")
    print(f"truncated records (caplen < len): {truncated}")
    print(f"tcp checksums: {len(tcp) - bad - unverified} good, {bad} bad "
          f"(offload: not yet filled in), {unverified} not verifiable")
    return 0


def cmd_midstream(args):
    if args.drop < 2:
        raise PcapError("--drop must be at least 2 (the SYN and the SYN-ACK)")
    pcap = Pcap.read(args.input)
    conns, _ = connections(pcap, args.server_ports)
    dropped = set()
    for c in conns.values():
        dropped.update(c.packets[:args.drop])
    pcap.records = [r for i, r in enumerate(pcap.records) if i not in dropped]
    pcap.write(args.output)
    print(f"midstream: dropped {len(dropped)} packets ({args.drop} from each of "
          f"{len(conns)} connections)", file=sys.stderr)
    return 0


def cmd_retransmit(args):
    pcap = Pcap.read(args.input)
    conns, decoded = connections(pcap, args.server_ports)
    data = sorted(i for c in conns.values() for i in client_data_indices(c, decoded))
    chosen = data[args.every - 1::args.every]
    inserts = {}
    for i in chosen:
        at = min(i + args.delay, len(pcap.records) - 1)
        inserts.setdefault(at, []).append(i)
    out = []
    for i, r in enumerate(pcap.records):
        out.append(r)
        for src in inserts.get(i, []):
            dup = pcap.records[src].copy()
            dup.ts_sec, dup.ts_frac = r.ts_sec, r.ts_frac
            out.append(dup)
    pcap.records = out
    pcap.write(args.output)
    print(f"retransmit: duplicated {len(chosen)} of {len(data)} client data packets",
          file=sys.stderr)
    return 0


def cmd_reorder(args):
    pcap = Pcap.read(args.input)
    conns, decoded = connections(pcap, args.server_ports)
    swaps = 0
    for c in conns.values():
        idx = client_data_indices(c, decoded)
        for k in range(args.every - 1, len(idx) - 1, args.every * 2):
            a, b = idx[k], idx[k + 1]
            ra, rb = pcap.records[a], pcap.records[b]
            ra.data, rb.data = rb.data, ra.data
            ra.orig_len, rb.orig_len = rb.orig_len, ra.orig_len
            swaps += 1
    pcap.write(args.output)
    print(f"reorder: swapped {swaps} pairs of client data segments", file=sys.stderr)
    return 0


def cmd_zero_checksums(args):
    pcap = Pcap.read(args.input)
    n = 0
    for r in pcap.records:
        t = decode(pcap.linktype, r.data)
        if t is None:
            continue
        r.data[t.ip_off + 10:t.ip_off + 12] = b"\0\0"
        r.data[t.tcp_off + 16:t.tcp_off + 18] = b"\0\0"
        n += 1
    pcap.write(args.output)
    print(f"zero-checksums: {n} packets", file=sys.stderr)
    return 0


ETH_P_IPV6 = 0x86DD
IPV6_DSTOPTS = 60
# Next header TCP, length 0 (8 bytes), one PadN option filling the other 6 bytes.
DSTOPTS_PADN = bytes([6, 0, 1, 4, 0, 0, 0, 0])


def cmd_ipv6_dstopts(args):
    pcap = Pcap.read(args.input)
    if pcap.linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"{args.input}: ipv6-dstopts reads Ethernet captures only")
    n = 0
    for r in pcap.records:
        d = r.data
        if len(d) < 14 + 40 + 4 or struct.unpack("!H", d[12:14])[0] != ETH_P_IPV6 or d[14 + 6] != 6:
            continue
        if struct.unpack("!H", d[14 + 40:14 + 42])[0] in args.server_ports:
            continue
        payload_len = struct.unpack("!H", d[14 + 4:14 + 6])[0] + len(DSTOPTS_PADN)
        d[14 + 4:14 + 6] = struct.pack("!H", payload_len)
        d[14 + 6] = IPV6_DSTOPTS
        d[14 + 40:14 + 40] = DSTOPTS_PADN  # the TCP checksum covers neither: it stays right
        r.orig_len += len(DSTOPTS_PADN)
        n += 1
    pcap.snaplen = max(pcap.snaplen, max((len(r.data) for r in pcap.records), default=0))
    pcap.write(args.output)
    print(n)
    return 0


def cmd_http_requests(args):
    pcap = Pcap.read(args.input)
    conns, decoded = connections(pcap, args.server_ports)
    lines = []
    for c in conns.values():
        stream, _ = client_stream(c, decoded, pcap.records)
        starts = stream_segment_starts(c, decoded)
        lines.extend(http_requests(stream, starts))
    for line in sorted(lines, key=lambda s: s.encode()):
        print(line)
    return 0


def stream_segment_starts(conn, decoded):
    isn = None
    seqs = []
    for i in conn.packets:
        _, t, fc = decoded[i]
        if not fc:
            continue
        if t.flags & TH_SYN:
            isn = (t.seq + 1) & 0xFFFFFFFF
        elif t.payload_len > 0:
            seqs.append(t.seq)
    if not seqs:
        return []
    if isn is None:
        isn = seqs[0]
        for s in seqs:
            if ((s - isn) & 0xFFFFFFFF) >= 0x80000000:
                isn = s
    return sorted({(s - isn) & 0xFFFFFFFF for s in seqs})


def cmd_redis_commands(args):
    pcap = Pcap.read(args.input)
    conns, decoded = connections(pcap, args.server_ports)
    lines = []
    for c in conns.values():
        stream, _ = client_stream(c, decoded, pcap.records)
        lines.extend(redis_commands(stream))
    for line in sorted(lines, key=lambda s: s.encode()):
        print(line)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-ports", default="80,6379",
                    help="ports that identify the server side when no SYN was captured")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def io(p, output=True):
        p.add_argument("input")
        if output:
            p.add_argument("output")
        return p

    io(sub.add_parser("info"), output=False).set_defaults(fn=cmd_info)
    p = io(sub.add_parser("midstream"))
    p.add_argument("--drop", type=int, default=4)
    p.set_defaults(fn=cmd_midstream)
    p = io(sub.add_parser("retransmit"))
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--delay", type=int, default=4)
    p.set_defaults(fn=cmd_retransmit)
    p = io(sub.add_parser("reorder"))
    p.add_argument("--every", type=int, default=2)
    p.set_defaults(fn=cmd_reorder)
    io(sub.add_parser("zero-checksums")).set_defaults(fn=cmd_zero_checksums)
    io(sub.add_parser("ipv6-dstopts")).set_defaults(fn=cmd_ipv6_dstopts)
    io(sub.add_parser("http-requests"), output=False).set_defaults(fn=cmd_http_requests)
    io(sub.add_parser("redis-commands"), output=False).set_defaults(fn=cmd_redis_commands)

    args = ap.parse_args(argv)
    try:
        args.server_ports = {int(p) for p in args.server_ports.split(",") if p}
        for name in ("every", "delay"):
            if getattr(args, name, 1) < 1:
                raise PcapError(f"--{name} must be at least 1")
        return args.fn(args)
    except PcapError as e:
        print(f"pcaptool: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"pcaptool: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
