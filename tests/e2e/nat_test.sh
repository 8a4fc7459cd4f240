#!/usr/bin/env bash
# intercept -D/--nat: a target behind DNAT. A load balancer namespace ("lb") sits between tcpcopy
# and the target: tcpcopy sends to the service address 198.18.6.2:80, the lb rewrites it to the
# target's real address 198.18.7.2:8080 (stateless DNAT, nft, as a DSR load balancer does) and
# forwards. The target answers from 198.18.7.2:8080 straight to the client networks' route, the
# assistant (direct server return): the responses intercept captures carry the post-DNAT source,
# which no flow tcpcopy announced (client ip:port > 198.18.6.2:80) matches.
#
#   tc --198.18.6.0/24-- lb --198.18.7.0/24-- target --198.18.2.0/24--> assist (intercept)
#   (tunnel tc 198.18.3.1 -> assist 198.18.3.2 as in every lab)
#
# Checks: a bad -D is one line naming -D and the text, exit 2; without -D the replay of
# http_short.pcap completes no session and the target gets none of its requests; with
# -D 198.18.7.2:8080-198.18.6.2:80 every request of the capture reaches nginx exactly and every
# session completes, intercept counting the rewritten responses; the same when the lb also
# translates the client (--nat-client, the original intercept's -D); the same with intercept on
# the target in NFQUEUE mode (--nfqueue, the rewrite in onQueued).
# Usage: nat_test.sh BUILD_DIR   (root)
#
# Network safety: every namespace is the lab's (deleted on exit); the lb forwards only between
# its two lab links; no namespace has a default route.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source-path=SCRIPTDIR source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source-path=SCRIPTDIR source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd nft iptables nginx

lab_init nat
lab_up
e2e_begin nat_test

service_ip=198.18.6.2 # what tcpcopy sends to (the lb's address)
service_port=80
real_ip=198.18.7.2 # where the target's nginx listens, behind the DNAT
real_port=8080
queue=7
nat="$real_ip:$real_port-$service_ip:$service_port"

# --- the lb namespace and its links ------------------------------------------------------------
LAB_NS_LB="$LAB_TAG-lb"
_lab_add_ns "$LAB_NS_LB"
_lab_link "$LAB_NS_TC" to-lb "$LAB_NS_LB" to-tc
_lab_link "$LAB_NS_LB" to-target "$LAB_NS_TARGET" to-lb
ip -n "$LAB_NS_TC" addr add 198.18.6.1/24 dev to-lb
ip -n "$LAB_NS_LB" addr add "$service_ip/24" dev to-tc
ip -n "$LAB_NS_LB" addr add 198.18.7.1/24 dev to-target
ip -n "$LAB_NS_TARGET" addr add "$real_ip/24" dev to-lb
for ifc in all default to-tc to-target; do
  _lab_sysctl "$LAB_NS_LB" "net.ipv4.conf.$ifc.rp_filter=0"
done
_lab_sysctl "$LAB_NS_TARGET" net.ipv4.conf.to-lb.rp_filter=0
_lab_sysctl "$LAB_NS_LB" net.ipv4.ip_forward=1
# Stateless DNAT before connection tracking (the lb never sees the answers, so conntrack could
# not follow the connections): destination and port rewritten, checksums fixed by nft.
lab_ns_exec "$LAB_NS_LB" nft -f - <<EOF || lab_die "cannot load the lb's nft rules"
table ip lb {
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip daddr $service_ip tcp dport $service_port notrack ip daddr set $real_ip tcp dport set $real_port
  }
}
EOF

lab_start_nginx "$LAB_NS_TARGET" "$real_ip" "$real_port"
nginx_log=$LAB_NGINX_ACCESS_LOG
peers_log=$LAB_NGINX_PEERS_LOG
LC_ALL=C sort "$fixtures/http_short.requests.txt" >"$LAB_DIR/golden"

# --- a bad mapping: one line naming -D and the text, exit 2 ---------------------------------------
rc=0
out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept_bin" -b 127.0.0.1 -D "$real_ip:$real_port-198.18.6" 2>&1) || rc=$?
if ((rc == 2)) && [[ $(wc -l <<<"$out") -eq 1 && $out == *-D* && $out == *"'198.18.6' is not an IPv4 or IPv6 address"* ]]; then
  ok "bad -D refused: '$out' (exit 2)"
