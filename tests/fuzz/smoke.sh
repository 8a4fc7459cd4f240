#!/usr/bin/env bash
# Fuzz smoke test (CI, ctest "fuzz.smoke"): builds every libFuzzer target with clang, ASan and
# UBSan in its own build directory, then runs each one for a fixed budget from its seed corpus.
# Any crash, sanitizer report, leak or timeout fails the run; the input that caused it is printed
# (hex) and kept under FUZZ_BUILD_DIR/findings/. Longer runs: docs/fuzzing.md.
#
# Usage: tests/fuzz/smoke.sh [FUZZ_BUILD_DIR] [SECONDS_PER_TARGET]
#   FUZZ_BUILD_DIR      default build-fuzz (relative to the repository root)
#   SECONDS_PER_TARGET  default 20
# Environment: JOBS (build jobs, default 2).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$repo/build-fuzz}
budget=${2:-20}
jobs=${JOBS:-2}
targets=(fuzz_decode fuzz_pcap_file fuzz_config fuzz_tunnel fuzz_secret fuzz_engine fuzz_framers fuzz_mysql)

say() { printf 'fuzz smoke: %s\n' "$*"; }
die() {
  printf 'fuzz smoke: FAIL: %s\n' "$*" >&2
  exit 1
}

command -v clang++ >/dev/null 2>&1 || die "clang++ not found (scripts/setup.sh installs clang and libclang-rt-14-dev)"
[[ $budget =~ ^[1-9][0-9]*$ ]] || die "seconds per target must be a positive integer, got '$budget'"

if [[ ! -f $build/CMakeCache.txt ]]; then
  say "configuring $build"
  CXX=clang++ cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTCPCOPY_BUILD_FUZZ=ON -DTCPCOPY_BUILD_TESTS=OFF >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; die "cmake configure failed"; }
  rm -f "$build.configure.log"
fi
say "building ${targets[*]} in $build ($jobs jobs)"
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >/dev/null ||
  { cmake --build "$build" -j1 --target "${targets[@]}" 2>&1 | tail -40 >&2; die "build failed"; }

work=$(mktemp -d /tmp/fuzz-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  seeds=$repo/tests/fuzz/corpus/$t
  [[ -d $seeds ]] || die "no seed corpus $seeds"
  # libFuzzer adds new inputs to the first corpus directory: a scratch one, never the repo's.
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  log=$work/$t/log
  rc=0
  (cd "$work/$t" && "$build/tests/fuzz/$t" -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
    "$work/$t/corpus" "$seeds") >"$log" 2>&1 || rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
  if ((rc != 0)); then
    failed=$((failed + 1))
    printf 'fuzz smoke: FAIL: %s exited %d after %s runs\n' "$t" "$rc" "${runs:-?}" >&2
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" | head -20 >&2 || true
    tail -40 "$log" >&2
    for a in "$work/$t/artifacts"/*; do
      [[ -f $a ]] || continue
      mkdir -p "$build/findings"
      keep=$build/findings/$t-$(basename "$a")
      cp "$a" "$keep"
      printf 'fuzz smoke: input kept as %s (%d bytes); hex:\n' "$keep" "$(stat -c %s "$a")" >&2
      od -An -tx1 -v "$a" | head -40 >&2
    done
  else
    say "ok: $t: ${runs:-?} runs in ${budget}s, ${cov:-cov ?}"
  fi
done
((failed == 0)) || die "$failed of ${#targets[@]} targets failed"
say "all ${#targets[@]} targets ran ${budget}s each without a finding"
