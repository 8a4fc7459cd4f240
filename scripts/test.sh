#!/usr/bin/env bash
# THE test command: installs what is missing and builds (scripts/setup.sh), then runs every
# registered test, unit and end-to-end, with ctest. Run as root: the end-to-end tests build
# network namespaces. Closing line: "tests: N passed, N failed, N skipped".
#
# Before the tests, scripts/check-static.sh: clang-format over the sources and clang-tidy over the
# application, statistics and tunnel code; a finding fails the run (counted as one failed test).
#
# A second tree, built with the asan preset (ASan+UBSan), runs the unit tests and the offline
# end-to-end test again; any sanitizer report from any process there (leak, overflow, UB) fails
# the run, and the reports are printed.
#
# Environment: BUILD_DIR (default build), ASAN_BUILD_DIR (default build-asan), JOBS (build
# jobs), CI (when "true", a skipped or not-run test fails the run).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
export BUILD_DIR=$build_dir

if ((EUID != 0)); then
  echo "test.sh: run as root (sudo bash scripts/test.sh): the end-to-end tests need network namespaces" >&2
  exit 1
fi

bash scripts/setup.sh
static_rc=0
bash scripts/check-static.sh || static_rc=$?
asan_dir=${ASAN_BUILD_DIR:-build-asan}
echo "test.sh: configuring and building $asan_dir (asan preset)"
cmake --preset asan -B "$asan_dir" >/dev/null
cmake --build "$asan_dir" -j"${JOBS:-$(nproc)}"

work=$(mktemp -d /tmp/tcpcopy-ctest-XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
logs=()
# run_ctest NAME ARGS... : one ctest run, its output kept for the summary.
run_ctest() {
  local log="$work/$1.log"
  shift
  logs+=("$log")
  ctest "$@" --output-on-failure --no-tests=error 2>&1 | tee "$log" || rc=$?
}
run_ctest main --test-dir "$build_dir"
# Sanitizer reports go to files, so that a process nobody waits for (a daemon stopped at
# teardown, a helper) cannot hide one.
mkdir -p "$work/sanitizer"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$work/sanitizer/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$work/sanitizer/ubsan"
run_ctest asan-unit --test-dir "$asan_dir" -L unit
run_ctest asan-offline --test-dir "$asan_dir" -R '^e2e\.offline_replay_test$'
unset ASAN_OPTIONS UBSAN_OPTIONS

# "100% tests passed, 0 tests failed out of 42" and, for tests that did not run,
# "  7 - e2e.foo_test (Skipped)" or "(Disabled)" under "did not run:" (ctest counts a
# "Not Run" test, e.g. a missing executable, as failed already).
failed=0 total=0 skipped=0
for log in "${logs[@]}"; do
  summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [[ -z $summary ]]; then
    echo "test.sh: ctest ($(basename "$log" .log)) printed no summary (exit $rc)" >&2
    echo "tests: 0 passed, 1 failed"
    exit 1
  fi
  failed=$((failed + $(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")))
  total=$((total + $(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")))
  skipped=$((skipped + $(grep -cE '^[[:space:]]*[0-9]+ - .*\((Skipped|Disabled)\)' "$log" || true)))
done
reports=("$work"/sanitizer/*)
if [[ -e ${reports[0]} ]]; then
  echo "test.sh: ${#reports[@]} sanitizer report(s) from the $asan_dir runs:" >&2
  for report in "${reports[@]}"; do
    echo "==> $report" >&2
    head -60 "$report" >&2
  done
  failed=$((failed + 1))
  total=$((total + 1))
fi
total=$((total + 1))
if ((static_rc != 0)); then
  echo "test.sh: scripts/check-static.sh found formatting or clang-tidy problems (above)" >&2
  failed=$((failed + 1))
fi
passed=$((total - failed - skipped))
((passed < 0)) && passed=0

if ((skipped > 0)) && [[ ${CI:-} == true ]]; then
  echo "test.sh: $skipped test(s) did not run; in CI every test must run" >&2
  rc=1
fi
((failed > 0)) && rc=${rc/#0/1}
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
