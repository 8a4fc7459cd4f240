#!/usr/bin/env bash
# What the end-to-end scripts share beyond the lab: their pass/fail tally, one tcpcopy replay in
# the lab, and reading its --report. Source it after lib/lab.sh:
#
#   source "$here/lib/checks.sh"
#   e2e_begin offline_replay_test      # the name its lines start with; failures=0 passed=0
#   run_tcpcopy http -i x.pcap -x ...  # $tcpcopy_bin in the tc namespace; exit status in $tc_rc
#   (( tc_rc == 0 )) && ok "http: replayed" || fail "http: exit $tc_rc"
#   report_value http sessions.started # a value of $LAB_DIR/http.json, "none" when absent
#   json http 's["started"]'          # a Python expression over that report
#   wait_until 30 CMD...               # polls a condition (count_lines, monitor_commands help)
#   e2e_end                            # "NAME: N passed, N failed"; fails the script on a failure

# e2e_begin NAME : starts the tally.
e2e_begin() {
  E2E_NAME=$1
  failures=0
  passed=0
}

# fail TEXT / ok TEXT : one check's outcome, on stderr / stdout.
fail() {
  printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2
  failures=$((failures + 1))
}
ok() {
  printf '%s: ok: %s\n' "$E2E_NAME" "$*"
  passed=$((passed + 1))
}

# e2e_end : the closing line; returns non-zero when a check failed (under set -e, the exit status).
e2e_end() {
  echo "$E2E_NAME: $passed passed, $failures failed"
  ((failures == 0))
}

# run_tcpcopy NAME ARGS... : one replay by $tcpcopy_bin in the tc namespace, towards the intercept
# on the assistant's tunnel address ($run_tcpcopy_intercept when set, e.g. its IPv6 one), without
# the periodic stats line, its report in $LAB_DIR/NAME.json and its output in
# $LAB_DIR/tcpcopy-NAME.log. The array run_tcpcopy_args, when
# set, comes before ARGS (what every replay of a script has: -x, --secret-file). Waits up to 120 s;
# a replay still running then is stopped. Sets tc_pid and tc_rc (124: it had to be stopped).
# shellcheck disable=SC2154 # tcpcopy_bin, run_tcpcopy_args, run_tcpcopy_intercept: the calling script's
run_tcpcopy() {
  local name=$1
  shift
  lab_bg "tcpcopy-$name" "$LAB_NS_TC" "$tcpcopy_bin" -s "${run_tcpcopy_intercept:-$LAB_ASSIST_TUNNEL_IP}" \
    --stats-interval 0 --report "$LAB_DIR/$name.json" ${run_tcpcopy_args[@]+"${run_tcpcopy_args[@]}"} "$@"
  tc_pid=$LAB_LAST_PID
  tc_rc=0
  lab_wait_exit "$tc_pid" 120 || tc_rc=$?
  if ((tc_rc == 124)); then
    lab_stop "$tc_pid" 5
  fi
}

# tcpcopy_refuses TEXT ARGS... : $tcpcopy_bin with ARGS (and -s, -i /dev/null) must stop at once with
# exit 2 and one line holding TEXT (a fixed string): a bad option or file refused before anything opens.
tcpcopy_refuses() {
  local want=$1 out rc=0
  shift
  out=$("$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" -i /dev/null "$@" 2>&1) || rc=$?
  if ((rc == 2)) && grep -qF -- "$want" <<<"$out" && (($(wc -l <<<"$out") == 1)); then
    ok "refused $*: $out"
  else
    fail "$*: exit $rc, output: $out"
  fi
}

# tcpcopy_summary NAME : the summary run_tcpcopy NAME printed at exit.
tcpcopy_summary() { sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy-$1.log"; }

# report_value NAME KEY.PATH : one value of the report $LAB_DIR/NAME.json (dots walk into
# objects: sessions.started); "none" when the file or the key is missing.
report_value() {
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$LAB_DIR/$1.json" "$2" 2>/dev/null || echo none
}

# json NAME EXPR : a Python expression over the report $LAB_DIR/NAME.json (d: the report, s: its
# sessions), e.g. json live 's["started"]'.
json() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); s = d["sessions"]; print(eval(sys.argv[2]))' \
    "$LAB_DIR/$1.json" "$2"
}
# The end states every replayed session is counted in exactly one of (a Python tuple for json).
ended_states='("completed", "ended_by_replay", "reset_by_target", "timed_out", "failed", "aborted")'

# wait_until TIMEOUT_S CMD... : poll until CMD succeeds; non-zero at the deadline (a deadline for a
# broken run only: the condition is what the caller waits for).
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

# count_lines FILE : lines in FILE, 0 when it does not exist.
count_lines() {
  if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# monitor_commands FILE.raw : commands a running redis MONITOR has printed so far.
monitor_commands() {
  grep -c '^[0-9]' "$1" 2>/dev/null || true
}

# repeat_sorted N FILE... : the files' lines N times, sorted (a request multiset replayed N times).
repeat_sorted() {
  local n=$1 k
  shift
  for ((k = 0; k < n; k++)); do cat "$@"; done | LC_ALL=C sort
}
