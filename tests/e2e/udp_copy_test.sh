#!/usr/bin/env bash
# UDP copy end to end (-x udp:...): dig in the client namespace asks a real resolver (dnsmasq) in
# the online namespace; tcpdump records the queries there (and a few HTTP requests to nginx).
# Then:
#   offline      tcpcopy replays that capture with -x udp:53-TARGET:53 against a second dnsmasq
#                in the target namespace; its answers route to the assistant, where intercept's
#                filter takes UDP from port 53 too: tcpcopy counts every answer (udp.responses,
#                each replayed flow answered), as many as the target sent (an nft counter there);
#   no intercept the same without -s: UDP copy needs no intercept;
#   offline -n 2 the same, faster (-a), each query twice from two client ports;
#   mixed        -x 80-TARGET:80,udp:53-TARGET:53 in one run: nginx and dnsmasq both get theirs;
#   live         tcpcopy in the online namespace copies dig's queries as they happen (packet ring,
#                then libpcap on the client-side device) to a third dnsmasq.
# Checks: the target resolver's query log holds exactly the online resolver's queries (type,
# name and client address; a multiset, twice with -n 2); the summary and the report count them
# and the answers;
# a UDP packet to another port in the capture is not copied.
# Usage: udp_copy_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd dnsmasq dig tcpdump curl python3

lab_init udp
lab_up

# start_dnsmasq NAME NS IP : a resolver answering from its own records only, every query logged
# to $LAB_DIR/NAME.log.
start_dnsmasq() {
  local name=$1 ns=$2 ip=$3
  lab_bg "$name.out" "$ns" dnsmasq --no-daemon --user=root --group=root --no-resolv --no-hosts \
    --bind-interfaces --listen-address="$ip" --port=53 --pid-file="$LAB_DIR/$name.pid" \
    --log-queries=extra --log-facility="$LAB_DIR/$name.log" \
    --address=/www.example.test/198.18.9.1 --host-record=db.example.test,198.18.9.2,2001:db8::2 \
    --mx-host=example.test,mail.example.test,10 --txt-record=example.test,udp-copy-test
  lab_wait_port "$ns" "$ip" 53 15
}
# queries FILE [FROM_LINE] : "TYPE NAME CLIENT" of each query the resolver logged, sorted.
queries() {
  tail -n "+${2:-1}" "$1" 2>/dev/null | sed -nE 's/.*query\[([A-Za-z0-9]+)\] ([^ ]+) from ([^ ]+)$/\1 \2 \3/p' |
    LC_ALL=C sort
}
count_queries() { queries "$@" | wc -l; }
# copies_apart ONLINE_LOG TARGET_LOG FROM_LINE : with -n 2, each captured query (one per type,
# name and client in a round) reached the target twice, from two client ports, one of them the
# captured port (--log-queries=extra logs the port). Prints what does not hold; empty when all do.
copies_apart() {
  python3 - "$@" <<'PY'
import collections, re, sys
line = re.compile(r" ([0-9.]+)/([0-9]+) query\[(\w+)\] (\S+) from ")
def read(path, start=1):
    out = collections.defaultdict(list)
    with open(path) as f:
        for n, text in enumerate(f, 1):
            m = line.search(text)
            if n >= start and m:
                out[(m[3], m[4], m[1])].append(int(m[2]))
    return out
online, target = read(sys.argv[1]), read(sys.argv[2], int(sys.argv[3]))
for key, ports in online.items():
    got = target.get(key, [])
    if len(ports) != 1 or len(got) != 2 or len(set(got)) != 2 or ports[0] not in got:
        print(key, "captured from", ports, "target saw", got)
PY
}
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# twice FILE : every line of FILE twice, sorted.
twice() { LC_ALL=C sort "$1" "$1"; }
# wait_for_queries FILE FROM_LINE COUNT : until the resolver logged COUNT queries (20 s: a broken
# replay's deadline, not a pace).
wait_for_queries() {
  local i
  for ((i = 0; i < 200; i++)); do
    (($(count_queries "$1" "$2") >= $3)) && return 0
    sleep 0.1
  done
  return 1
}
# dig_round TAG : the client namespace's queries, from two client addresses; fails the test on
# an unanswered one.
dig_round() {
  local q from
  for from in 192.0.2.10 192.0.2.11; do
    for q in "www.example.test A" "www.example.test AAAA" "db.example.test A" "db.example.test AAAA" \
      "example.test MX" "example.test TXT" "nothing.example.test A" "$1.example.test A"; do
      # shellcheck disable=SC2086 # name and type are two words
      lab_ns_exec "$LAB_NS_CLIENT" dig -b "$from" @"$LAB_ONLINE_IP" $q +tries=1 +time=5 >/dev/null ||
        fail "dig $q from $from got no answer from the online resolver"
    done
  done
}

