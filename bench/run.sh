#!/usr/bin/env bash
# tcpcopy's performance figures, each beside a baseline measured in the same invocation.
#
# Usage: bash bench/run.sh [CONNECTIONS]      (root: the lab parts need network namespaces)
#   CONNECTIONS: size of the generated capture for the offline replay (default 20000, about
#   250,000 packets, a few minutes here; 100000 gives the issue's 100,000 connections and
#   over 1,000,000 packets). The capture is kept in the build dir and reused for the same size.
# Environment: BENCH_BUILD (default build-perf), BENCH_ACCELERATE (tcpcopy -a for the replay,
# default 1000000: full speed), BENCH_MIN_TIME (Google Benchmark seconds per
# benchmark, default 1), BENCH_SKIP_LAB=1 (in-process figures only), BENCH_MEMORY_SESSIONS
# (default "100000 1000000"), BENCH_RATE=1 (then the production-rate benchmark, bench/rate.sh,
# with its own environment and table).
#
# Builds Release with the benchmarks (the `release` preset's settings, in $BENCH_BUILD), runs:
#   engine_bench     session engine packets/s, three traffic shapes    vs the decode loop alone
#   intercept_bench  intercept response headers/s to a tunnel peer     vs the decode loop alone
#   diff_bench       regression diff ns per compared response          vs digesting the bytes once
#   session_memory   bytes per open session at 100k and 1M sessions
#   inject_ceiling   prebuilt packets/s through libnet / raw / sendmmsg vs tcpreplay --topspeed
#   offline replay   tcpcopy at full speed against nginx+redis         vs tcpreplay --topspeed
# and prints the table (also written to $BENCH_BUILD/bench/results/table.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
size=${1:-20000}
build=$(realpath -m "${BENCH_BUILD:-$repo/build-perf}")
min_time=${BENCH_MIN_TIME:-1}
results="$build/bench/results"

log() { printf '[bench] %s\n' "$*" >&2; }

# Tools only the benchmarks need are installed here, so CI and developers do not carry them.
need=()
command -v tcpreplay >/dev/null || need+=(tcpreplay)
command -v ab >/dev/null || need+=(apache2-utils)
command -v wrk >/dev/null || need+=(wrk)
[[ -f /usr/include/benchmark/benchmark.h ]] || need+=(libbenchmark-dev)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get install -y -q "${need[@]}" >/dev/null
fi

log "building Release in $build"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTCPCOPY_BUILD_BENCH=ON -DTCPCOPY_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target engine_bench intercept_bench diff_bench session_memory inject_ceiling tcpcopy intercept >/dev/null
rm -rf "$results"
mkdir -p "$results"
bin="$build/bench"

log "engine throughput (Google Benchmark, CPU time, one core)"
"$bin/engine_bench" --benchmark_min_time="$min_time" --benchmark_format=json >"$results/engine.json"
log "intercept hot path"
"$bin/intercept_bench" --benchmark_min_time="$min_time" --benchmark_format=json >"$results/intercept.json"
log "regression diff per compared response (table: $results/diff.txt)"
"$bin/diff_bench" --benchmark_min_time="$min_time" --benchmark_color=false >"$results/diff.txt"
for n in ${BENCH_MEMORY_SESSIONS:-100000 1000000}; do
  log "memory: $n open sessions"
  "$bin/session_memory" "$n" >"$results/memory-$n.json"
done

if [[ ${BENCH_SKIP_LAB:-0} != 1 ]]; then
  capture="$build/bench/capture-$size.pcap"
  if [[ ! -s $capture || ! -s ${capture%.pcap}.meta ]]; then
    log "generating the capture ($size connections) with real clients in the lab"
    bash "$here/make_capture.sh" "$capture" "$size"
  fi
  BENCH_CAPTURE=$capture BENCH_RESULTS=$results BENCH_BIN=$bin BENCH_BUILD=$build bash "$here/lab_replay.sh"
fi

python3 "$here/report.py" "$results" | tee "$results/table.md"

if [[ ${BENCH_RATE:-0} == 1 ]]; then
  log "production-rate benchmark (bench/rate.sh)"
  BENCH_BUILD=$build bash "$here/rate.sh"
fi
