#!/usr/bin/env python3
"""The production-rate benchmark's table (Markdown), from the result directories bench/rate.sh
writes. Every figure sits beside its baseline from the same invocation (the capture for the
offline replay, the service without tcpcopy for the live one, the original TCPCopy's figures
when it was run, the 1k-session case for the engine) and the ratio figure / baseline; the load
average (1, 5, 15 min) is the one read when the run started -> when it ended.

Usage: rate_report.py RESULTS_DIR      the whole table
       rate_report.py --run RUN_DIR    one run's rows (printed after each run)"""
import glob
import json
import os
import sys

# Target counters that explain lost connections, in this order; any other TcpExt counter with
# "TW", "Listen", "ReqQ", "Syn" or "PAWS" in its name that moved is added after them.
TARGET_COUNTERS = ["TcpPassiveOpens", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies", "TcpExtListenOverflows",
                   "TcpExtListenDrops", "TcpExtTCPSynRetrans", "TcpExtSyncookiesSent", "TcpExtSyncookiesFailed",
                   "TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled", "TcpExtTCPTimeWaitOverflow",
                   "TcpExtPAWSEstab", "TcpExtTCPAbortOnData", "TcpEstabResets", "TcpOutRsts", "TcpAttemptFails",
                   "TcpRetransSegs", "TcpInSegs", "TcpInErrs"]
TARGET_PATTERNS = ("TW", "Listen", "ReqQ", "Syn", "PAWS")


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def num(x, unit=""):
    if x is None:
        return "n/a"
    if unit == "ns" and abs(x) >= 1000:
        return num(x / 1000, "us")
    sp = " " if unit else ""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f} M{unit}"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f} k{unit}"
    if abs(x) >= 100:
        return f"{x:.0f}{sp}{unit}"
    return f"{x:.3g}{sp}{unit}"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, figure, value, baseline="", ratio=None, load=""):
        self.rows.append((figure, value, baseline, "" if ratio is None else f"{ratio:.2f}", load))

    def add_num(self, figure, value, unit, base_name=None, base=None, load="", text=None):
        ratio = value / base if value is not None and base else None
        baseline = f"{base_name}: {num(base, unit)}" if base_name and base is not None else ""
        self.add(figure, text if text is not None else num(value, unit), baseline, ratio, load)

    def print(self):
        print("| figure | value | baseline (same invocation) | ratio | load avg (1/5/15 min) |")
        print("| --- | --- | --- | --- | --- |")
        for r in self.rows:
            print("| " + " | ".join(str(c) for c in r) + " |")


class Run:
    """One offline or live run directory."""

    def __init__(self, path):
        self.path = path
        self.meta = load(os.path.join(path, "meta.json")) or {}
        self.deliver = load(os.path.join(path, "deliver.json"))
        self.report = load(os.path.join(path, "tcpcopy-report.json"))
        self.tc = load(os.path.join(path, "tcpcopy-rusage.json"))
        self.ic = load(os.path.join(path, "intercept-rusage.json"))
        self.target = load(os.path.join(path, "target-net.json")) or {}
        self.client = load(os.path.join(path, "client-net.json")) or {}
        self.wrk_alone = load(os.path.join(path, "wrk-alone.json"))
        self.wrk_alone_after = load(os.path.join(path, "wrk-alone-after.json"))
        self.wrk_copy = load(os.path.join(path, "wrk-copy.json"))

    @property
    def load(self):
        m = self.meta
        return f"{m.get('load_before', '?')} -> {m.get('load_after', '?')}"

    def cpu(self, ru):
        return ru["user_s"] + ru["sys_s"] if ru else None

    def total_cpu(self):
        a, b = self.cpu(self.tc), self.cpu(self.ic)
        return a + b if a is not None and b is not None else None

    def rss(self, ru):
        return ru["maxrss_kib"] / 1024 if ru else None

    def figures(self):
        """The figures compared with the original TCPCopy's."""
        return {
            "delivered": self.deliver["fraction"] if self.deliver else None,
            "wall": self.tc["wall_s"] if self.tc else None,
            "tc_cpu": self.cpu(self.tc),
            "ic_cpu": self.cpu(self.ic),
            "cpu": self.total_cpu(),
            "tc_rss": self.rss(self.tc),
            "ic_rss": self.rss(self.ic),
            "service_rps": self.wrk_copy["requests_per_s"] if self.wrk_copy else None,
        }