else
  fail "bad -D: exit $rc, '$out'"
fi
# NAT mappings stay IPv4: an IPv6 side is refused in one line, for -D and --nat-client alike.
for flag in -D --nat-client; do
  rc=0
  out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept_bin" -b 127.0.0.1 "$flag" "[fd00:198:18:6::2]:$real_port-[fd00:198:18:1::2]:80" 2>&1) || rc=$?
  if ((rc == 2)) && [[ $(wc -l <<<"$out") -eq 1 && $out == *"$flag"* && $out == *"is IPv6: NAT mappings are IPv4 only"* ]]; then
    ok "IPv6 $flag refused: '$out' (exit 2)"
  else
    fail "IPv6 $flag: exit $rc, '$out'"
  fi
done

assist_args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port $real_port" -b "$LAB_ASSIST_TUNNEL_IP"
  -p "$LAB_TUNNEL_PORT" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0)
run_tcpcopy_args=(-x "$service_port-$service_ip:$service_port" -i "$fixtures/http_short.pcap")

# start_intercept NAME NS ARGS... : one intercept; returns once its tunnel listens.
start_intercept() {
  local name=$1 ns=$2
  shift 2
  lab_bg "$name" "$ns" "$intercept_bin" "$@"
  intercept_pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/$name.log" "intercept listening on" 15
}

# stop_intercept NAME : SIGTERM, then prints the final stats line.
stop_intercept() {
  lab_stop "$intercept_pid"
  grep 'shutting down: stats:' "$LAB_DIR/$1.log" | tail -1
}

stat_of() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

# replay NAME ARGS... : the capture replayed, then nginx settled; requests in $LAB_DIR/NAME.got.
# With tcpcopy_intercept set, tcpcopy's tunnel goes there instead of the assistant.
replay() {
  local name=$1
  shift
  : >"$nginx_log"
  if [[ -n ${tcpcopy_intercept:-} ]]; then
    lab_bg "tcpcopy-$name" "$LAB_NS_TC" "$tcpcopy_bin" -s "$tcpcopy_intercept" --stats-interval 0 \
      --report "$LAB_DIR/$name.json" "${run_tcpcopy_args[@]}" "$@"
    tc_rc=0
    lab_wait_exit "$LAB_LAST_PID" 120 || tc_rc=$?
  else
    run_tcpcopy "$name" "$@"
  fi
  lab_nginx_settle "$nginx_log"
  lab_requests_nginx "$nginx_log" >"$LAB_DIR/$name.got"
}

# expect_exact NAME WHAT : every request of the capture reached nginx exactly, every session completed.
expect_exact() {
  local name=$1 what=$2 started completed
  if diff -u "$LAB_DIR/golden" "$LAB_DIR/$name.got" >"$LAB_DIR/$name.diff"; then
    ok "$what: the target received the capture's $(wc -l <"$LAB_DIR/golden") requests exactly"
  else
    fail "$what: the target's requests differ from the capture's (tcpcopy exit $tc_rc)"
    head -20 "$LAB_DIR/$name.diff" >&2
    tcpcopy_summary "$name" >&2
  fi
  started=$(report_value "$name" sessions.started)
  completed=$(report_value "$name" sessions.completed)
  if [[ $started != none && $started != 0 && $completed == "$started" ]]; then
    ok "$what: all $started sessions completed"
  else
    fail "$what: $completed of $started sessions completed"
  fi
}

# expect_rewritten MODE STATS : intercept's last stats line counts rewritten, forwarded responses.
expect_rewritten() {
  local rewritten
  rewritten=$(stat_of "$2" nat-rewritten)
  if ((rewritten > 0 && $(stat_of "$2" forwarded) > 0)); then
    ok "-D ($1): intercept rewrote $rewritten responses"
  else
    fail "-D ($1): intercept's counters: '$2'"
  fi
}

