#!/usr/bin/env python3
"""Compares what two MariaDB servers executed, from their general logs, per client connection.

  mysql_general_log.py ONLINE_LOG TARGET_LOG --clients PREFIX [--json OUT]

Connections are those whose Connect line names a client address starting with PREFIX (the
lab's replayed clients). For each, the sequence of commands it ran (Query, Prepare, Execute,
Close stmt, Reset stmt, Long Data, Fetch, Init DB, Change user, Quit) with their text. Every
online connection must have a target connection with the same sequence (matched as multisets:
thread ids and order between connections differ). Prints one line per finding and a summary;
exits 0 when every online sequence is found and no target login failed, 1 otherwise.
"""
import argparse
import json
import re
import sys
from collections import Counter

COMMANDS = ("Connect", "Query", "Prepare", "Execute", "Close stmt", "Reset stmt", "Long Data",
            "Fetch", "Init DB", "Change user", "Quit")
LINE = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\t\s*(\d+) (" +
                  "|".join(re.escape(c) for c in COMMANDS) + r")\t?(.*)$")
CONNECTED = re.compile(r"^(\S+)@(\S+) on (\S*) using (\S+)")
DENIED = re.compile(r"Access denied for user '([^']*)'@'([^']*)'")


def read(path, prefix):
    """Returns ({thread: [(command, text)...]} for client threads, denied logins from clients)."""
    threads, keep, denied, last = {}, set(), 0, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = LINE.match(line)
            if not m:
                # A multi-line statement continues its command's text.
                if last is not None and last in keep and threads[last]:
                    cmd, text = threads[last][-1]
                    threads[last][-1] = (cmd, text + "\n" + line)
                continue
            tid, cmd, arg = int(m.group(1)), m.group(2), m.group(3)
            last = tid
            if cmd == "Connect":
                d = DENIED.search(arg)
                if d:
                    if d.group(2).startswith(prefix):
                        denied += 1
                    continue
                c = CONNECTED.match(arg)
                if c and c.group(2).startswith(prefix):
                    keep.add(tid)
                    threads[tid] = [("Connect", f"{c.group(1)} on {c.group(3)}")]
                else:
                    keep.discard(tid)
                continue
            if tid in keep:
                threads[tid].append((cmd, arg.strip()))
    return threads, denied


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("online")
    ap.add_argument("target")
    ap.add_argument("--clients", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()
    online, online_denied = read(a.online, a.clients)
    target, target_denied = read(a.target, a.clients)
    want = Counter(tuple(v) for v in online.values())
    have = Counter(tuple(v) for v in target.values())
    missing = want - have
    count = lambda seqs, cmd: sum(n * sum(1 for c, _ in s if c == cmd) for s, n in seqs.items())
    summary = {
        "online_connections": len(online), "target_connections": len(target),
        "online_denied": online_denied, "target_denied": target_denied,
        "sequences_missing": sum(missing.values()),
        "online_queries": count(want, "Query"), "target_queries": count(have, "Query"),
        "online_executes": count(want, "Execute"), "target_executes": count(have, "Execute"),
        "online_prepares": count(want, "Prepare"), "target_prepares": count(have, "Prepare"),
    }
    for seq, n in list(missing.items())[:3]:
        closest = max(have, key=lambda s: sum(1 for x, y in zip(s, seq) if x == y), default=())
        at = next((i for i, (x, y) in enumerate(zip(seq, closest)) if x != y), min(len(seq), len(closest)))
        print(f"missing x{n}: a {len(seq)}-command session ({seq[0][1]}); the closest target session "
              f"differs at command {at}: online {seq[at] if at < len(seq) else 'end'} target "
              f"{closest[at] if at < len(closest) else 'end'}")
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f)
    return 0 if not missing and target_denied == 0 and online else 1


if __name__ == "__main__":
    sys.exit(main())