start_dnsmasq dns-online "$LAB_NS_ONLINE" "$LAB_ONLINE_IP"
start_dnsmasq dns-target "$LAB_NS_TARGET" "$LAB_TARGET_IP"
start_dnsmasq dns-live "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP"
lab_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
online_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
target_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "(tcp and src port 80) or (udp and src port 53)" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

e2e_begin udp_copy_test

# The answers the target's resolver sends, counted by nft in its namespace (what intercept could
# capture: the target routes the client networks to the assistant).
lab_ns_exec "$LAB_NS_TARGET" nft -f - <<EOF
table ip udpcopy {
  chain out { type filter hook output priority 0; ip saddr $LAB_TARGET_IP udp sport 53 counter; }
}
EOF
answers_sent() {
  lab_ns_exec "$LAB_NS_TARGET" nft list chain ip udpcopy out | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# --- The capture: DNS and HTTP from the client namespace, then a sentinel datagram to port 9.
lab_capture_start dns "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT" "udp or tcp port 80"
capture_pid=$LAB_LAST_PID
dig_round captured
for i in 1 2 3; do
  lab_ns_exec "$LAB_NS_CLIENT" curl -sf -o /dev/null "http://$LAB_ONLINE_IP/index.html?n=$i" ||
    fail "curl $i to the online nginx"
done
lab_ns_exec "$LAB_NS_CLIENT" bash -c "echo sentinel >/dev/udp/$LAB_ONLINE_IP/9"
lab_capture_stop "$capture_pid" "$LAB_DIR/dns.pcap" "udp and dst port 9"
pcap=$LAB_DIR/dns.pcap
queries "$LAB_DIR/dns-online.log" >"$LAB_DIR/expected"
expected_count=$(wc -l <"$LAB_DIR/expected")
captured=$(lab_pcap_count "$pcap" udp and dst port 53)
if ((expected_count == 16 && captured == 16)); then
  ok "capture: the online resolver answered 16 queries, all 16 in the capture"
else
  fail "capture: the online resolver logged $expected_count queries, the capture holds $captured (want 16)"
fi

# offline_case NAME COPIES ARGS... : replay the capture, then compare the target's new queries.
offline_case() {
  local name=$1 copies=$2 from
  shift 2
  from=$(($(lines "$LAB_DIR/dns-target.log") + 1))
  answers_from=$(answers_sent)
  run_tcpcopy "$name" -i "$pcap" "$@"
  tcpcopy_summary "$name"
  ((tc_rc == 0)) && ok "$name: exit 0" || fail "$name: exit $tc_rc"
  wait_for_queries "$LAB_DIR/dns-target.log" "$from" $((copies * expected_count)) || true
  queries "$LAB_DIR/dns-target.log" "$from" >"$LAB_DIR/$name.got"
  if ((copies == 1)); then cp "$LAB_DIR/expected" "$LAB_DIR/$name.want"; else twice "$LAB_DIR/expected" >"$LAB_DIR/$name.want"; fi
  if diff -u "$LAB_DIR/$name.want" "$LAB_DIR/$name.got"; then
    ok "$name: the target resolver got exactly the captured queries x$copies ($(wc -l <"$LAB_DIR/$name.got"))"
  else
    fail "$name: the target resolver's queries differ from the capture's (x$copies)"
  fi
  local matched sent
  matched=$(report_value "$name" udp.matched)
  sent=$(report_value "$name" udp.sent)
  if [[ $matched == "$expected_count" && $sent == $((copies * expected_count)) ]]; then
    ok "$name: report: $matched datagrams matched, $sent sent"
  else
    fail "$name: report: udp.matched=$matched udp.sent=$sent (want $expected_count, $((copies * expected_count)))"
  fi
  # tcpcopy exits once every flow it announced had an answer (--udp-wait 120 bounds a broken run).
  local answered responses routes flows
  answered=$(($(answers_sent) - answers_from))
  responses=$(report_value "$name" udp.responses)
  routes=$(report_value "$name" udp.routes)
  flows=$(report_value "$name" udp.flows_answered)
  if ((answered == copies * expected_count)) && [[ $responses == "$answered" && $flows == "$routes" ]] &&
    ((routes > 0)); then
    ok "$name: $responses answers counted through intercept, as many as the target sent; all $routes flows answered"
  else
    fail "$name: udp.responses=$responses, the target sent $answered answers; flows answered $flows of $routes"
  fi
}

offline_case offline-1x 1 -x "udp:53-$LAB_TARGET_IP:53" --udp-wait 120
grep -q "udp: $expected_count datagrams matched" "$LAB_DIR/tcpcopy-offline-1x.log" &&
  ok "offline-1x: the summary has the udp line" || fail "offline-1x: no udp line in the summary"
grep -q "udp answers through intercept: $expected_count " "$LAB_DIR/tcpcopy-offline-1x.log" &&
  ok "offline-1x: the summary counts the answers" || fail "offline-1x: no udp answers line in the summary"

n2_from=$(($(lines "$LAB_DIR/dns-target.log") + 1))
offline_case offline-n2 2 -x "udp:53-$LAB_TARGET_IP:53" -n 2 -a 100 --udp-wait 120
apart=$(copies_apart "$LAB_DIR/dns-online.log" "$LAB_DIR/dns-target.log" "$n2_from")
if [[ -z $apart ]]; then
  ok "offline-n2: each query came twice, from its captured client port and another one"
else
  fail "offline-n2: copies not told apart by port: $apart"
fi

nginx_from=$(($(lines "$target_nginx_log") + 1))
offline_case mixed 1 -x "tcp:80-$LAB_TARGET_IP:80,udp:53-$LAB_TARGET_IP:53" -a 10 --udp-wait 120
online_requests=$(lines "$online_nginx_log")
target_requests=$(tail -n "+$nginx_from" "$target_nginx_log" | wc -l)
if ((online_requests == 3 && target_requests == 3)); then
  ok "mixed: nginx got the 3 captured HTTP requests in the same run"
else
  fail "mixed: target nginx got $target_requests HTTP requests, the online one $online_requests (want 3)"
fi

# Without -s: UDP copy alone, no tunnel, nothing waited for. Last of the offline cases: intercept
# holds the answers to these unannounced flows for --hold-ms, and a later replay of the same
# capture (copy 0 keeps the captured client ports) would announce the same flows within it.
from=$(($(lines "$LAB_DIR/dns-target.log") + 1))
lab_bg tcpcopy-no-intercept "$LAB_NS_TC" "$tcpcopy_bin" --stats-interval 0 -x "udp:53-$LAB_TARGET_IP:53" \
  -i "$pcap" --report "$LAB_DIR/no-intercept.json"
tc_rc=0
lab_wait_exit "$LAB_LAST_PID" 120 || tc_rc=$?
wait_for_queries "$LAB_DIR/dns-target.log" "$from" "$expected_count" || true
if ((tc_rc == 0)) && (($(count_queries "$LAB_DIR/dns-target.log" "$from") == expected_count)) &&
  [[ $(report_value no-intercept udp.routes) == 0 ]] && ! grep -q "tunnel:" "$LAB_DIR/tcpcopy-no-intercept.log"; then
  ok "no intercept: exit 0, $expected_count queries copied, no tunnel, no flow announced"
else
  fail "no intercept: exit $tc_rc, $(count_queries "$LAB_DIR/dns-target.log" "$from") queries, udp.routes=$(report_value no-intercept udp.routes)"
fi

# --- Live: tcpcopy in the online namespace, the packet ring then libpcap on the client side.
live_case() {
  local name=$1 online_from live_from n
  shift
  online_from=$(($(lines "$LAB_DIR/dns-online.log") + 1))
  live_from=$(($(lines "$LAB_DIR/dns-live.log") + 1))
  lab_bg "tcpcopy-$name" "$LAB_NS_ONLINE" "$tcpcopy_bin" -x "udp:53-$LAB_TARGET_LIVE_IP:53" \
    --stats-interval 0 --report "$LAB_DIR/$name.json" "$@"
  tc_pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/tcpcopy-$name.log" 'replay started' 20
  dig_round "$name"
  queries "$LAB_DIR/dns-online.log" "$online_from" >"$LAB_DIR/$name.want"
  n=$(wc -l <"$LAB_DIR/$name.want")
  wait_for_queries "$LAB_DIR/dns-live.log" "$live_from" "$n" || true
  kill -TERM "$tc_pid"
  tc_rc=0
  lab_wait_exit "$tc_pid" 15 || tc_rc=$?
  ((tc_rc == 124)) && lab_stop "$tc_pid" 2
  sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy-$name.log"
  ((tc_rc == 0)) && ok "$name: exit 0 after SIGTERM" || fail "$name: exit $tc_rc"
  queries "$LAB_DIR/dns-live.log" "$live_from" >"$LAB_DIR/$name.got"
  if ((n == 16)) && diff -u "$LAB_DIR/$name.want" "$LAB_DIR/$name.got"; then
    ok "$name: the target resolver got exactly the live queries ($n)"
  else
    fail "$name: the target resolver's queries differ from the online resolver's ($n online)"
  fi
}
live_case live-ring
live_case live-libpcap -i "$LAB_IF_ONLINE_CLIENT"

e2e_end
