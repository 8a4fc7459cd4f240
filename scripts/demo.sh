#!/usr/bin/env bash
# The main job, end to end: replay a capture against a real nginx and show what it received.
#
#   sudo bash scripts/demo.sh [CAPTURE.pcap]     (default tests/fixtures/http_keepalive.pcap)
#
# Installs and builds (scripts/setup.sh), brings the namespace lab up (docs/lab.md), starts
# nginx in the target namespace, intercept in the assistant namespace and tcpcopy in the tc
# namespace, waits for tcpcopy to finish the capture, prints tcpcopy's output and compares the
# requests nginx logged with the capture's golden list. Exit 0 when they are identical.
# Everything is torn down on exit. Environment: BUILD_DIR (default build), DEMO_TIMEOUT
# (seconds tcpcopy may run, default 120).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
pcap=$(realpath "${1:-tests/fixtures/http_keepalive.pcap}")
golden=${pcap%.pcap}.requests.txt
timeout=${DEMO_TIMEOUT:-120}

((EUID == 0)) || { echo "demo: run as root: sudo bash scripts/demo.sh" >&2; exit 1; }
[[ -f $pcap ]] || { echo "demo: no capture $pcap" >&2; exit 1; }
[[ -f $golden ]] || { echo "demo: no golden request list $golden" >&2; exit 1; }

bash scripts/setup.sh

tcpcopy_bin=$(realpath -m "$build_dir/tcpcopy/tcpcopy")
intercept_bin=$(realpath -m "$build_dir/intercept/intercept")
for bin in "$tcpcopy_bin" "$intercept_bin"; do
  if [[ ! -x $bin ]]; then
    echo "demo: $bin was not built: the daemon's sources are not in this tree yet" >&2
    exit 1
  fi
done

# shellcheck source=../tests/e2e/lib/lab.sh
source "$repo/tests/e2e/lib/lab.sh"
lab_init demo
lab_up

echo "== target: nginx on $LAB_TARGET_IP:80"
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80

echo "== assistant: intercept on $LAB_IF_ASSIST_TARGET, tunnel port $LAB_TUNNEL_PORT"
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "tcp and src port 80" -p "$LAB_TUNNEL_PORT" --allow "$LAB_TUNNEL_ALLOW"
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
lab_alive "$intercept_pid" || lab_die "intercept exited at start"

echo "== tc: tcpcopy -x 80-$LAB_TARGET_IP:80 -s $LAB_ASSIST_TUNNEL_IP -i ${pcap#"$repo"/}"
lab_bg tcpcopy "$LAB_NS_TC" "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" \
  -i "$pcap"
tcpcopy_pid=$LAB_LAST_PID
tc_rc=0
lab_wait_exit "$tcpcopy_pid" "$timeout" || tc_rc=$?
if ((tc_rc == 124)); then
  echo "demo: tcpcopy still running after ${timeout}s, stopping it (SIGTERM)"
  lab_stop "$tcpcopy_pid" 10
fi

want=$(wc -l <"$golden")
lab_nginx_settle "$LAB_NGINX_ACCESS_LOG"  # every request nginx received is in its log

echo "== tcpcopy output (exit status $tc_rc)"
cat "$LAB_DIR/tcpcopy.log"
echo "== intercept output"
tail -n 20 "$LAB_DIR/intercept.log"

lab_requests_nginx "$LAB_NGINX_ACCESS_LOG" >"$LAB_DIR/received.txt"
got=$(wc -l <"$LAB_DIR/received.txt")
echo "== requests: target received $got, capture's golden list has $want"
if diff -u --label "golden ${golden#"$repo"/}" --label "target nginx access log" \
  "$golden" "$LAB_DIR/received.txt"; then
  echo "demo: OK, the target received exactly the requests of the capture"
  exit 0
fi
echo "demo: MISMATCH between the capture's requests and what the target received"
exit 1
