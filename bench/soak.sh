#!/usr/bin/env bash
# Soak benchmark (not in CI): replays a capture in a loop (-T) through the namespace lab against
# nginx for a given time, samples the RSS of tcpcopy and intercept every 10 s, prints the samples
# and says whether each daemon's RSS is flat after warm-up (the first third of the run, at least
# 30 s): flat means the largest sample after warm-up exceeds the one at the end of warm-up by at
# most 5% + 1 MiB.
#
# Usage: bench/soak.sh [SECONDS] [BUILD_DIR] [CAPTURE] [ACCELERATE]   (root)
#   SECONDS     default 1800 (30 min)
#   BUILD_DIR   default build
#   CAPTURE     default tests/fixtures/http_short.pcap (HTTP against port 80)
#   ACCELERATE  tcpcopy -a, default 10
# Exit status: 0 when both are flat, 1 otherwise (or when a daemon died).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${1:-1800}
build=$(realpath "${2:-$repo/build}")
capture=$(realpath "${3:-$repo/tests/fixtures/http_short.pcap}")
accelerate=${4:-10}
interval=10
[[ $duration =~ ^[0-9]+$ ]] && ((duration >= 20)) || { echo "soak: SECONDS must be a number >= 20" >&2; exit 2; }

# shellcheck source=../tests/e2e/lib/lab.sh
source "$repo/tests/e2e/lib/lab.sh"
tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)

lab_init soak
lab_up
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 60
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
lab_bg tcpcopy "$LAB_NS_TC" "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" -x "80-$LAB_TARGET_IP:80" -i "$capture" \
  -a "$accelerate" -T 1000000 --stats-interval 60 --report "$LAB_DIR/soak.json"
tcpcopy_pid=$LAB_LAST_PID

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
requests() { wc -l <"$LAB_NGINX_ACCESS_LOG"; }

echo "soak: ${duration}s of $(basename "$capture") at -a $accelerate; RSS in KiB every ${interval}s"
printf '%8s %12s %14s %10s\n' seconds tcpcopy_kib intercept_kib requests
tc_samples=()
ic_samples=()
start=$SECONDS
died=0
while ((SECONDS - start < duration)); do
  sleep "$interval"
  if ! kill -0 "$tcpcopy_pid" 2>/dev/null || ! kill -0 "$intercept_pid" 2>/dev/null; then
    echo "soak: a daemon exited early" >&2
    died=1
    break
  fi
  tc=$(rss_kb "$tcpcopy_pid")
  ic=$(rss_kb "$intercept_pid")
  tc_samples+=("$tc")
  ic_samples+=("$ic")
  printf '%8d %12d %14d %10d\n' $((SECONDS - start)) "$tc" "$ic" "$(requests)"
done
lab_stop "$tcpcopy_pid" 10
sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy.log"

# flat NAME SAMPLES... : compares the warm-up sample with the largest one after it.
flat() {
  local name=$1
  shift
  local samples=("$@") n=$#
  local warm=$((n / 3))
  ((warm * interval < 30)) && warm=$((30 / interval))
  if ((n <= warm + 1)); then
    echo "soak: $name: too few samples ($n) to judge"
    return 1
  fi
  local base=${samples[warm - 1]} max=0 s
  for s in "${samples[@]:warm}"; do ((s > max)) && max=$s; done
  local allowed=$((base + base / 20 + 1024))
  if ((max <= allowed)); then
    echo "soak: $name: RSS flat after warm-up (${base} KiB at $((warm * interval))s, at most ${max} KiB after)"
  else
    echo "soak: $name: RSS GROWS after warm-up (${base} KiB at $((warm * interval))s, up to ${max} KiB after)"
    return 1
  fi
}
rc=$died
flat tcpcopy "${tc_samples[@]}" || rc=1
flat intercept "${ic_samples[@]}" || rc=1
exit "$rc"
