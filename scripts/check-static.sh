#!/usr/bin/env bash
# Static checks, run by scripts/test.sh: clang-format (the checked-in .clang-format) over every
# tracked C++ source and header, and clang-tidy (the checked-in .clang-tidy, every finding an
# error) over the application, statistics and tunnel modules and the daemons' mains. clang-tidy
# takes about ten seconds a file on the shared 2-core machine, so by default it reads only those
# modules; TIDY_ALL=1 reads every source under src/, tcpcopy/ and intercept/.
# Exit 0 when both are clean, 1 naming the files otherwise.
#
# Environment: BUILD_DIR (holds compile_commands.json; default build), JOBS (parallel clang-tidy
# runs; default nproc), TIDY_ALL, TIDY_FILES (these files only, separated by spaces).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
work=$(mktemp -d /tmp/tcpcopy-static-XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0

mapfile -t sources < <(git ls-files '*.cpp' '*.h')
if ! clang-format --dry-run -Werror "${sources[@]}" 2>"$work/format.log"; then
  mapfile -t unformatted < <(grep -E ': error: ' "$work/format.log" | cut -d: -f1 | sort -u)
  echo "check-static: clang-format: ${#unformatted[@]} file(s) differ from .clang-format (clang-format -i them):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  rc=1
else
  echo "check-static: clang-format: ${#sources[@]} files clean"
fi

if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "check-static: $build_dir/compile_commands.json missing: configure the build first (cmake -S . -B $build_dir)" >&2
  exit 1
fi
if [[ -n ${TIDY_FILES:-} ]]; then
  read -ra tidy <<<"$TIDY_FILES"
elif [[ ${TIDY_ALL:-0} == 1 ]]; then
  mapfile -t tidy < <(git ls-files 'src/*.cpp' 'tcpcopy/*.cpp' 'intercept/*.cpp')
else
  mapfile -t tidy < <(git ls-files 'src/app/*.cpp' 'src/stats/*.cpp' 'src/tunnel/*.cpp' 'tcpcopy/*.cpp' \
    'intercept/*.cpp')
fi
# Each file's findings in its own log, so that parallel runs do not interleave.
# GCC-only warning flags in compile_commands.json (-Wno-restrict) are unknown to clang.
tidy_one() { clang-tidy -p "$1" --quiet --extra-arg=-Wno-unknown-warning-option "$2" >"$3/$(tr / _ <<<"$2").tidy" 2>&1; }
export -f tidy_one
if ! printf '%s\n' "${tidy[@]}" | xargs -P "$jobs" -I{} bash -c 'tidy_one "$@"' _ "$build_dir" {} "$work"; then
  echo "check-static: clang-tidy: findings (the checks are in .clang-tidy):" >&2
  grep -hE ': (error|warning): ' "$work"/*.tidy | sort -u >&2 || cat "$work"/*.tidy >&2
  rc=1
else
  echo "check-static: clang-tidy: ${#tidy[@]} files clean"
fi
exit "$rc"