# --- without -D: the responses match no flow ---------------------------------------------------
start_intercept intercept-plain "$LAB_NS_ASSIST" "${assist_args[@]}"
replay plain -f 1 --syn-retries 1
stats=$(stop_intercept intercept-plain)
started=$(report_value plain sessions.started)
completed=$(report_value plain sessions.completed)
got=$(wc -l <"$LAB_DIR/plain.got")
if [[ $started != none && $started != 0 && $completed == 0 && $got == 0 ]]; then
  ok "without -D: 0 of $started sessions completed, 0 requests reached the target (exit $tc_rc)"
else
  fail "without -D: $completed of $started sessions completed, $got requests reached the target"
fi
# The target did answer: intercept captured its responses from $real_ip:$real_port, found no route
# for them (with one tcpcopy connected it hands such responses to it all the same) and tcpcopy
# matched none of them to a session.
seen=$(report_value plain responses_seen)
unknown=$(report_value plain responses_unknown)
if [[ $seen == 0 && $unknown =~ ^[1-9][0-9]*$ ]] && (($(stat_of "$stats" captured) > 0 &&
  $(stat_of "$stats" nat-rewritten) == 0)); then
  ok "without -D: the target's $unknown responses reached tcpcopy but matched no session"
else
  fail "without -D: responses seen $seen, unknown $unknown; intercept: '$stats'"
fi

# --- with -D on the assistant (libpcap) ----------------------------------------------------------
start_intercept intercept-nat "$LAB_NS_ASSIST" "${assist_args[@]}" -D "$nat"
replay nat -f 2
stats=$(stop_intercept intercept-nat)
expect_exact nat "-D $nat (libpcap)"
expect_rewritten "libpcap" "$stats"

# --- --nat-client: the client translated too (the original intercept's -D) ----------------------
# The lb also rewrites the replayed client 192.0.2.10 to 198.51.100.77 (stateless, as a proxy or
# docker's SNAT that the answers bypass): nginx answers 198.51.100.77, which the target routes to
# the assistant; intercept readdresses those answers to 192.0.2.10 and they match their sessions.
translated=198.51.100.77
lab_ns_exec "$LAB_NS_LB" nft -f - <<EOF || lab_die "cannot load the lb's client translation"
table ip lbclient {
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip saddr $LAB_CLIENT_IP notrack ip saddr set $translated
  }
}
EOF
start_intercept intercept-client "$LAB_NS_ASSIST" "${assist_args[@]}" -D "$nat" \
  --nat-client "$translated-$LAB_CLIENT_IP"
peers_from=$(($(cat "$peers_log" 2>/dev/null | wc -l) + 1))
replay client -f 4 -c "$LAB_CLIENT_IP"
stats=$(stop_intercept intercept-client)
lab_ns_exec "$LAB_NS_LB" nft delete table ip lbclient
peers=$(tail -n "+$peers_from" "$peers_log" | cut -d' ' -f1 | sort -u | tr '\n' ' ')
if [[ $peers == "$translated " ]]; then
  ok "--nat-client: nginx saw every replayed connection come from $translated"
else
  fail "--nat-client: nginx saw the replayed connections from: '$peers'"
fi
expect_exact client "--nat-client $translated-$LAB_CLIENT_IP with -D"
expect_rewritten "libpcap, --nat-client" "$stats"

# --- with -D on the target (NFQUEUE) -------------------------------------------------------------
lab_ns_exec "$LAB_NS_TARGET" iptables -A OUTPUT -p tcp --sport "$real_port" -j NFQUEUE --queue-num "$queue" \
  --queue-bypass || lab_die "cannot add the NFQUEUE rule in the target namespace"
# (-x: nginx's answers to lab_nginx_settle's request, sent from the target itself, pass at once)
start_intercept intercept-queue "$LAB_NS_TARGET" --nfqueue "$queue" -x "$real_ip" -b "$LAB_TARGET_IP" \
  -p "$LAB_TUNNEL_PORT" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0 -D "$nat"
tcpcopy_intercept=$LAB_TARGET_IP
replay queue -f 3
stats=$(stop_intercept intercept-queue)
expect_exact queue "-D $nat (NFQUEUE)"
expect_rewritten "NFQUEUE" "$stats"

e2e_end