def mean_figures(runs):
    """Mean of each figure over runs (the original's baseline when it ran several times)."""
    out = {}
    for r in runs:
        for k, v in r.figures().items():
            if v is not None:
                out.setdefault(k, []).append(v)
    return {k: sum(v) / len(v) for k, v in out.items()}


def counters_text(report):
    if not report:
        return None
    s = report["sessions"]
    return (f"started {s['started']}, completed {s['completed']}, reset by target {s['reset_by_target']}, "
            f"timed out {s['timed_out']}, failed {s['failed']} (no SYN-ACK {s['no_syn_ack']}), shed {s['shed']}, "
            f"aborted {s['aborted']}, port reuses {s['port_reuses']}, port remaps {s['port_remaps']}; "
            f"retransmissions {report['retransmissions']}, gate timeouts {report['gate_timeouts']}, "
            f"resets sent {report['resets_sent']}, responses {report['responses_seen']}, "
            f"inject errors {report['inject_errors']}"
            + (f"; path RTT {report['path_rtt']['smoothed_us'] / 1000:.1f} ms "
               f"(+- {report['path_rtt']['variation_us'] / 1000:.1f})" if "path_rtt" in report else ""))


def target_text(counters):
    keys = [k for k in TARGET_COUNTERS if k in counters]
    keys += sorted(k for k in counters if k.startswith("TcpExt") and k not in keys and
                   any(p in k for p in TARGET_PATTERNS))
    return ", ".join(f"{k} {counters[k]}" for k in keys) or "no counter moved"


def intercept_row(t, label, st, load):
    """intercept's own counters at shutdown (ours only): of the target's packets it captured, how
    many reached tcpcopy's tunnel, and why the others did not."""
    if not st or not st.get("captured"):
        return
    passed = st["forwarded"] - st["queue-dropped"]
    t.add(f"{label}: intercept: target packets passed to tcpcopy / captured", f"{passed} / {st['captured']}",
          f"lost: tunnel queue full (tcpcopy not reading fast enough) {st['queue-dropped']}, no route {st['unrouted']} "
          f"(held, then dropped {st['held-dropped']}); kernel drops {st['kernel-dropped']}",
          passed / st["captured"], load)


def delivered_text(d):
    return (f"{d['fraction']:.4f} ({d['delivered']} of {d['captured']}; {d['duplicates']} duplicates, "
            f"{d['unknown']} unknown)")


def cost_and_counter_rows(t, run, label, o, load):
    """CPU and memory of both daemons (beside the original's when it ran), tcpcopy's counters,
    the target's TCP counters, intercept's losses."""
    m, tc = run.meta, run.tc
    for key, name, unit, value in (
            ("tc_cpu", "tcpcopy CPU s (user+sys)", "s", run.cpu(tc)),
            ("ic_cpu", "intercept CPU s (user+sys)", "s", run.cpu(run.ic)),
            ("cpu", "tcpcopy + intercept CPU s", "s", run.total_cpu()),
            ("tc_rss", "tcpcopy peak RSS", "MiB", run.rss(tc)),
            ("ic_rss", "intercept peak RSS", "MiB", run.rss(run.ic))):
        if value is None:
            continue
        text = f"{value:.1f} s (user {tc['user_s']:.1f}, sys {tc['sys_s']:.1f})" if key == "tc_cpu" else None
        t.add_num(f"{label}: {name}", value, unit, "original" if key in o else None, o.get(key), load, text)
    if run.report:
        t.add(f"{label}: tcpcopy counters", counters_text(run.report), f"exit {m.get('tcpcopy_rc')}", None, load)
    t.add(f"{label}: target TCP counters (delta)", target_text(run.target),
          f"nginx worker_connections {m.get('nginx_worker_connections')}, "
          f"'not enough' alerts {m.get('nginx_worker_alerts')}", None, load)
    intercept_row(t, label, m.get("intercept"), load)


