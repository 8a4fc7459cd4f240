#!/usr/bin/env bash
# The production-rate benchmark (issue 11): many short connections per second from one client
# address, replayed offline at the capture's pace and copied live, every request compared one by
# one; plus the engine's cost per packet and per session with 1k, 10k and 100k sessions open.
#
# Usage: sudo bash bench/rate.sh          (root: network namespaces)
#
#   1. bench/rate_capture.sh makes the capture (wrk -t 2 -c 32 -d 8s, Connection: close, a
#      unique URI per request, one client address) unless one is kept from an earlier run;
#   2. engine_bench --benchmark_filter=engineScale (1k / 10k / 100k sessions held open);
#   3. bench/rate_offline.sh BENCH_RATE_RUNS times: tcpcopy -a BENCH_ACCELERATE (default 1) over
#      it, each in a fresh lab; with BENCH_RATE_SEARCH=1 then the highest -a with 100% delivered;
#   4. bench/rate_live.sh per backend (raw socket, libpcap): the service alone, then with tcpcopy
#      copying it live;
#   5. the table (bench/rate_report.py), also in $BENCH_BUILD/bench/rate-results/table.md.
#
# Environment:
#   BENCH_BUILD              build dir (default build-perf: Release with the benchmarks, as bench/run.sh)
#   BENCH_RATE_SECONDS       wrk -d for the capture and the live runs (default 8)
#   BENCH_RATE_CONNECTIONS   wrk -c (default 32)
#   BENCH_RATE_THREADS       wrk -t (default 2)
#   BENCH_RATE_CAPTURE       replay this capture (made by rate_capture.sh, with its .json and
#                            .requests.txt) instead of the kept one
#   BENCH_RATE_NEW_CAPTURE=1 make a new capture even if one is kept for these wrk settings
#   BENCH_RATE_RUNS          offline replays (default 2)
#   BENCH_ACCELERATE         tcpcopy -a of the offline replays (default 1: the capture's pace)
#   BENCH_RATE_SEARCH=1      also search the highest -a with 100% delivered (off by default)
#   BENCH_RATE_LIVE          live backends (default "raw pcap"; empty: no live run)
#   BENCH_RATE_ENGINE=0      skip the engine-scale benchmark
#   BENCH_MIN_TIME           Google Benchmark seconds per case (default 1)
#   BENCH_ORIGINAL_TCPCOPY, BENCH_ORIGINAL_INTERCEPT
#                            the original C TCPCopy and intercept, built by you: every offline
#                            and live run is repeated with them (their own flags) and their
#                            figures are the baseline of ours. Nothing here fetches or builds them.
#   BENCH_ORIGINAL_TCPCOPY_LIVE  the original's live build (it picks offline mode at configure
#                            time; default BENCH_ORIGINAL_TCPCOPY)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(realpath -m "${BENCH_BUILD:-$repo/build-perf}")
secs=${BENCH_RATE_SECONDS:-8}
conns=${BENCH_RATE_CONNECTIONS:-32}
threads=${BENCH_RATE_THREADS:-2}
runs=${BENCH_RATE_RUNS:-2}
accelerate=${BENCH_ACCELERATE:-1}
live_backends=${BENCH_RATE_LIVE-raw pcap}
results="$build/bench/rate-results"
orig_tc=${BENCH_ORIGINAL_TCPCOPY:-}
orig_ic=${BENCH_ORIGINAL_INTERCEPT:-}
orig_tc_live=${BENCH_ORIGINAL_TCPCOPY_LIVE:-$orig_tc}

