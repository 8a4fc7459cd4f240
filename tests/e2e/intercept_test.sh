#!/usr/bin/env bash
# intercept, end to end: a real nginx in the target namespace answers a SYN from a TEST-NET client
# address; the target's route for client networks points at the assistant namespace (ip_forward=0)
# where intercept captures the SYN-ACK with libpcap and ships its headers through the tunnel to
# tunnel_probe, a minimal tcpcopy stand-in that registered the route. Also checked: the secret
# (a wrong one is rejected), --allow, the pid file (a second instance is refused), one-line start-up
# errors for a missing device and a bad filter, the stats line, and a clean exit on SIGTERM; the
# tunnel closed to strangers by default (a non-loopback listen with neither --secret-file nor
# --allow is refused unless --insecure, which is warned about), a route another peer cannot take
# over, and -v printing the version.
#
# Usage: intercept_test.sh BUILD_DIR   (root; TUNNEL_PROBE=/path overrides the probe, which is
# BUILD_DIR/tests/e2e/tools/tunnel_probe by default)
#
# Network safety: the lab library builds namespaces with no default route and no link out, and
# tears them down on every exit path; every process here is started through it and stopped by PID.
set -euo pipefail

build=${1:?usage: intercept_test.sh BUILD_DIR}
build=$(realpath "$build")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/lab.sh
source "$here/lib/lab.sh"

lab_init icpt
intercept=$(lab_daemon "$build" intercept)
probe=${TUNNEL_PROBE:-$build/tests/e2e/tools/tunnel_probe}
[[ -x $probe ]] || lab_die "tunnel_probe not built: $probe (tests/CMakeLists.txt needs add_subdirectory(e2e/tools))"
lab_require_cmd curl nginx
lab_up

client_ip=192.0.2.77
port=36524
printf 'lab-secret-%s\n' "$$" >"$LAB_DIR/secret"
printf 'wrong-secret\n' >"$LAB_DIR/wrong"

# --- start-up errors: one clear line naming what is wrong, non-zero exit -----------------------
set +e
out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept" -b 127.0.0.1 -i nosuchdev0 2>&1); rc=$?
set -e
((rc != 0)) || lab_die "intercept started on a missing device"
[[ $(wc -l <<<"$out") -eq 1 && $out == *nosuchdev0* ]] || lab_die "missing device: expected one line naming it, got: $out"
set +e
out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept" -b 127.0.0.1 -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port eighty' 2>&1); rc=$?
set -e
((rc != 0)) || lab_die "intercept started with a bad filter"
[[ $(wc -l <<<"$out") -eq 1 && $out == *"src port eighty"* ]] || lab_die "bad filter: expected one line naming it, got: $out"
lab_log "start-up errors: ok"

