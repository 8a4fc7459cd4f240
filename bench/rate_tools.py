#!/usr/bin/env python3
"""Helpers of the production-rate benchmark (bench/rate.sh and the scripts it runs).

  rate_tools.py capinfo PCAP URIS_OUT    what the capture holds, as JSON on stdout: packets,
                                         duration, connections (client SYNs, retransmitted SYNs
                                         counted once), client ports and how often they were
                                         reused, and the unique request URIs written to URIS_OUT
                                         (sorted, one per line: the golden list)
  rate_tools.py deliver GOLDEN LOG       the target's access log (lines "METHOD URI STATUS")
                                         against the golden URI list, as JSON: captured,
                                         delivered (golden URIs the target logged), missing,
                                         duplicates (lines beyond the first for a URI), unknown
                                         (URIs not in the golden list)
  rate_tools.py netstat FILE             /proc/net/netstat + /proc/net/snmp text -> JSON counters
                                         named as nstat names them (TcpExtListenDrops, TcpInSegs)
  rate_tools.py netdiff BEFORE AFTER     the counters that moved between two netstat JSON files
  rate_tools.py wrk OUTPUT               wrk's printed summary -> JSON (requests, seconds,
                                         requests_per_s, socket errors, non-2xx responses)
  rate_tools.py intercept-stats LOG      the counters of intercept's "shutting down: stats:" line
                                         as JSON ({} when there is none: the original's log)
  rate_tools.py meta OUT.json K=V...      writes a JSON object: V as a number when it is one,
                                         null when empty, the JSON in file F when it is @F
  rate_tools.py search OUT_DIR START FRACTION -- CMD...
                                         the highest tcpcopy -a at which every request is
                                         delivered: CMD RUN_DIR A replays once at -a A and writes
                                         RUN_DIR/deliver.json; START is the -a already measured
                                         with FRACTION delivered. From there it doubles (or
                                         halves) until the result flips, then bisects 3 times;
                                         writes OUT_DIR/../search.json
  rate_tools.py field JSON EXPR          a Python expression over a JSON file (d: its contents)
"""
import json
import mmap
import re
import struct
import sys
from collections import Counter


