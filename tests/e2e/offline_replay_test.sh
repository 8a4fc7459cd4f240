#!/usr/bin/env bash
# Offline replay end to end: the fixture captures replayed by the real tcpcopy, through the real
# intercept, against real nginx and redis-server in the namespace lab. For every case the
# requests the target logged must equal the capture's golden request multiset.
# Usage: offline_replay_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)

lab_init offline
lab_up
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379

lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "tcp and (src port 80 or src port 6379)" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" \
  --allow "$LAB_TUNNEL_ALLOW"
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

e2e_begin offline_replay_test

# replay NAME ARGS... : run_tcpcopy (lib/checks.sh), then its summary.
replay() {
  run_tcpcopy "$@"
  tcpcopy_summary "$1"
}

# http_case NAME PCAP GOLDEN_MULTIPLIER TCPCOPY_ARGS... : replay against nginx, compare.
http_case() {
  local name=$1 pcap=$2 times=$3
  shift 3
  : >"$nginx_log"
  replay "$name" -x "80-$LAB_TARGET_IP:80" -i "$fixtures/$pcap" "$@"
  local golden="$LAB_DIR/$name.golden"
  for ((k = 0; k < times; k++)); do cat "$fixtures/${pcap%.pcap}.requests.txt"; done | LC_ALL=C sort >"$golden"
  lab_nginx_settle "$nginx_log"
  lab_requests_nginx "$nginx_log" >"$LAB_DIR/$name.got"
  if ((tc_rc != 0)); then
    fail "$name: tcpcopy exited $tc_rc"
  elif diff -u "$golden" "$LAB_DIR/$name.got" >"$LAB_DIR/$name.diff"; then
    ok "$name: $(wc -l <"$golden") requests, exactly as captured"
  else
    fail "$name: the target's requests differ from the capture's"
    head -40 "$LAB_DIR/$name.diff" >&2
  fi
}

redis_case() {
  local name=$1 pcap=$2
  shift 2
  lab_redis_monitor_start "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379 "$LAB_DIR/$name.monitor"
  replay "$name" -x "6379-$LAB_TARGET_IP:6379" -i "$fixtures/$pcap" "$@"
  lab_redis_monitor_stop
  lab_requests_redis "$LAB_DIR/$name.monitor" >"$LAB_DIR/$name.got"
  if ((tc_rc != 0)); then
    fail "$name: tcpcopy exited $tc_rc"
  elif diff -u "$fixtures/${pcap%.pcap}.requests.txt" "$LAB_DIR/$name.got" >"$LAB_DIR/$name.diff"; then
    ok "$name: $(wc -l <"$LAB_DIR/$name.got") commands, exactly as captured"
  else
    fail "$name: the target's commands differ from the capture's"
    head -40 "$LAB_DIR/$name.diff" >&2
  fi
}

http_case short-1x http_short.pcap 1
http_case short-a1000 http_short.pcap 1 -a 1000
http_case keepalive-1x http_keepalive.pcap 1
http_case keepalive-a1000 http_keepalive.pcap 1 -a 1000
http_case post-large-gso http_post_large.pcap 1 -a 1000
http_case midstream http_midstream.pcap 1 -a 1000
http_case retrans-reorder http_retrans_reorder.pcap 1 -a 1000
http_case keepalive-n3 http_keepalive.pcap 3 -a 1000 -n 3
http_case short-n3 http_short.pcap 3 -a 1000 -n 3
http_case keepalive-T2 http_keepalive.pcap 2 -a 1000 -T 2
redis_case redis-1x redis_pipeline.pcap
redis_case redis-a1000 redis_pipeline.pcap -a 1000

# --max-active: a burst (all 20 connections at -a 1000) waits for free slots; nothing is lost.
http_case max-active http_short.pcap 1 -a 1000 --max-active 2
deferred=$(report_value max-active sessions.deferred)
if ((deferred > 0)); then
  ok "max-active: $deferred connections waited for a slot"
else
  fail "max-active: no connection waited for a slot (deferred=$deferred)"
fi

# -I: idle gaps in the capture (2.7 s of curl runs) are cut to 5 ms; nothing else changes. What
# was cut is a fact of the capture, not of this machine's speed: the report's
# idle_skipped_seconds must be the sum over the capture's gaps of (gap - 5 ms), as computed
# here from the file itself.
http_case idle-skip http_short.pcap 1 -I 5
skipped=$(report_value idle-skip idle_skipped_seconds)
expected=$(python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
import pcaptool
p = pcaptool.Pcap.read(sys.argv[1])
frac = 1e9 if p.magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
ts = [r.ts_sec + r.ts_frac / frac for r in p.records]
print(sum(max(0.0, b - a - 0.005) for a, b in zip(ts, ts[1:])))' "$fixtures/http_short.pcap" "$here/../tools")
if python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if b > 2.0 and abs(a - b) < 1e-4 else 1)' "$skipped" "$expected"; then
  ok "idle-skip: ${skipped} s of the capture's idle gaps cut (the capture says ${expected} s)"
else
  fail "idle-skip: -I 5 cut ${skipped} s of idle time, the capture's gaps above 5 ms add up to ${expected} s"
fi

# -r 50: about half of the sessions, and the same ones on every run.
for run in 1 2; do
  : >"$nginx_log"
  replay "sample$run" -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" -a 1000 -r 50
  lab_nginx_settle "$nginx_log"
  lab_requests_nginx "$nginx_log" >"$LAB_DIR/sample$run.got"
done
n=$(wc -l <"$LAB_DIR/sample1.got")
if ! cmp -s "$LAB_DIR/sample1.got" "$LAB_DIR/sample2.got"; then
  fail "sample: two -r 50 runs replayed different sessions"
elif ((n < 4 || n > 16)); then
  fail "sample: -r 50 replayed $n of 20 requests"
elif ! comm -13 "$fixtures/http_short.requests.txt" "$LAB_DIR/sample1.got" | grep -q . ; then
  ok "sample: -r 50 replayed $n of 20 requests, the same ones twice"
else
  fail "sample: -r 50 replayed requests that are not in the capture"
fi

# -c: every request reaches the target, and only from pool addresses.
: >"$LAB_NGINX_PEERS_LOG"
http_case pool http_short.pcap 1 -a 1000 -c 203.0.113.0/30,198.51.100.7
peers=$(awk '{print $1}' "$LAB_NGINX_PEERS_LOG" | LC_ALL=C sort -u | tr '\n' ' ')
if [[ $peers =~ ^((203\.0\.113\.[12]|198\.51\.100\.7)\ )+$ ]]; then
  ok "pool: the target saw only pool addresses: $peers"
else
  fail "pool: the target saw addresses outside the pool: $peers"
fi

# Nothing to replay: a capture with no traffic for the -x port is an error, with the reason.
replay noport -x "8080-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" -a 1000
if ((tc_rc != 0)) && grep -q "matched -x" "$LAB_DIR/tcpcopy-noport.log"; then
  ok "noport: exit $tc_rc with the reason"
else
  fail "noport: expected a non-zero exit naming -x, got $tc_rc"
fi

lab_alive "$intercept_pid" || fail "intercept died during the test"
e2e_end