def offline_rows(t, run, label, capinfo, original):
    m, d, tc, rep = run.meta, run.deliver, run.tc, run.report
    load = run.load
    o = original or {}
    oname = "original" if original else None
    dur = capinfo["duration_s"] if capinfo else None
    if d:
        t.add(f"{label}: requests delivered / captured", delivered_text(d), f"original: {o['delivered']:.4f}"
              if "delivered" in o else "", d["fraction"] / o["delivered"] if o.get("delivered") else None, load)
    if tc:
        timed = " (timed out, stopped)" if m.get("timed_out") else ""
        t.add_num(f"{label}: replay wall time{timed}", tc["wall_s"], "s", "capture duration", dur, load)
        if "wall" in o:
            t.add_num(f"{label}: replay wall time vs the original", tc["wall_s"], "s", oname, o["wall"], load)
    if rep and tc and capinfo:
        t.add_num(f"{label}: sessions started/s", rep["sessions"]["started"] / tc["wall_s"], "/s",
                  "capture connections/s", capinfo["connections_per_s"], load)
        t.add_num(f"{label}: packets injected/s", rep["injected_packets"] / tc["wall_s"], "pkt/s",
                  "capture client pkt/s", capinfo["client_packets"] / dur if dur else None, load)
    cost_and_counter_rows(t, run, label, o, load)


def live_rows(t, run, label, original):
    m, d, rep = run.meta, run.deliver, run.report
    load = f"{m.get('load_alone', '?')} (alone); {run.load}; {m.get('load_alone_after', '?')} (alone again)"
    o = original or {}
    alone = [w["requests_per_s"] for w in (run.wrk_alone, run.wrk_alone_after) if w]
    copy = run.wrk_copy
    if alone and copy:
        base = sum(alone) / len(alone)
        t.add(f"{label}: online service requests/s with tcpcopy beside it", num(copy["requests_per_s"], "/s"),
              "without tcpcopy, before / after: " + " / ".join(num(a, "/s") for a in alone) +
              f" (mean {num(base, '/s')})", copy["requests_per_s"] / base, load)
        if "service_rps" in o:
            t.add_num(f"{label}: online service requests/s vs beside the original", copy["requests_per_s"], "/s",
                      "beside the original", o["service_rps"], load)
    if d:
        t.add(f"{label}: requests delivered / online", delivered_text(d),
              f"original: {o['delivered']:.4f}" if "delivered" in o else "",
              d["fraction"] / o["delivered"] if o.get("delivered") else None, load)
    t.add(f"{label}: target kept receiving after the clients stopped", f"{m.get('lag_s')} s", "", None, load)
    secs = copy["seconds"] if copy else None
    client_sent = run.client.get("TcpOutSegs")
    if rep:
        cap = rep.get("capture", {})
        dropped = cap.get("kernel_dropped", 0) + cap.get("interface_dropped", 0)
        # libpcap's "received" counts what the filter accepted, drops included; the raw socket's
        # counts what tcpcopy read (every incoming TCP packet of the host, tunnel included).
        read = cap.get("received", 0) - (dropped if m.get("backend") == "pcap" else 0)
        t.add(f"{label}: capture drops (kernel + interface) as tcpcopy reports them; packets read",
              f"{cap.get('kernel_dropped')} + {cap.get('interface_dropped')}; read {read}",
              f"client sent {client_sent} (client TcpOutSegs)", read / client_sent if client_sent else None, load)
        if secs:
            t.add_num(f"{label}: sessions started/s", rep["sessions"]["started"] / secs, "/s",
                      "online connections/s", copy["requests_per_s"], load)
            t.add_num(f"{label}: packets injected/s", rep["injected_packets"] / secs, "pkt/s",
                      "client pkt/s", client_sent / secs if client_sent else None, load)
    cost_and_counter_rows(t, run, label, o, load)


def run_label(run):
    m = run.meta
    if m.get("mode") == "live":
        return f"live {m.get('backend')} ({m.get('flavour')})"
    return f"offline -a {m.get('accelerate'):g} ({m.get('flavour')})"