def pcap_records(path):
    """Yields (timestamp_s, link-layer bytes) of each record of a classic pcap file."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if len(data) < 24:
        raise SystemExit(f"{path}: too short for a pcap file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file (pcapng is not read here)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    rec = struct.Struct(endian + "IIII")
    off, n = 24, len(data)
    div = 1e9 if nano else 1e6
    while off + 16 <= n:
        sec, frac, caplen, _ = rec.unpack_from(data, off)
        off += 16
        if off + caplen > n:
            raise SystemExit(f"{path}: truncated record at byte {off - 16}")
        yield linktype, sec + frac / div, data[off:off + caplen]
        off += caplen


def ip_offset(linktype, frame):
    """Offset of the IPv4 header in a frame, or None."""
    if linktype == 1:  # Ethernet, VLAN tags skipped
        off, etype = 12, struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 6:
            off += 4
            etype = struct.unpack_from("!H", frame, off)[0]
        return off + 2 if etype == 0x0800 else None
    if linktype == 113:  # Linux SLL
        return 16 if len(frame) >= 16 and struct.unpack_from("!H", frame, 14)[0] == 0x0800 else None
    if linktype in (101, 228):  # raw IP / raw IPv4
        return 0
    raise SystemExit(f"link type {linktype} is not read here")


URI_RE = re.compile(rb"^[A-Z]+ (\S+) HTTP/")


def capinfo(path, uris_out):
    packets = 0
    first = last = None
    syns = set()  # (client ip, client port, isn): a retransmitted SYN counts once
    port_uses = Counter()
    uris = Counter()
    client_packets = 0
    for linktype, ts, frame in pcap_records(path):
        packets += 1
        first = ts if first is None else first
        last = ts
        ip = ip_offset(linktype, frame)
        if ip is None or len(frame) < ip + 20 or frame[ip + 9] != 6:
            continue
        ihl = (frame[ip] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, ip + 2)[0]
        tcp = ip + ihl
        if len(frame) < tcp + 20:
            continue
        sport, dport, seq = struct.unpack_from("!HHI", frame, tcp)
        flags = frame[tcp + 13]
        if dport != 80:
            continue
        client_packets += 1
        src = bytes(frame[ip + 12:ip + 16])
        if flags & 0x12 == 0x02:  # SYN without ACK
            key = (src, sport, seq)
            if key not in syns:
                syns.add(key)
                port_uses[(src, sport)] += 1
        payload = frame[tcp + (frame[tcp + 12] >> 4) * 4:ip + total]
        if payload:
            m = URI_RE.match(payload)
            if m:
                uris[m.group(1).decode("ascii", "replace")] += 1
    with open(uris_out, "w") as f:
        for u in sorted(uris):
            f.write(u + "\n")
    conns = len(syns)
    duration = (last - first) if packets else 0.0
    reused = conns - len(port_uses)
    return {
        "packets": packets,
        "client_packets": client_packets,
        "duration_s": round(duration, 6),
        "connections": conns,
        "connections_per_s": round(conns / duration, 1) if duration > 0 else 0,
        "client_ports": len(port_uses),
        "connections_on_reused_port": reused,
        "ports_reused": sum(1 for n in port_uses.values() if n > 1),
        "max_uses_of_one_port": max(port_uses.values(), default=0),
        "requests_unique": len(uris),
        "requests_repeated_in_capture": sum(uris.values()) - len(uris),
    }


def deliver(golden_path, log_path):
    golden = set(line.strip() for line in open(golden_path) if line.strip())
    seen = Counter()
    lines = 0
    for line in open(log_path, errors="replace"):
        parts = line.split()
        if len(parts) >= 2:
            seen[parts[1]] += 1
            lines += 1
    delivered = sum(1 for u in golden if u in seen)
    return {
        "captured": len(golden),
        "delivered": delivered,
        "missing": len(golden) - delivered,
        "fraction": round(delivered / len(golden), 6) if golden else 0.0,
        "target_lines": lines,
        "target_unique": len(seen),
        "duplicates": sum(n - 1 for n in seen.values()),
        "unknown": sum(1 for u in seen if u not in golden),
    }


def netstat(path):
    counters = {}
    lines = [line.split() for line in open(path) if ":" in line]
    for head, values in zip(lines, lines[1:]):
        if head[0] != values[0] or not head[0].endswith(":"):
            continue
        if not all(re.fullmatch(r"-?\d+", v) for v in values[1:]):
            continue
        proto = head[0][:-1]
        for name, value in zip(head[1:], values[1:]):
            counters[proto + name] = int(value)
    return counters


def netdiff(before_path, after_path):
    before, after = json.load(open(before_path)), json.load(open(after_path))
    gauges = {"TcpCurrEstab", "TcpMaxConn", "TcpRtoAlgorithm", "TcpRtoMin", "TcpRtoMax", "IpForwarding",
              "IpDefaultTTL"}
    out = {}
    for k, v in after.items():
        if k in gauges:
            continue
        d = v - before.get(k, 0)
        if d:
            out[k] = d
    return out


def wrk(path):
    text = open(path).read()
    out = {"requests": None, "seconds": None, "requests_per_s": None, "socket_errors": {}, "non_2xx": 0}
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["seconds"] = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["requests_per_s"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non_2xx"] = int(m.group(1))
    if out["requests"] is None or out["requests_per_s"] is None:
        raise SystemExit(f"{path}: no wrk summary in it")
    return out


def search(out_dir, start, fraction, cmd):
    import os
    import subprocess
    probes = [{"accelerate": start, "fraction": fraction}]

    import signal
    current = []

    def forward(signum, _frame):  # a stopped search stops its replay too (it cleans its lab up)
        for p in current:
            p.send_signal(signum)
            p.wait()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    def probe(a):
        run_dir = os.path.join(out_dir, f"a-{a:g}")
        p = subprocess.Popen(cmd + [run_dir, f"{a:g}"])
        current[:] = [p]
        if p.wait() != 0:
            raise SystemExit(f"search: {' '.join(cmd)} {run_dir} {a:g} failed")
        current.clear()
        f = json.load(open(os.path.join(run_dir, "deliver.json")))["fraction"]
        meta = json.load(open(os.path.join(run_dir, "meta.json")))
        probes.append({"accelerate": a, "fraction": f, "load": meta.get("load_before")})
        return f

    good, bad = (start, None) if fraction >= 1.0 else (None, start)
    if good is not None:
        a = start * 2
        while a <= 64 and bad is None:
            if probe(a) >= 1.0:
                good, a = a, a * 2
            else:
                bad = a
    else:
        a = start / 2
        while a >= 1 / 64 and good is None:
            if probe(a) >= 1.0:
                good = a
            else:
                bad, a = a, a / 2
    if good is not None and bad is not None:
        for _ in range(3):
            mid = round((good + bad) / 2, 4)
            if probe(mid) >= 1.0:
                good = mid
            else:
                bad = mid
    with open(os.path.join(os.path.dirname(os.path.abspath(out_dir)), "search.json"), "w") as f:
        json.dump({"best": good, "lowest_failing": bad, "probes": probes}, f, indent=1)


def intercept_stats(path):
    out = {}
    for line in open(path, errors="replace"):
        if "shutting down: stats:" in line:
            out = {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", line)}
    return out


def meta_value(v):
    if v == "":
        return None
    if v.startswith("@"):
        return json.load(open(v[1:]))
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "capinfo" and len(args) == 2:
        print(json.dumps(capinfo(*args)))
    elif cmd == "deliver" and len(args) == 2:
        print(json.dumps(deliver(*args)))
    elif cmd == "netstat" and len(args) == 1:
        print(json.dumps(netstat(args[0])))
    elif cmd == "netdiff" and len(args) == 2:
        print(json.dumps(netdiff(*args)))
    elif cmd == "wrk" and len(args) == 1:
        print(json.dumps(wrk(args[0])))
    elif cmd == "intercept-stats" and len(args) == 1:
        print(json.dumps(intercept_stats(args[0])))
    elif cmd == "meta" and args:
        pairs = [a.split("=", 1) for a in args[1:]]
        if any(len(p) != 2 for p in pairs):
            raise SystemExit("meta: arguments are K=V")
        json.dump({k: meta_value(v) for k, v in pairs}, open(args[0], "w"), indent=1)
    elif cmd == "search" and len(args) >= 5 and args[3] == "--":
        search(args[0], float(args[1]), float(args[2]), args[4:])
    elif cmd == "field" and len(args) == 2:
        d = json.load(open(args[0]))
        print(eval(args[1], {"d": d}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