# -v is the version, as with the original intercept (and tcpcopy): nothing starts.
for daemon in intercept tcpcopy; do
  out=$("$(lab_daemon "$build" "$daemon")" -v 2>&1) || lab_die "$daemon -v exited non-zero: $out"
  [[ $out =~ ^$daemon\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || lab_die "$daemon -v printed '$out', not the version"
  lab_log "$daemon -v prints '$out': ok"
done

# The tunnel is closed to strangers by default: on a non-loopback address without --secret-file or
# --allow, intercept refuses to start, saying what to give; --insecure starts it, with a warning.
set +e
# (timeout: an intercept that wrongly starts must fail the check, not hang the test)
out=$(timeout 20 ip netns exec "$LAB_NS_ASSIST" "$intercept" -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port 80' -p 36530 2>&1); rc=$?
set -e
if ((rc != 2)) || [[ $(wc -l <<<"$out") -ne 1 || $out != *"open to any host"* || $out != *--secret-file* ||
  $out != *--allow* || $out != *--insecure* ]]; then
  lab_die "open tunnel not refused: exit $rc, '$out'"
fi
lab_log "open tunnel refused: '$out'"
lab_bg intercept-insecure "$LAB_NS_ASSIST" "$intercept" -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port 80' \
  -b "$LAB_ASSIST_TUNNEL_IP" -p 36530 --insecure --stats-interval 0
insecure_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/intercept-insecure.log" "open to any host that reaches it \(--insecure" 15
lab_stop "$insecure_pid"
lab_log "--insecure: started, with the warning: ok"

# --- the real thing -------------------------------------------------------------------------
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80

lab_bg intercept "$LAB_NS_ASSIST" "$intercept" -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port 80' \
  -b "$LAB_ASSIST_TUNNEL_IP" -p "$port" --secret-file "$LAB_DIR/secret" --allow "$LAB_TC_TUNNEL_IP/32" \
  -P "$LAB_DIR/intercept.pid" --stats-interval 1 -s 1000 -l "$LAB_DIR/intercept-file.log"
intercept_pid=$LAB_LAST_PID
ilog=$LAB_DIR/intercept-file.log
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$port"
[[ $(cat "$LAB_DIR/intercept.pid") == "$intercept_pid" ]] || lab_die "pid file holds $(cat "$LAB_DIR/intercept.pid"), not $intercept_pid"

# A second instance with the same pid file is refused with one line.
set +e
out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept" -b 127.0.0.1 -i "$LAB_IF_ASSIST_TARGET" -p 36525 -P "$LAB_DIR/intercept.pid" 2>&1); rc=$?
set -e
if ((rc == 0)) || [[ $out != *"held by pid $intercept_pid"* ]]; then
  lab_die "second instance not refused: rc=$rc $out"
fi

# The client address lives on tc's loopback so curl can bind it; the target routes it via assist.
ip -n "$LAB_NS_TC" addr add "$client_ip/32" dev lo

# A wrong secret is rejected.
set +e
lab_ns_exec "$LAB_NS_TC" "$probe" --intercept "$LAB_ASSIST_TUNNEL_IP:$port" --secret-file "$LAB_DIR/wrong" \
  --route "$client_ip:40000,$LAB_TARGET_IP:80" --timeout 5 >"$LAB_DIR/probe-wrong.log" 2>&1
rc=$?
set -e
if ((rc != 3)) || ! grep -q "authentication failed (wrong secret)" "$LAB_DIR/probe-wrong.log"; then
  lab_die "wrong secret: probe exit $rc, $(cat "$LAB_DIR/probe-wrong.log")"
fi
grep -q "closed during handshake: authentication failed" "$ilog" || lab_die "auth failure not logged"
lab_log "wrong secret rejected: ok"

# The probe registers the route, then curl sends the SYN from that address and port.
lab_bg probe "$LAB_NS_TC" "$probe" --intercept "$LAB_ASSIST_TUNNEL_IP:$port" --secret-file "$LAB_DIR/secret" \
  --route "$client_ip:40001,$LAB_TARGET_IP:80" --timeout 20 --ready-file "$LAB_DIR/probe.ready"
probe_pid=$LAB_LAST_PID
for _ in $(seq 100); do [[ -e $LAB_DIR/probe.ready ]] && break; sleep 0.1; done
[[ -e $LAB_DIR/probe.ready ]] || lab_die "probe never connected: $(cat "$LAB_DIR/probe.log")"

# The SYN-ACK goes to the assistant and dies there, so curl can only time out.
lab_ns_exec "$LAB_NS_TC" curl -s --interface "$client_ip" --local-port 40001 --max-time 3 \
  "http://$LAB_TARGET_IP/" >/dev/null 2>&1 && lab_die "curl completed: the SYN-ACK was not diverted to the assistant"
rc=0
lab_wait_exit "$probe_pid" 20 || rc=$?
((rc == 0)) || lab_die "probe did not receive the SYN-ACK (exit $rc): $(cat "$LAB_DIR/probe.log")"
grep -Eq "^RESPONSE $client_ip:40001>$LAB_TARGET_IP:80 flags=SA .*iplen=(4[0-9]|5[0-9]|6[0-9]) payload=0 mss=[1-9]" \
  "$LAB_DIR/probe.log" || lab_die "unexpected SYN-ACK header: $(cat "$LAB_DIR/probe.log")"
lab_log "SYN-ACK through the tunnel: $(grep -m1 '^RESPONSE' "$LAB_DIR/probe.log")"

# A route belongs to the tcpcopy that added it: another authenticated peer announcing the same
# flow is refused (and logged), and the target's answer still goes to the owner. A bystander peer
# stays connected throughout, so that once the owner has left (and its route with it) the target's
# retransmitted SYN-ACKs do not reach the intruder as the lone peer's.
lab_bg bystander "$LAB_NS_TC" "$probe" --intercept "$LAB_ASSIST_TUNNEL_IP:$port" --secret-file "$LAB_DIR/secret" \
  --route "$client_ip:40009,$LAB_TARGET_IP:80" --timeout 120 --ready-file "$LAB_DIR/bystander.ready"
bystander_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/bystander.ready" ready 15
lab_bg probe2 "$LAB_NS_TC" "$probe" --intercept "$LAB_ASSIST_TUNNEL_IP:$port" --secret-file "$LAB_DIR/secret" \
  --route "$client_ip:40002,$LAB_TARGET_IP:80" --timeout 30 --ready-file "$LAB_DIR/probe2.ready"
probe2_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/probe2.ready" ready 15
lab_bg intruder "$LAB_NS_TC" python3 "$here/tunnel_peer.py" takeover "$LAB_ASSIST_TUNNEL_IP" "$port" \
  "$LAB_DIR/secret" "$client_ip:40002" "$LAB_TARGET_IP:80" 10 "$LAB_DIR/intruder.ready"
intruder_pid=$LAB_LAST_PID
lab_wait_file_match "$ilog" "refused ROUTE_ADD $client_ip:40002>$LAB_TARGET_IP:80 from tcpcopy peer" 15
lab_ns_exec "$LAB_NS_TC" curl -s --interface "$client_ip" --local-port 40002 --max-time 3 \
  "http://$LAB_TARGET_IP/" >/dev/null 2>&1 && lab_die "curl completed: the SYN-ACK was not diverted to the assistant"
rc=0
lab_wait_exit "$probe2_pid" 30 || rc=$?
((rc == 0)) || lab_die "the route's owner did not get its SYN-ACK after another peer announced the flow (exit $rc): $(cat "$LAB_DIR/probe2.log")"
rc=0
lab_wait_exit "$intruder_pid" 30 || rc=$?
grep -qx 'responses 0' "$LAB_DIR/intruder.log" || lab_die "the intruder received responses: $(cat "$LAB_DIR/intruder.log")"
lab_stop "$bystander_pid"
lab_log "route takeover refused: $(grep -m1 'refused ROUTE_ADD' "$ilog" | sed 's/^.*\] //')"

# The periodic stats line counts it.
lab_wait_file_match "$ilog" "stats: captured=[1-9][0-9]* forwarded=[1-9]" 30

# A connection from outside --allow (only the tc end, $LAB_TC_TUNNEL_IP/32, is allowed) is refused
# and logged: a probe inside the assistant namespace connects from the tunnel address itself.
set +e
lab_ns_exec "$LAB_NS_ASSIST" "$probe" --intercept "$LAB_ASSIST_TUNNEL_IP:$port" --secret-file "$LAB_DIR/secret" \
  --route "$client_ip:40003,$LAB_TARGET_IP:80" --timeout 3 >"$LAB_DIR/probe-refused.log" 2>&1
rc=$?
set -e
if ((rc != 3)) || ! grep -q "not allowed" "$LAB_DIR/probe-refused.log"; then
  lab_die "peer outside --allow: exit $rc, $(cat "$LAB_DIR/probe-refused.log")"
fi
grep -q "refused tunnel connection from $LAB_ASSIST_TUNNEL_IP" "$ilog" || lab_die "refusal not logged"
lab_log "--allow: ok"

# SIGHUP reopens the log file after rotation; SIGTERM shuts down through the loop, removes the
# pid file and exits 0.
mv "$ilog" "$ilog.1"
kill -HUP "$intercept_pid"
lab_wait_file_match "$ilog" "stats: captured=" 30
lab_alive "$intercept_pid" || lab_die "intercept died on SIGHUP"
kill -TERM "$intercept_pid"
rc=0
lab_wait_exit "$intercept_pid" 30 || rc=$?
((rc == 0)) || lab_die "intercept exit status $rc after SIGTERM"
[[ ! -e $LAB_DIR/intercept.pid ]] || lab_die "pid file left behind"
grep -Eq "shutting down: stats: captured=[1-9]" "$ilog" || lab_die "no final stats line"
lab_log "PASS"
