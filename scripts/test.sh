#!/usr/bin/env bash
# THE test command: installs what is missing and builds (scripts/setup.sh), then runs every
# registered test, unit and end-to-end, with ctest. Run as root: the end-to-end tests build
# network namespaces. Closing line: "tests: N passed, N failed, N skipped".
#
# Environment: BUILD_DIR (default build), JOBS (build jobs), CI (when "true", a skipped or
# not-run test fails the run).
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

log=$(mktemp /tmp/tcpcopy-ctest-XXXXXX.log)
trap 'rm -f "$log"' EXIT
rc=0
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error 2>&1 | tee "$log" || rc=$?

# "100% tests passed, 0 tests failed out of 42" and, for tests that did not run,
# "  7 - e2e.foo_test (Skipped)" or "(Disabled)" under "did not run:" (ctest counts a
# "Not Run" test, e.g. a missing executable, as failed already).
summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
if [[ -z $summary ]]; then
  echo "test.sh: ctest printed no summary (exit $rc)" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\((Skipped|Disabled)\)' "$log" || true)
passed=$((total - failed - skipped))
((passed < 0)) && passed=0

if ((skipped > 0)) && [[ ${CI:-} == true ]]; then
  echo "test.sh: $skipped test(s) did not run; in CI every test must run" >&2
  rc=1
fi
((failed > 0)) && rc=${rc/#0/1}
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
