#!/usr/bin/env python3
"""Prints bench/run.sh's table (Markdown) from the result files in RESULTS_DIR.
Every figure sits beside the baseline measured in the same invocation; ratio = figure / baseline."""
import glob
import json
import os
import sys

results = sys.argv[1]


def load(name):
    path = os.path.join(results, name)
    return json.load(open(path)) if os.path.exists(path) else None


def shell_vars(name):
    path = os.path.join(results, name)
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.strip().split("=", 1)
                out[k] = v
    return out


def bench_rate(doc, name):
    for b in doc["benchmarks"]:
        if b["name"] == name:
            if "error_message" in b:
                raise SystemExit(f"{name}: {b['error_message']}")
            return b
    raise SystemExit(f"{name}: missing from the benchmark output")


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f} M{unit}"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f} k{unit}"
    if abs(x) >= 100:
        return f"{x:.0f}{(' ' + unit) if unit else ''}"
    return f"{x:.3g}{(' ' + unit) if unit else ''}"


rows = []


def row(figure, value, baseline_name, baseline, target, unit="", ratio=None):
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    rows.append((figure, fmt(value, unit), f"{baseline_name}: {fmt(baseline, unit)}" if baseline_name else "",
                 f"{ratio:.2f}" if ratio is not None else "", target))


engine = load("engine.json")
if engine:
    for shape in ("http_short", "http_keepalive", "redis_pipeline"):
        e = bench_rate(engine, f"engine/{shape}")
        d = bench_rate(engine, f"decodeOnly/{shape}")
        row(f"engine {shape.replace('_', '-')} (captured pkt/s, 1 core; {int(e['sessions'])} sessions, "
            f"{int(e['frames'])} pkts)", e["items_per_second"], "decode loop", d["items_per_second"], ">= 2 M/s",
            "pkt/s")

intercept = load("intercept.json")
if intercept:
    f = bench_rate(intercept, "forward/-1")
    d = bench_rate(intercept, "decodeOnly")
    p0 = bench_rate(intercept, "forward/0")
    p512 = bench_rate(intercept, "forward/512")
    row("intercept: response headers forwarded/s (decode+route+batch, 1 core)", f["items_per_second"],
        "decode loop", d["items_per_second"], ">= 1 M/s", "hdr/s")
    row("intercept --payload 0: responses forwarded/s (headers only, as a peer not asking)",
        p0["items_per_second"], "the path before --payload", f["items_per_second"], "~1.0", "hdr/s")
    row("intercept --payload 512: responses forwarded/s to a peer granted 512 B", p512["items_per_second"],
        "the path before --payload", f["items_per_second"], "", "resp/s")
    rows.append(("intercept: tunnel bytes per response", f"{f['tunnel_bytes_per_response']:.1f} B",
                 "", "", ""))
    rows.append(("intercept --payload 512: tunnel bytes per response",
                 f"{p512['tunnel_bytes_per_response']:.1f} B", "", "", ""))

for path in sorted(glob.glob(os.path.join(results, "memory-*.json")), key=lambda p: int(p.split("-")[-1][:-5])):
    m = json.load(open(path))
    n = m["sessions"]
    row(f"memory: heap bytes per SYN-sent session at {n:,} open (mallinfo2)", m["synsent_heap_bytes_per_session"],
        "target", 512, "<= 512 B", "B")
    row(f"memory: RSS bytes per SYN-sent session at {n:,} open (VmRSS)", m["synsent_rss_bytes_per_session"],
        "target", 512, "<= 512 B", "B")
    row(f"memory: heap bytes per established idle session at {n:,}", m["established_heap_bytes_per_session"],
        "target", 512, "<= 512 B", "B")

tcpreplay = load("tcpreplay.json")
base_pps = tcpreplay["pps"] if tcpreplay else None
for mode in ("libnet", "libnet-batch", "raw", "raw-batch"):
    inj = load(f"inject-{mode}.json")
    if inj:
        label = {"libnet": "LibnetInjector::send", "libnet-batch": "LibnetInjector::sendBatch (sendmmsg, the default)",
                 "raw": "RawSocketInjector::send", "raw-batch": "RawSocketInjector::sendBatch (sendmmsg)"}[mode]
        row(f"injection ceiling, {label} (pkt/s, 100 B payload)", inj["pps"], "tcpreplay --topspeed", base_pps, "",
            "pkt/s")

report = load("tcpcopy-report.json")
ru = load("tcpcopy-rusage.json")
meta = shell_vars("capture.meta")
rep = shell_vars("replay.sh")
if report and ru:
    secs = report["seconds"]
    injected = report["injected_packets"]
    pps = injected / secs if secs else None
    row(f"offline replay (-a {rep.get('accelerate', '1000000')}): packets injected/s (capture: "
        f"{meta.get('connections')} connections, {meta.get('packets')} packets)", pps, "tcpreplay --topspeed", base_pps, ">= 0.50 of baseline", "pkt/s")
    rows.append(("offline replay: wall time (replay / whole process)",
                 f"{secs:.1f} s / {ru['wall_s']:.1f} s",
                 f"tcpreplay: {tcpreplay['seconds']:.1f} s" if tcpreplay else "", "", ""))
    started = report["sessions"]["started"]
    row("offline replay: sessions started/s", started / secs if secs else None, "", None, "", "sess/s")
    cpu = ru["user_s"] + ru["sys_s"]
    rows.append(("offline replay: tcpcopy CPU s per million packets injected (user+sys)",
                 f"{cpu / injected * 1e6:.2f} s" if injected else "n/a",
                 f"user {ru['user_s']:.1f} s, sys {ru['sys_s']:.1f} s", "", ""))
    rows.append(("offline replay: tcpcopy peak RSS (VmHWM)", f"{ru['maxrss_kib'] / 1024:.1f} MiB", "", "", ""))
    want_http = int(meta.get("http_requests", 0))
    want_redis = int(meta.get("redis_commands", 0))
    got_http = int(rep.get("http_received", 0))
    got_redis = int(rep.get("redis_received", 0))
    want = want_http + want_redis
    rows.append(("offline replay: requests the target received / captured",
                 f"{(got_http + got_redis) / want:.4f}" if want else "n/a",
                 f"nginx {got_http}/{want_http}, redis {got_redis}/{want_redis}", "", "1.0000"))
    s = report["sessions"]
    rows.append(("offline replay: sessions completed / ended by replay / failed / reset by target",
                 f"{s['completed']} / {s['ended_by_replay']} / {s['failed']} / {s['reset_by_target']}",
                 f"retransmissions {report['retransmissions']}, exit {rep.get('tcpcopy_rc')}", "", ""))

print("| figure | value | baseline (same run) | ratio | target |")
print("| --- | --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(r) + " |")
