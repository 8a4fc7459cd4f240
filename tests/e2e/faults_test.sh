#!/usr/bin/env bash
# Faults, end to end: the replay meets a broken environment and says what went wrong.
#   - intercept not running: tcpcopy gives up after --intercept-wait with "intercept ...
#     unreachable" and a non-zero exit;
#   - the target's route to the assistant missing: no SYN-ACK ever comes back; tcpcopy (with
#     --syn-retries 1 so that it gives up quickly) names that cause and exits non-zero;
#   - the target server stopped mid-replay: the remaining sessions are reset or time out and are
#     counted; tcpcopy ends with its summary and a non-zero exit naming the failures;
#   - a full disk for the log file (/dev/full as the log): both daemons keep working and say so
#     once on stderr;
#   - intercept killed (SIGKILL) again and again while routes pour into it from a fast replay
#     over several tunnel connections: tcpcopy survives every broken tunnel (a write to it is
#     EPIPE, not a SIGPIPE death) and ends with its summary;
#   - intercept out of file descriptors (RLIMIT_NOFILE lowered to what it has open plus 4, many
#     peers connecting): it neither spins on accept() nor floods its log, and serves again once
#     descriptors are free.
# (intercept killed once and restarted mid-replay, live traffic: live_replay_test.sh.)
# Usage: faults_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd python3 ab prlimit

lab_init faults
lab_up

e2e_begin faults_test
# Every replay here (run_tcpcopy, lib/checks.sh) goes to nginx on the target.
run_tcpcopy_args=(-x "80-$LAB_TARGET_IP:80")

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
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" -l /dev/full --stats-interval 1
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# --- full disk for the log: tcpcopy replays everything and says so once ---------------------------
: >"$nginx_log"
run_tcpcopy full-log -i "$fixtures/http_short.pcap" -a 1000 -l /dev/full
lab_nginx_settle "$nginx_log"
n=$(grep -c "cannot write to /dev/full" "$LAB_DIR/tcpcopy-full-log.log" || true)
got=$(lab_nginx_count "$nginx_log")
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
if ! lab_alive "$intercept_pid"; then
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
served=$(lab_nginx_count "$nginx_log")
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

lab_alive "$intercept_pid" || fail "intercept died during the test"
lab_stop "$intercept_pid"

# --- intercept killed again and again while routes flow fast ---------------------------------------
# A capture of many short connections (bench/make_capture.sh, its own lab), replayed fast and
# in a loop over four tunnel connections, so ROUTE_ADDs pour into intercept all the time; each
# round starts intercept, waits until tcpcopy is connected again, and kills intercept with
# SIGKILL. The replay runs until SIGTERM, so the rounds never depend on how long it lasts.
bash "$here/../../bench/make_capture.sh" "$LAB_DIR/load.pcap" 600 >"$LAB_DIR/make_capture.log" 2>&1 ||
  lab_die "make_capture.sh failed: $(tail -5 "$LAB_DIR/make_capture.log")"
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
lab_bg tcpcopy-kills "$LAB_NS_TC" "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" -C 4 --stats-interval 0 -L \
  --intercept-wait 0 --syn-retries 1 -x "80-$LAB_TARGET_IP:80" -i "$LAB_DIR/load.pcap" -a 20 -T 100000
tc_pid=$LAB_LAST_PID
tc_log=$LAB_DIR/tcpcopy-kills.log
count() { grep -Ec -- "$1" "$2" 2>/dev/null || true; }
# The tunnel's own lines, one per connection: "connected to intercept A (connection N, ...)".
up_re='connected to intercept [0-9.:]+ \(connection'
down_re='lost intercept [0-9.:]+ \(connection'
# await_count REGEX N : until tcpcopy's log holds N lines matching REGEX, or tcpcopy is gone.
await_count() {
  for _ in $(seq 300); do
    (($(count "$1" "$tc_log") >= $2)) && return 0
    lab_alive "$tc_pid" || return 1
    sleep 0.1
  done
  return 1
}
kills=0
for round in 1 2 3 4 5 6 7 8; do
  connects=$(count "$up_re" "$tc_log")
  lost=$(count "$down_re" "$tc_log")
  lab_bg "intercept-kill$round" "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
    -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
  victim=$LAB_LAST_PID
  # All four connections back (routes flow on them at once) before the kill.
  if ! await_count "$up_re" $((connects + 4)); then
    lab_alive "$tc_pid" && lab_die "round $round: tcpcopy did not reconnect"
    break
  fi
  kill -KILL "$victim"
  wait "$victim" 2>/dev/null || true
  kills=$((kills + 1))
  await_count "$down_re" $((lost + 4)) || break
