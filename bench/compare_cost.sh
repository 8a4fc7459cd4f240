#!/usr/bin/env bash
# What the regression diff costs over a whole replay: one capture replayed in the lab at its own
# pace against nginx (every answer "ok", as the online server's), through intercept --payload
# 4096, alternately without comparison (--response-payload 4096 only) and with --compare-report,
# ROUNDS times each. Prints tcpcopy's CPU seconds (rusage.py), the requests the target logged and
# the responses compared and found different, one line per run, then the medians and their ratio. A benchmark, not a
# test: it asserts nothing about time.
# Usage: sudo bash bench/compare_cost.sh BUILD_DIR CAPTURE.pcap [ROUNDS]   (a quiet machine)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:?usage: compare_cost.sh BUILD_DIR CAPTURE.pcap [ROUNDS]}")
capture=$(realpath "${2:?usage: compare_cost.sh BUILD_DIR CAPTURE.pcap [ROUNDS]}")
rounds=${3:-3}
# shellcheck source=rate_lib.sh
source "$here/rate_lib.sh"
tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)

lab_init cmpcost
lab_up
rate_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0 \
  --payload 4096
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# run NAME ARGS... : one replay under rusage.py; prints "NAME cpu_s requests compared differ".
run() {
  local name=$1
  shift
  : >"$RATE_NGINX_LOG"
  lab_bg "tcpcopy-$name" "$LAB_NS_TC" python3 "$here/rusage.py" "$LAB_DIR/$name.rusage.json" -- \
    "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" --stats-interval 0 \
    -i "$capture" --response-payload 4096 --report "$LAB_DIR/$name.json" "$@"
  lab_wait_exit "$LAB_LAST_PID" 600 || lab_die "tcpcopy $name did not finish"
  python3 - "$LAB_DIR/$name.rusage.json" "$LAB_DIR/$name.json" "$RATE_NGINX_LOG" "$name" <<'PY'
import json, sys
ru, rep = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
requests = sum(1 for _ in open(sys.argv[3]))
resp = rep.get("responses") if isinstance(rep.get("responses"), dict) else {}
print(f"{sys.argv[4]} {ru['user_s'] + ru['sys_s']:.2f} {requests} {resp.get('compared', 0)} {resp.get('mismatched', 0)}")
PY
}

echo "load before: $(rate_load)"
for ((i = 1; i <= rounds; i++)); do
  run "plain-$i"
  run "compare-$i" --compare-report "$LAB_DIR/compare-$i.cmp.json"
done | tee "$LAB_DIR/runs.txt"
echo "load after: $(rate_load)"
python3 - "$LAB_DIR/runs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cpu = lambda kind: statistics.median(float(r[1]) for r in rows if r[0].startswith(kind))
plain, compare = cpu("plain"), cpu("compare")
compared = statistics.median(int(r[3]) for r in rows if r[0].startswith("compare"))
print(f"median tcpcopy CPU: {plain:.2f} s plain, {compare:.2f} s with --compare-report "
      f"(ratio {compare / plain:.2f}); {compared} responses compared: "
      f"{(compare - plain) / compared * 1e6:.1f} us each over the whole replay")
PY
