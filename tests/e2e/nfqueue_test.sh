#!/usr/bin/env bash
# intercept on the target itself (--nfqueue): no assistant host. The target's route to the client
# networks leads to a plain neighbour (the lab's assist namespace, where no intercept runs and
# nothing forwards): a response that left the target would show up there. An iptables rule in the
# target queues every response of nginx (sport 80) to NFQUEUE 7; intercept, in the target
# namespace, takes the replayed clients' responses (dropped: they never leave) and lets the rest
# through. Checks: --check sees the rule; a replay delivers every request and no response reaches
# the neighbour; a real client in the pass list gets its answer; one outside it gets its answer
# after --hold-ms; with intercept killed, --queue-bypass keeps the target serving.
# Usage: nfqueue_test.sh BUILD_DIR   (root)
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
lab_require_cmd iptables curl

lab_init nfq
lab_up
e2e_begin nfqueue_test
queue=7
# A second address of the tc namespace on the target's link: a real client outside the pass list.
other_client=198.18.1.3
ip -n "$LAB_NS_TC" addr add "$other_client/24" dev "$LAB_IF_TC_TARGET"

lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG

intercept_args=(--nfqueue "$queue" -x "$LAB_TC_IP" --hold-ms 300 --fail-open -b "$LAB_TARGET_IP"
  -p "$LAB_TUNNEL_PORT" --allow "$LAB_TUNNEL_ALLOW")

# --check before the rule exists: a problem naming the queue, and a non-zero exit.
check_rc=0
lab_ns_exec "$LAB_NS_TARGET" "$intercept_bin" "${intercept_args[@]}" --check >"$LAB_DIR/check-norule.txt" 2>&1 ||
  check_rc=$?
if ((check_rc != 0)) && grep -q "problem: no netfilter rule queues packets to NFQUEUE $queue" "$LAB_DIR/check-norule.txt"; then
  ok "--check without the rule: says so and exits $check_rc"
else
  fail "--check without the rule: exit $check_rc"
  cat "$LAB_DIR/check-norule.txt" >&2
fi

lab_ns_exec "$LAB_NS_TARGET" iptables -A OUTPUT -p tcp --sport 80 -j NFQUEUE --queue-num "$queue" --queue-bypass ||
  lab_die "cannot add the NFQUEUE rule in the target namespace"

check_rc=0
lab_ns_exec "$LAB_NS_TARGET" "$intercept_bin" "${intercept_args[@]}" --check >"$LAB_DIR/check-rule.txt" 2>&1 ||
  check_rc=$?
if ((check_rc == 0)) && grep -q "ok: a netfilter rule queues packets to NFQUEUE $queue" "$LAB_DIR/check-rule.txt"; then
  ok "--check with the rule: all checks passed"
else
  fail "--check with the rule: exit $check_rc"
  cat "$LAB_DIR/check-rule.txt" >&2
fi

lab_bg intercept "$LAB_NS_TARGET" "$intercept_bin" "${intercept_args[@]}" --stats-interval 0
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_TARGET" "$LAB_TARGET_IP" "$LAB_TUNNEL_PORT" 15
lab_wait_file_match "$LAB_DIR/intercept.log" "reading NFQUEUE $queue .*fail-open" 15

# The neighbour sees whatever leaves the target for the client networks; a UDP datagram sent after
# the replay marks the end of what matters.
lab_capture_start neighbour "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TARGET" "tcp src port 80 or udp port 9"
capture_pid=$LAB_LAST_PID

# A replay through intercept on the target: every request of the capture, exactly.
: >"$nginx_log"
lab_bg tcpcopy-replay "$LAB_NS_TC" "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80" -s "$LAB_TARGET_IP" \
  -i "$fixtures/http_short.pcap" --stats-interval 0 --report "$LAB_DIR/replay.json"
tc_rc=0
lab_wait_exit "$LAB_LAST_PID" 120 || tc_rc=$?
lab_nginx_settle "$nginx_log"
lab_requests_nginx "$nginx_log" >"$LAB_DIR/replay.got"
LC_ALL=C sort "$fixtures/http_short.requests.txt" >"$LAB_DIR/replay.golden"
if ((tc_rc != 0)); then
  fail "replay: tcpcopy exited $tc_rc"
  sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy-replay.log" >&2
elif diff -u "$LAB_DIR/replay.golden" "$LAB_DIR/replay.got" >"$LAB_DIR/replay.diff"; then
  ok "replay: $(wc -l <"$LAB_DIR/replay.golden") requests, exactly as captured"
else
  fail "replay: the target's requests differ from the capture's"
  head -20 "$LAB_DIR/replay.diff" >&2
fi
completed=$(report_value replay sessions.completed)
started=$(report_value replay sessions.started)
if [[ $completed == "$started" && $started != 0 && $started != none ]]; then
  ok "replay: all $started sessions completed (the target's answers came through the queue)"
else
  fail "replay: $completed of $started sessions completed"
fi

lab_ns_exec "$LAB_NS_TARGET" bash -c "echo end >/dev/udp/$LAB_ASSIST_IP/9" || lab_die "cannot send the end marker"
lab_capture_stop "$capture_pid" "$LAB_DIR/neighbour.pcap" "udp port 9"
leaked=$(lab_pcap_count "$LAB_DIR/neighbour.pcap" tcp src port 80)
if ((leaked == 0)); then
  ok "no response of the replay left the target (0 at the neighbour)"
else
  fail "$leaked responses of the replay left the target"
fi

# Real clients of the target: the pass list at once, another after --hold-ms; both get answers.
if lab_ns_exec "$LAB_NS_TC" curl -sf --max-time 30 -o /dev/null "http://$LAB_TARGET_IP/api/pass-list-client"; then
  ok "a client in the pass list (-x $LAB_TC_IP) gets its answer"
else
  fail "a client in the pass list got no answer"
fi
if lab_ns_exec "$LAB_NS_TC" curl -sf --max-time 30 --interface "$other_client" -o /dev/null \
  "http://$LAB_TARGET_IP/api/other-client"; then
  ok "a client outside the pass list and without a route gets its answer (accepted after --hold-ms)"
else
  fail "a client outside the pass list got no answer"
fi

# intercept's own account, in its last words: responses forwarded (and dropped), packets passed.
lab_stop "$intercept_pid"
stats=$(grep 'shutting down: stats:' "$LAB_DIR/intercept.log" | tail -1)
forwarded=$(sed -n 's/.* forwarded=\([0-9]*\).*/\1/p' <<<"$stats")
passed_packets=$(sed -n 's/.* passed=\([0-9]*\).*/\1/p' <<<"$stats")
if ((${forwarded:-0} > 0 && ${passed_packets:-0} > 0)); then
  ok "intercept forwarded $forwarded responses and let $passed_packets packets through"
else
  fail "intercept's counters: '$stats'"
fi

# With intercept gone (killed, not stopped), the rule's --queue-bypass keeps the target serving.
lab_bg intercept2 "$LAB_NS_TARGET" "$intercept_bin" "${intercept_args[@]}" --stats-interval 0
intercept2_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/intercept2.log" "reading NFQUEUE $queue" 15
kill -KILL "$intercept2_pid"
lab_wait_exit "$intercept2_pid" 10 || true
if lab_ns_exec "$LAB_NS_TC" curl -sf --max-time 30 --interface "$other_client" -o /dev/null \
  "http://$LAB_TARGET_IP/api/after-kill"; then
  ok "intercept killed: the target still serves its clients (--queue-bypass)"
else
  fail "intercept killed: the target stopped serving"
fi

e2e_end