done
tc_rc=0
if lab_alive "$tc_pid"; then
  kill -TERM "$tc_pid"
  lab_wait_exit "$tc_pid" 60 || tc_rc=$?
else
  wait "$tc_pid" 2>/dev/null || tc_rc=$?
fi
routes=$(grep -Eo 'tunnel: [0-9]+ connects, [0-9]+ reconnects, [0-9]+ responses, [0-9]+ routes sent' "$tc_log" || true)
if ((tc_rc >= 128)); then
  fail "intercept killed: tcpcopy died of signal $((tc_rc - 128)) after $kills kills: $(tail -3 "$tc_log")"
elif ((kills < 8)); then
  fail "intercept killed: tcpcopy stopped after $kills kills (exit $tc_rc): $(tail -3 "$tc_log")"
elif ! grep -q "tcpcopy summary" "$tc_log" || [[ -z $routes ]]; then
  fail "intercept killed: no summary after $kills kills (exit $tc_rc): $(tail -3 "$tc_log")"
else
  ok "intercept killed $kills times under load: tcpcopy survived, exit $tc_rc with its summary ($routes)"
fi

# --- intercept out of file descriptors ----------------------------------------------------------------
# Once intercept runs, its RLIMIT_NOFILE is lowered to the descriptors it has open plus 4
# (prlimit); 60 peers connect and stay (without a handshake), so accept() fails with EMFILE while
# the listen socket stays readable. intercept must pause accepting (not spin: its CPU time over
# the window stays far below the wall time) and say so at most once per 10 s.
ilog=$LAB_DIR/intercept-emfile-file.log
lab_bg intercept-emfile "$LAB_NS_ASSIST" "$intercept_bin" \
  -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" \
  --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0 -l "$ilog"
emfile_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
open_fds=$(find "/proc/$emfile_pid/fd" -mindepth 1 | wc -l)
prlimit --pid "$emfile_pid" --nofile=$((open_fds + 4)):$((open_fds + 4)) ||
  lab_die "prlimit on intercept failed"
lab_bg hold "$LAB_NS_TC" python3 "$here/tunnel_peer.py" hold "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 60 300 \
  "$LAB_DIR/hold.ready"
hold_pid=$LAB_LAST_PID
lab_wait_file_match "$ilog" 'cannot accept tunnel connections' 30
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)
cpu0=$(cpu_ticks "$emfile_pid")
t0=$(date +%s%N)
sleep 3  # the measurement window (what is measured is a rate, not an event awaited)
cpu1=$(cpu_ticks "$emfile_pid")
t1=$(date +%s%N)
cpu_ms=$(((cpu1 - cpu0) * 1000 / ticks_per_s))
wall_ms=$(((t1 - t0) / 1000000))
lines=$(grep -c 'cannot accept tunnel connections' "$ilog" || true)
lab_stop "$hold_pid"
# Descriptors free again: a tcpcopy --check completes the handshake.
check_rc=0
lab_ns_exec "$LAB_NS_TC" "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" \
  -i "$fixtures/http_short.pcap" --check >"$LAB_DIR/check-after-emfile.out" 2>&1 || check_rc=$?
if ! lab_alive "$emfile_pid"; then
  fail "out of descriptors: intercept died"
elif ((cpu_ms * 2 > wall_ms)); then
  fail "out of descriptors: intercept spins: ${cpu_ms} ms of CPU in ${wall_ms} ms"
elif ((lines > 2)); then
  fail "out of descriptors: $lines log lines about it in ${wall_ms} ms: $(grep -m3 'cannot accept' "$ilog")"
elif ! grep -q 'answers the tunnel handshake' "$LAB_DIR/check-after-emfile.out"; then
  fail "out of descriptors: intercept does not serve again once they are free: $(cat "$LAB_DIR/check-after-emfile.out")"
else
  ok "out of descriptors: ${cpu_ms} ms of CPU in ${wall_ms} ms, $lines log line ('$(grep -m1 'cannot accept' "$ilog" | sed 's/^.*\] //')'), serves again after"
fi

e2e_end
