#!/usr/bin/env bash
# Faults, end to end: the replay meets a broken environment and says what went wrong.
#   - intercept not running: tcpcopy gives up after --intercept-wait with "intercept ...
#     unreachable" and a non-zero exit;
#   - the target's route to the assistant missing: no SYN-ACK ever comes back; tcpcopy (with
#     --syn-retries 1 so that it gives up quickly) names that cause and exits non-zero;
#   - the target server stopped mid-replay: the remaining sessions are reset or time out and are
#     counted; tcpcopy ends with its summary and a non-zero exit naming the failures;
#   - a full disk for the log file (/dev/full as the log): both daemons keep working and say so
#     once on stderr.
# (intercept killed and restarted mid-replay: live_replay_test.sh.)
# Usage: faults_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd python3

lab_init faults
lab_up

failures=0
passed=0
fail() {
  printf 'faults_test: FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}
ok() {
  printf 'faults_test: ok: %s\n' "$*"
  passed=$((passed + 1))
}
# report_value NAME KEY.PATH : one value of a --report JSON file.
report_value() {
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$LAB_DIR/$1.json" "$2" 2>/dev/null || echo none
}

# run_tcpcopy NAME ARGS... : one replay in the tc namespace; exit status in $tc_rc.
run_tcpcopy() {
  local name=$1
  shift
  lab_bg "tcpcopy-$name" "$LAB_NS_TC" "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" --stats-interval 0 \
    --report "$LAB_DIR/$name.json" -x "80-$LAB_TARGET_IP:80" "$@"
  tc_pid=$LAB_LAST_PID
  tc_rc=0
  lab_wait_exit "$tc_pid" 120 || tc_rc=$?
  if ((tc_rc == 124)); then
    lab_stop "$tc_pid" 5
  fi
}

lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG

# --- intercept not running ------------------------------------------------------------------------
run_tcpcopy no-intercept -i "$fixtures/http_short.pcap" --intercept-wait 1
if ((tc_rc != 0 && tc_rc != 124)) && grep -Eq "intercept $LAB_ASSIST_TUNNEL_IP:$LAB_TUNNEL_PORT unreachable" \
  "$LAB_DIR/tcpcopy-no-intercept.log"; then
  ok "no intercept: exit $tc_rc, '$(grep -m1 unreachable "$LAB_DIR/tcpcopy-no-intercept.log" | sed 's/^.*tcpcopy: //')'"
else
  fail "no intercept: exit $tc_rc: $(tail -3 "$LAB_DIR/tcpcopy-no-intercept.log")"
fi

# intercept from here on, its log on /dev/full: it must keep working and say so once.
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" -l /dev/full --stats-interval 1
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# --- full disk for the log: tcpcopy replays everything and says so once ---------------------------
: >"$nginx_log"
run_tcpcopy full-log -i "$fixtures/http_short.pcap" -a 1000 -l /dev/full
sleep 0.5
n=$(grep -c "cannot write to /dev/full" "$LAB_DIR/tcpcopy-full-log.log" || true)
got=$(wc -l <"$nginx_log")
if ((tc_rc != 0)); then
  fail "full log (tcpcopy): exit $tc_rc: $(tail -3 "$LAB_DIR/tcpcopy-full-log.log")"
elif ((n != 1)); then
  fail "full log (tcpcopy): said $n times, expected once: $(head -3 "$LAB_DIR/tcpcopy-full-log.log")"
elif ((got != 20)); then
  fail "full log (tcpcopy): $got of 20 requests replayed"
else
  ok "full log (tcpcopy): 20 requests replayed, said once: '$(grep -m1 "cannot write" "$LAB_DIR/tcpcopy-full-log.log")'"
fi
n=$(grep -c "cannot write to /dev/full" "$LAB_DIR/intercept.log" || true)
if ! kill -0 "$intercept_pid" 2>/dev/null; then
  fail "full log (intercept): intercept died"
elif ((n != 1)); then
  fail "full log (intercept): said $n times, expected once: $(head -3 "$LAB_DIR/intercept.log")"
else
  ok "full log (intercept): kept forwarding (the replay above went through it), said once"
fi

# --- the target's route to the assistant missing ------------------------------------------------------
for net in $LAB_CLIENT_NETS; do
  ip -n "$LAB_NS_TARGET" route del "$net" via "$LAB_ASSIST_IP" dev "$LAB_IF_TARGET_ASSIST"
done
run_tcpcopy no-route -i "$fixtures/http_short.pcap" -a 1000 --syn-retries 1
for net in $LAB_CLIENT_NETS; do
  ip -n "$LAB_NS_TARGET" route add "$net" via "$LAB_ASSIST_IP" dev "$LAB_IF_TARGET_ASSIST"
done
no_syn_ack=$(report_value no-route sessions.no_syn_ack)
if ((tc_rc == 0 || tc_rc == 124)); then
  fail "no route: exit $tc_rc"
elif ! grep -q "no SYN-ACK came back from the target.*route for client addresses to the assistant" \
  "$LAB_DIR/tcpcopy-no-route.log"; then
  fail "no route: the cause is not named: $(tail -3 "$LAB_DIR/tcpcopy-no-route.log")"
elif [[ $no_syn_ack != 20 ]]; then
  fail "no route: sessions.no_syn_ack is $no_syn_ack, expected 20"
else
  ok "no route: exit $tc_rc, 20 sessions without SYN-ACK, cause named"
fi

# --- the target server stopped mid-replay ------------------------------------------------------------
# The capture at a quarter of its speed takes about 11 s; nginx stops after the first requests.
: >"$nginx_log"
lab_bg tcpcopy-target-stop "$LAB_NS_TC" "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" --stats-interval 0 \
  --report "$LAB_DIR/target-stop.json" -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" -a 0.25 \
  --syn-retries 1 -t 3
tc_pid=$LAB_LAST_PID
lab_wait_file_match "$nginx_log" "." 20
lab_stop "$LAB_NGINX_PID" 5
served=$(wc -l <"$nginx_log")
tc_rc=0
lab_wait_exit "$tc_pid" 120 || tc_rc=$?
reset=$(report_value target-stop sessions.reset_by_target)
timed_out=$(report_value target-stop sessions.timed_out)
failed=$(report_value target-stop sessions.failed)
if ((tc_rc == 0 || tc_rc == 124)); then
  fail "target stopped: exit $tc_rc, expected a non-zero exit"
elif ! grep -q "tcpcopy summary" "$LAB_DIR/tcpcopy-target-stop.log"; then
  fail "target stopped: no summary"
elif [[ $reset == none ]] || ((reset + timed_out + failed == 0)); then
  fail "target stopped: no session counted as reset, timed out or failed ($reset, $timed_out, $failed)"
elif ! grep -q "did not complete" "$LAB_DIR/tcpcopy-target-stop.log"; then
  fail "target stopped: no line naming the failed sessions: $(tail -3 "$LAB_DIR/tcpcopy-target-stop.log")"
else
  ok "target stopped after $served requests: exit $tc_rc; $reset reset by the target, $timed_out timed out, $failed failed; '$(grep -m1 "did not complete" "$LAB_DIR/tcpcopy-target-stop.log" | sed 's/^.*tcpcopy: //')'"
fi

kill -0 "$intercept_pid" 2>/dev/null || fail "intercept died during the test"
echo "faults_test: $passed passed, $failures failed"
((failures == 0))