log() { printf '[rate] %s\n' "$*" >&2; }
# run CMD... : runs one step in the background and waits for it, so that SIGTERM or SIGINT to this
# script reaches the step at once (each lab script then tears its namespaces down).
step_pid=
run() {
  "$@" &
  step_pid=$!
  local rc=0
  wait "$step_pid" || rc=$?
  step_pid=
  return "$rc"
}
stop_step() {
  if [[ -n $step_pid ]]; then
    kill -TERM "$step_pid" 2>/dev/null || true
    wait "$step_pid" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'stop_step 143' TERM
trap 'stop_step 130' INT
die() {
  printf 'rate.sh: %s\n' "$*" >&2
  exit 2
}
((EUID == 0)) || die "must run as root (network namespaces); try: sudo bash $0"
[[ $runs =~ ^[0-9]+$ ]] || die "BENCH_RATE_RUNS must be a number"
for b in $live_backends; do [[ $b == raw || $b == pcap ]] || die "BENCH_RATE_LIVE: unknown backend '$b' (raw, pcap)"; done
if [[ -n $orig_tc || -n $orig_ic ]]; then
  [[ -x $orig_tc && -x $orig_ic ]] ||
    die "BENCH_ORIGINAL_TCPCOPY and BENCH_ORIGINAL_INTERCEPT must both name executables"
  [[ -x $orig_tc_live ]] || die "BENCH_ORIGINAL_TCPCOPY_LIVE ($orig_tc_live) is not an executable"
fi

# shellcheck source=rate_lib.sh
source "$here/rate_lib.sh"
rate_install
[[ -f /usr/include/benchmark/benchmark.h ]] || die "libbenchmark-dev missing after scripts/setup.sh"
export RATE_INSTALLED=1

log "building Release in $build"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTCPCOPY_BUILD_BENCH=ON -DTCPCOPY_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target engine_bench tcpcopy intercept >/dev/null
tcpcopy_bin="$build/tcpcopy/tcpcopy"
intercept_bin="$build/intercept/intercept"
rm -rf "$results"
mkdir -p "$results"
# What was measured: the product code's last commit, and whether it had local changes.
product=(src include tcpcopy intercept CMakeLists.txt)
commit=$(git -C "$repo" log -1 --format='%h (%s)' -- "${product[@]}" 2>/dev/null || echo unknown)
if [[ -n $(git -C "$repo" status --porcelain -- "${product[@]}" 2>/dev/null) ]]; then
  commit="$commit with local changes"
fi

# --- 1. the capture ----------------------------------------------------------------------------
capture=${BENCH_RATE_CAPTURE:-$build/bench/rate/capture-${secs}s-${conns}c-${threads}t.pcap}
if [[ -n ${BENCH_RATE_CAPTURE:-} ]]; then
  [[ -s $capture && -s ${capture%.pcap}.json && -s ${capture%.pcap}.requests.txt ]] ||
    die "BENCH_RATE_CAPTURE=$capture: no capture with its .json and .requests.txt there"
elif [[ ${BENCH_RATE_NEW_CAPTURE:-0} == 1 || ! -s ${capture%.pcap}.json ]]; then
  log "making the capture: wrk -t $threads -c $conns -d ${secs}s"
  run bash "$here/rate_capture.sh" "$capture" "$secs" "$conns" "$threads"
else
  log "replaying the kept capture $capture (BENCH_RATE_NEW_CAPTURE=1 makes a new one)"
fi
cp "${capture%.pcap}.json" "$results/capture.json"

# --- 2. the engine with many sessions open ----------------------------------------------------
if [[ ${BENCH_RATE_ENGINE:-1} == 1 ]]; then
  log "engine_bench engineScale (1k, 10k, 100k sessions held open)"
  rate_load >"$results/engine-scale.load"
  run "$build/bench/engine_bench" --benchmark_filter='^engineScale/' --benchmark_min_time="${BENCH_MIN_TIME:-1}" \
    --benchmark_format=json >"$results/engine-scale.json"
  echo "$(cat "$results/engine-scale.load") -> $(rate_load)" >"$results/engine-scale.load"
fi

# --- 3. offline --------------------------------------------------------------------------------
for ((i = 1; i <= runs; i++)); do
  log "offline run $i of $runs: tcpcopy -a $accelerate"
  run bash "$here/rate_offline.sh" ours "$tcpcopy_bin" "$intercept_bin" "$capture" "$results/offline-ours-$i" "$accelerate"
  if [[ -n $orig_tc ]]; then
    log "offline run $i of $runs: the original TCPCopy -a $accelerate"
    run bash "$here/rate_offline.sh" original "$orig_tc" "$orig_ic" "$capture" "$results/offline-original-$i" "$accelerate"
  fi
done
if [[ ${BENCH_RATE_SEARCH:-0} == 1 ]]; then
  if ((runs > 0)); then
    first=$(python3 "$RATE_TOOLS" field "$results/offline-ours-1/deliver.json" 'd["fraction"]')
  else
    run bash "$here/rate_offline.sh" ours "$tcpcopy_bin" "$intercept_bin" "$capture" "$results/search/a-$accelerate" "$accelerate"
    first=$(python3 "$RATE_TOOLS" field "$results/search/a-$accelerate/deliver.json" 'd["fraction"]')
  fi
  log "searching the highest -a with 100% delivered (from -a $accelerate: $first)"
  run python3 "$RATE_TOOLS" search "$results/search" "$accelerate" "$first" -- \
    bash "$here/rate_offline.sh" ours "$tcpcopy_bin" "$intercept_bin" "$capture"
fi

# --- 4. live -----------------------------------------------------------------------------------
for backend in $live_backends; do
  log "live, $backend backend: wrk -t $threads -c $conns -d ${secs}s alone, then with tcpcopy"
  run bash "$here/rate_live.sh" ours "$backend" "$tcpcopy_bin" "$intercept_bin" "$results/live-ours-$backend" \
    "$secs" "$conns" "$threads"
  if [[ -n $orig_tc ]]; then
    log "live, $backend backend, the original TCPCopy"
    run bash "$here/rate_live.sh" original "$backend" "$orig_tc_live" "$orig_ic" "$results/live-original-$backend" \
      "$secs" "$conns" "$threads"
  fi
done

# --- 5. the table ------------------------------------------------------------------------------
{
  echo "Product code at $commit; tree $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown);"
  echo "$(nproc) cores, $(uname -r); uptime at the end:$(uptime)"
  echo
  python3 "$here/rate_report.py" "$results"
} | tee "$results/table.md"