def engine_rows(t, doc, load):
    cases = {}
    for b in doc.get("benchmarks", []):
        if not b["name"].startswith("engineScale/"):
            continue
        if "error_message" in b:
            t.add(b["name"], "ERROR: " + b["error_message"], "", None, load)
            continue
        ns_packet = 1e9 / b["items_per_second"]
        cases[int(b["open_sessions"])] = (ns_packet, ns_packet * b["frames_per_iteration"] / b["sessions_per_iteration"])
    if not cases:
        return
    small = min(cases)
    for n in sorted(cases):
        for i, what in enumerate(("captured packet", "short session")):
            t.add_num(f"engine, {n:,} sessions held open: CPU ns per {what} of the stream", cases[n][i], "ns",
                      f"{small:,} open", cases[small][i], load)


def search_rows(t, doc):
    if not doc:
        return
    probes = ", ".join(f"-a {p['accelerate']:g}: {p['fraction']:.4f}" for p in doc["probes"])
    best = doc.get("best")
    loads = [p["load"] for p in doc["probes"] if p.get("load")]
    value = "none found" if best is None else f"{best:g}"
    if best is not None and doc.get("lowest_failing") is None:
        value += " (no failure up to the search's limit, 64)"
    t.add("offline: highest -a with 100% delivered (search)", value,
          probes, None, f"{loads[0]} -> {loads[-1]}" if loads else "")


def main(argv):
    if len(argv) == 3 and argv[1] == "--run":
        run = Run(argv[2])
        t = Table()
        if run.meta.get("mode") == "live":
            live_rows(t, run, run_label(run), None)
        else:
            offline_rows(t, run, run_label(run), run.meta.get("capinfo"), None)
        t.print()
        return
    if len(argv) != 2:
        raise SystemExit(__doc__)
    results = argv[1]
    t = Table()
    capinfo = load(os.path.join(results, "capture.json"))
    if capinfo:
        t.add("capture: connections / packets / duration",
              f"{capinfo['connections']} / {capinfo['packets']} / {capinfo['duration_s']:.2f} s",
              f"wrk -t {capinfo['wrk_args']['threads']} -c {capinfo['wrk_args']['connections']} "
              f"-d {capinfo['wrk_args']['seconds']}s: {num(capinfo['wrk']['requests_per_s'], '/s')}", None,
              f"{capinfo['load_before']} -> {capinfo['load_after']}")
        t.add("capture: connections/s; connections on a client port used before",
              f"{capinfo['connections_per_s']:.0f}/s; {capinfo['connections_on_reused_port']} "
              f"({capinfo['ports_reused']} of {capinfo['client_ports']} ports, up to "
              f"{capinfo['max_uses_of_one_port']} uses)",
              f"tcpdump dropped {capinfo['tcpdump_kernel_dropped']} + {capinfo['tcpdump_interface_dropped']}; "
              f"{capinfo['requests_unique']} unique requests, online nginx logged {capinfo['online_logged']}",
              None, "")
    runs = [Run(p) for p in sorted(glob.glob(os.path.join(results, "offline-*")))]
    originals = mean_figures([r for r in runs if r.meta.get("flavour") == "original"]) or None
    for r in runs:
        n = os.path.basename(r.path).rsplit("-", 1)[-1]
        offline_rows(t, r, f"{run_label(r)} #{n}", capinfo, originals if r.meta.get("flavour") == "ours" else None)
    search_rows(t, load(os.path.join(results, "search.json")))
    live = [Run(p) for p in sorted(glob.glob(os.path.join(results, "live-*")))]
    for r in live:
        orig = [x for x in live if x.meta.get("flavour") == "original" and
                x.meta.get("backend") == r.meta.get("backend")]
        o = mean_figures(orig) if r.meta.get("flavour") == "ours" and orig else None
        live_rows(t, r, run_label(r), o)
    engine = load(os.path.join(results, "engine-scale.json"))
    if engine:
        engine_rows(t, engine, open(os.path.join(results, "engine-scale.load")).read().strip()
                    if os.path.exists(os.path.join(results, "engine-scale.load")) else "")
    t.print()


if __name__ == "__main__":
    main(sys.argv)
