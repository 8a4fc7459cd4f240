#!/usr/bin/env bash
# IPv6 end to end (issue #16). The lab gets IPv6 addresses (lab_up_v6: hosts in fd00:198:18::/48,
# clients in 2001:db8::/32, the target routing 2001:db8::/32 via the assistant), intercept on the
# assistant listens dual stack (-b ::) and captures the target's IPv6 answers.
#
#   capture    real clients (curl, redis-cli) use nginx and redis-server listening on IPv6 on the
#              online host, then IPv4 clients do the same; tcpdump on the clients' link records both:
#              v6.pcap (the IPv6 sessions) and mixed.pcap (all). The online servers' logs are the
#              golden request lists.
#   offline    tcpcopy replays v6.pcap at 1x, -a 1000 and -n 3 -a 1000 over an IPv6 tunnel, mixed.pcap
#              (one rule per family) over an IPv4 tunnel, and v6.pcap with a destination-options
#              extension header put into every client packet: the target's nginx log and redis
#              MONITOR equal the online server's (times -n), request by request.
#   nfqueue    intercept --nfqueue on the target, an ip6tables NFQUEUE rule: the IPv6 replay's
#              requests all arrive and no answer leaves the target.
#   live       tcpcopy on the online host copies IPv6 clients (one of them sending every packet
#              with a destination-options header) as they happen, with the packet ring and with
#              libpcap (-i): the target gets exactly the online requests, nothing is dropped.
#   intercept  tunnel_probe (a tcpcopy stand-in) gets the SYN-ACK of an IPv6 flow through a tunnel
#              over IPv6, and of an IPv4 flow through a tunnel over IPv4, from the same intercept.
#
# Usage: ipv6_test.sh BUILD_DIR   (root; the deployment it mirrors: docs/live-replay.md, "IPv6")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
probe=$build/tests/e2e/tools/tunnel_probe
[[ -x $probe ]] || lab_die "tunnel_probe not built: $probe (cmake --build $build --target tunnel_probe)"
lab_require_cmd curl redis-cli tcpdump python3 ip6tables

lab_init ipv6
lab_up
lab_up_v6
e2e_begin ipv6_test
# More IPv6 clients than the lab's one (2001:db8::10): curl binds each of them.
v6_client_ips="2001:db8::11 2001:db8::12 2001:db8::13 2001:db8::14"
for ip in $v6_client_ips; do
  ip -n "$LAB_NS_CLIENT" -6 addr add "$ip/64" dev "$LAB_IF_CLIENT_ONLINE" nodad
done

# Production (online) and the target each serve both families; the target on every address the
# replays use (offline: 198.18.1.2 and fd00:198:18:1::2; live: fd00:198:18:4::2).
lab_start_nginx "$LAB_NS_ONLINE" "$LAB6_ONLINE_IP $LAB_ONLINE_IP" 80
online_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_ONLINE" "$LAB6_ONLINE_IP $LAB_ONLINE_IP" 6379
target_addrs="$LAB_TARGET_IP $LAB6_TARGET_IP $LAB6_TARGET_LIVE_IP"
lab_start_nginx "$LAB_NS_TARGET" "$target_addrs" 80
target_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_TARGET" "$target_addrs" 6379

# One intercept, dual stack: tcpcopy reaches it over IPv4 (198.18.3.2) or IPv6 (fd00:198:18:3::2,
# fd00:198:18:5::2).
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "tcp and (src port 80 or src port 6379)" -p "$LAB_TUNNEL_PORT" -b :: \
  --allow "$LAB_TUNNEL_ALLOW,$LAB6_TUNNEL_ALLOW" --stats-interval 1
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" :: "$LAB_TUNNEL_PORT" 15

# ---- the fixtures: real clients over IPv6, then over IPv4, in one capture -----------------------
head -c 100000 < <(yes 'ipv6 upload body 0123456789') >"$LAB_DIR/body"

# http_clients TAG IP... : from each address at once, a keep-alive connection with three requests,
# a 100 kB upload and an HTTP/1.0 request; every URI carries TAG. One line per request:
# "<http status> <curl exit status>", in $LAB_DIR/TAG.results.
http_clients() {
  local tag=$1 ip pids=()
  shift
  for ip in "$@"; do
    (
      url=$(lab_url "$([[ $ip == *:* ]] && echo "$LAB6_ONLINE_IP" || echo "$LAB_ONLINE_IP")" 80 "")
      c=(ip netns exec "$LAB_NS_CLIENT" curl -sS -g -w '%{http_code} %{exitcode}\n' --interface "$ip")
      "${c[@]}" -o /dev/null "$url/index.html?$tag-$ip" -o /dev/null "$url/api/$tag/$ip" \
        -o /dev/null "$url/static/16k?$tag-$ip" || true
      "${c[@]}" -o /dev/null -H 'Expect:' --data-binary @"$LAB_DIR/body" "$url/upload?$tag-$ip" || true
      "${c[@]}" -o /dev/null --http1.0 "$url/hello.txt?$tag-$ip" || true
    ) >"$LAB_DIR/$tag.results.$ip" 2>&1 &
    pids+=($!)
  done
  local p
  for p in "${pids[@]}"; do wait "$p" || true; done
  cat "$LAB_DIR/$tag.results".* >"$LAB_DIR/$tag.results"
  rm -f "$LAB_DIR/$tag.results".*
}

# redis_clients TAG SERVER : one redis-cli session of five commands and three one-command ones,
# every key carrying TAG. Results (the replies) in $LAB_DIR/TAG.redis.
redis_clients() {
  local tag=$1 server=$2 k
  {
    printf 'SET %s:a 1\nINCR %s:a\nLPUSH %s:list x y z\nLRANGE %s:list 0 -1\nGET %s:a\n' "$tag" "$tag" "$tag" "$tag" "$tag" |
      ip netns exec "$LAB_NS_CLIENT" redis-cli -h "$server" -p 6379
    for k in 1 2 3; do
      ip netns exec "$LAB_NS_CLIENT" redis-cli -h "$server" -p 6379 SET "$tag:key$k" "value $k"
    done
  } >"$LAB_DIR/$tag.redis" 2>&1
}

# check_clients TAG HTTP_REQUESTS : the online servers answered every request.
check_clients() {
  local tag=$1 bad
  bad=$(grep -Ev '^200 0$' "$LAB_DIR/$tag.results" || true)
  if [[ -n $bad || $(wc -l <"$LAB_DIR/$tag.results") != "$2" ]]; then
    fail "$tag: HTTP clients failed online: $(tr '\n' ';' <"$LAB_DIR/$tag.results")"
  elif [[ $(grep -c '^OK$' "$LAB_DIR/$tag.redis") != 4 || $(grep -cx 'x' "$LAB_DIR/$tag.redis") != 1 ]]; then
    fail "$tag: redis clients failed online: $(tr '\n' ';' <"$LAB_DIR/$tag.redis")"
  else
    ok "$tag: $2 HTTP requests and 8 redis commands succeeded online"
  fi
}

# A UDP datagram to port 9 after the clients marks the end of the capture (tcpdump -U writes in
# arrival order); it is not TCP, so the fixtures leave it out.
lab_capture_start fixture "$LAB_NS_CLIENT" "$LAB_IF_CLIENT_ONLINE" \
  "(tcp and (port 80 or port 6379)) or (udp and dst port 9)"
fixture_pid=$LAB_LAST_PID
read -r -a v6_clients <<<"$(echo "$v6_client_ips" | cut -d' ' -f1-3)"
read -r -a v4_clients <<<"$(echo "$LAB_CLIENT_IPS" | cut -d' ' -f2-3)"
for family in v6 v4; do
  : >"$online_nginx_log"
  server=$LAB6_ONLINE_IP
  [[ $family == v4 ]] && server=$LAB_ONLINE_IP
  lab_redis_monitor_start "$LAB_NS_ONLINE" "$server" 6379 "$LAB_DIR/$family.online.monitor"
  if [[ $family == v6 ]]; then http_clients v6 "${v6_clients[@]}"; else http_clients v4 "${v4_clients[@]}"; fi
  redis_clients "$family" "$server"
  if [[ $family == v6 ]]; then check_clients v6 $((5 * ${#v6_clients[@]})); else check_clients v4 $((5 * ${#v4_clients[@]})); fi
  lab_nginx_settle "$online_nginx_log"
  lab_requests_nginx "$online_nginx_log" >"$LAB_DIR/$family.http.golden"
  lab_redis_monitor_stop "$LAB_DIR/$family.online.monitor"
  lab_requests_redis "$LAB_DIR/$family.online.monitor" >"$LAB_DIR/$family.redis.golden"
done
ip netns exec "$LAB_NS_CLIENT" bash -c "echo end >/dev/udp/$LAB6_ONLINE_IP/9"
lab_capture_stop "$fixture_pid" "$LAB_DIR/fixture.pcap" "udp and dst port 9"
tcpdump -r "$LAB_DIR/fixture.pcap" -w "$LAB_DIR/v6.pcap" 'ip6 and tcp' 2>/dev/null
tcpdump -r "$LAB_DIR/fixture.pcap" -w "$LAB_DIR/mixed.pcap" 'tcp' 2>/dev/null
# libpcap reads no tcp[] over IPv6: the flags are byte 13 of the TCP header right behind the fixed one.
v6_syns=$(lab_pcap_count "$LAB_DIR/v6.pcap" 'ip6[6] == 6 and ip6[53] & 0x12 == 0x02')
v4_syns=$(lab_pcap_count "$LAB_DIR/mixed.pcap" 'ip and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn')
if ((v6_syns > 0 && $(lab_pcap_count "$LAB_DIR/mixed.pcap" ip6) == $(lab_pcap_count "$LAB_DIR/v6.pcap"))); then
  ok "fixtures: v6.pcap $(lab_pcap_count "$LAB_DIR/v6.pcap") packets in $v6_syns connections;" \
    "mixed.pcap adds $v4_syns IPv4 connections; golden lists: IPv6 $(wc -l <"$LAB_DIR/v6.http.golden") HTTP" \
    "+ $(wc -l <"$LAB_DIR/v6.redis.golden") redis, IPv4 $(wc -l <"$LAB_DIR/v4.http.golden") + $(wc -l <"$LAB_DIR/v4.redis.golden")"
else
  fail "fixtures: the capture holds no IPv6 connection ($v6_syns SYNs)"
fi
cat "$LAB_DIR/v6.http.golden" "$LAB_DIR/v4.http.golden" >"$LAB_DIR/mixed.http.golden"
cat "$LAB_DIR/v6.redis.golden" "$LAB_DIR/v4.redis.golden" >"$LAB_DIR/mixed.redis.golden"

# ---- offline replays ------------------------------------------------------------------------------
# replay_case NAME PCAP GOLDEN COPIES TCPCOPY_ARGS... : run_tcpcopy from the tc namespace, then the
# target's nginx log and redis MONITOR against GOLDEN.http/.redis golden lists, COPIES times each.
replay_case() {
  local name=$1 pcap=$2 golden=$3 copies=$4
  shift 4
  : >"$target_nginx_log"
  lab_redis_monitor_start "$LAB_NS_TARGET" "$LAB6_TARGET_IP" 6379 "$LAB_DIR/$name.target.monitor"
  run_tcpcopy "$name" -i "$LAB_DIR/$pcap" "$@"
  tcpcopy_summary "$name"
  lab_nginx_settle "$target_nginx_log"
  lab_redis_monitor_stop "$LAB_DIR/$name.target.monitor"
  repeat_sorted "$copies" "$LAB_DIR/$golden.http.golden" >"$LAB_DIR/$name.http.want"
  repeat_sorted "$copies" "$LAB_DIR/$golden.redis.golden" >"$LAB_DIR/$name.redis.want"
  lab_requests_nginx "$target_nginx_log" >"$LAB_DIR/$name.http.got"
  lab_requests_redis "$LAB_DIR/$name.target.monitor" >"$LAB_DIR/$name.redis.got"
  local sent="$(wc -l <"$LAB_DIR/$name.http.want") HTTP requests + $(wc -l <"$LAB_DIR/$name.redis.want") redis commands"
  local got="$(wc -l <"$LAB_DIR/$name.http.got") + $(wc -l <"$LAB_DIR/$name.redis.got")"
  if ((tc_rc != 0)); then
    fail "$name: tcpcopy exited $tc_rc"
  elif diff -u "$LAB_DIR/$name.http.want" "$LAB_DIR/$name.http.got" >"$LAB_DIR/$name.http.diff" &&
    diff -u "$LAB_DIR/$name.redis.want" "$LAB_DIR/$name.redis.got" >"$LAB_DIR/$name.redis.diff"; then
    ok "$name: the capture's $sent ($copies x), the target got $got, request by request;" \
      "sessions started $(report_value "$name" sessions.started), completed $(report_value "$name" sessions.completed)"
  else
    fail "$name: the target's requests differ from the capture's ($sent sent, $got arrived)"
    head -20 "$LAB_DIR/$name.http.diff" "$LAB_DIR/$name.redis.diff" >&2
  fi
  local skipped
  skipped=$(report_value "$name" sessions.skipped_family)
  [[ $skipped == 0 ]] || fail "$name: $skipped sessions skipped for their family"
}

rules6="80-[$LAB6_TARGET_IP]:80,6379-[$LAB6_TARGET_IP]:6379"
run_tcpcopy_intercept="[$LAB6_ASSIST_TUNNEL_IP]:$LAB_TUNNEL_PORT"
replay_case v6-1x v6.pcap v6 1 -x "$rules6"
replay_case v6-a1000 v6.pcap v6 1 -x "$rules6" -a 1000
replay_case v6-n3 v6.pcap v6 3 -x "$rules6" -a 1000 -n 3
frames6=$(report_value v6-1x frames_ipv6)
frames=$(report_value v6-1x frames)
if [[ $frames6 == "$frames" && $frames6 -gt 0 ]]; then
  ok "v6-1x: all $frames frames decoded as IPv6 TCP"
else
  fail "v6-1x: $frames6 of $frames frames decoded as IPv6 TCP"
fi

# Mixed: one rule per family, told apart by the online address; over an IPv4 tunnel to the
# dual-stack intercept.
run_tcpcopy_intercept="$LAB_ASSIST_TUNNEL_IP:$LAB_TUNNEL_PORT"
mixed_rules="[$LAB6_ONLINE_IP]:80-[$LAB6_TARGET_IP]:80,$LAB_ONLINE_IP:80-$LAB_TARGET_IP:80"
mixed_rules+=",[$LAB6_ONLINE_IP]:6379-[$LAB6_TARGET_IP]:6379,$LAB_ONLINE_IP:6379-$LAB_TARGET_IP:6379"
: >"$LAB_NGINX_PEERS_LOG"
replay_case mixed mixed.pcap mixed 1 -x "$mixed_rules" -a 1000
peers="$(grep -c ':' "$LAB_NGINX_PEERS_LOG") from IPv6 clients, $(grep -vc ':' "$LAB_NGINX_PEERS_LOG") from IPv4 ones"
if [[ $(grep -c ':' "$LAB_NGINX_PEERS_LOG") == "$(wc -l <"$LAB_DIR/v6.http.golden")" &&
  $(grep -vc ':' "$LAB_NGINX_PEERS_LOG") == "$(wc -l <"$LAB_DIR/v4.http.golden")" ]]; then
  ok "mixed: the target's nginx saw each request from its own family ($peers)"
else
  fail "mixed: requests by client family at the target: $peers"
fi

# Extension headers: every client packet of v6.pcap carries a destination options header; the
# decoder skips it (and counts it), the replay sends plain IPv6.
run_tcpcopy_intercept="[$LAB6_ASSIST_TUNNEL_IP]:$LAB_TUNNEL_PORT"
with_ext=$(python3 "$here/../tools/pcaptool.py" ipv6-dstopts "$LAB_DIR/v6.pcap" "$LAB_DIR/v6-ext.pcap")
replay_case v6-ext v6-ext.pcap v6 1 -x "$rules6" -a 1000
counted=$(report_value v6-ext frames_ipv6_extension_headers)
if [[ $counted == "$with_ext" && $with_ext -gt 0 ]]; then
  ok "v6-ext: $with_ext client packets with a destination options header, $counted counted as such"
else
  fail "v6-ext: $with_ext client packets with a destination options header, $counted counted"
fi

# ---- NFQUEUE on the target: an ip6tables rule queues the IPv6 answers ------------------------------
# (ip6tables, the xt NFQUEUE target through iptables-nft: nft's own `queue` statement needs the
# kernel's nft_queue, which not every kernel has.)
queue=7
nfq_port=36600
# A connection of an earlier replay that the target still sends on (a FIN it retransmits) would be
# queued now, find no route and leave: the neighbour check is about this replay only, so first
# wait until the target holds no IPv6 connection on port 80 that can still send.
target_sending() {
  lab_ns_exec "$LAB_NS_TARGET" ss -Htn6 state established state syn-recv state fin-wait-1 \
    state close-wait state last-ack state closing '( sport = :80 )'
}
target_quiet() { [[ -z $(target_sending) ]]; }
wait_until 30 target_quiet ||
  fail "nfqueue: the target still sends on connections of earlier replays: $(target_sending | tr '\n' ';')"
nfq_rule=(OUTPUT -p tcp --sport 80 -j NFQUEUE --queue-num "$queue" --queue-bypass)
lab_ns_exec "$LAB_NS_TARGET" ip6tables -A "${nfq_rule[@]}" ||
  lab_die "cannot add the NFQUEUE rule in the target namespace"
lab_bg intercept-nfq "$LAB_NS_TARGET" "$intercept_bin" --nfqueue "$queue" -x "$LAB6_TC_IP" --hold-ms 300 \
  --fail-open -b "$LAB6_TARGET_IP" -p "$nfq_port" --allow "$LAB6_TUNNEL_ALLOW" --stats-interval 0
nfq_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_TARGET" "$LAB6_TARGET_IP" "$nfq_port" 15
lab_wait_file_match "$LAB_DIR/intercept-nfq.log" "reading NFQUEUE $queue" 15
# What leaves the target for the clients shows at the assistant; the UDP datagram marks the end.
lab_capture_start neighbour "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TARGET" "(ip6 and tcp src port 80) or udp port 9"
neighbour_pid=$LAB_LAST_PID
: >"$target_nginx_log"
run_tcpcopy_intercept="[$LAB6_TARGET_IP]:$nfq_port"
run_tcpcopy nfqueue -x "80-[$LAB6_TARGET_IP]:80" -i "$LAB_DIR/v6.pcap" -a 1000
lab_nginx_settle "$target_nginx_log"
lab_requests_nginx "$target_nginx_log" >"$LAB_DIR/nfqueue.http.got"
started=$(report_value nfqueue sessions.started)
completed=$(report_value nfqueue sessions.completed)
if ((tc_rc == 0)) && cmp -s "$LAB_DIR/v6.http.golden" "$LAB_DIR/nfqueue.http.got" && [[ $completed == "$started" ]]; then
  ok "nfqueue: $(wc -l <"$LAB_DIR/v6.http.golden") HTTP requests sent, $(wc -l <"$LAB_DIR/nfqueue.http.got") arrived;" \
    "$completed of $started sessions completed through the queue"
else
  fail "nfqueue: tcpcopy exit $tc_rc, $(wc -l <"$LAB_DIR/nfqueue.http.got") of $(wc -l <"$LAB_DIR/v6.http.golden") requests, $completed of $started sessions completed"
  diff -u "$LAB_DIR/v6.http.golden" "$LAB_DIR/nfqueue.http.got" | head -20 >&2 || true
fi
lab_ns_exec "$LAB_NS_TARGET" bash -c "echo end >/dev/udp/$LAB6_ASSIST_IP/9" || lab_die "cannot send the end marker"
lab_capture_stop "$neighbour_pid" "$LAB_DIR/neighbour.pcap" "udp port 9"
leaked=$(lab_pcap_count "$LAB_DIR/neighbour.pcap" ip6 and tcp src port 80)
if ((leaked == 0)); then
  ok "nfqueue: no IPv6 answer left the target"
else
  fail "nfqueue: $leaked IPv6 answers left the target: $(tcpdump -r "$LAB_DIR/neighbour.pcap" -nn ip6 and tcp src port 80 2>/dev/null | tr '\n' ';')"
fi
lab_stop "$nfq_pid"
lab_ns_exec "$LAB_NS_TARGET" ip6tables -D "${nfq_rule[@]}"

# ---- live replay over IPv6, both capture backends -------------------------------------------------
# Port-only rules for the packet ring; rules naming the online address for libpcap, whose default
# filter then selects it ("dst host 2001:db8::1").
live_rules="80-[$LAB6_TARGET_LIVE_IP]:80,6379-[$LAB6_TARGET_LIVE_IP]:6379"
live_host_rules="[$LAB6_ONLINE_IP]:80-[$LAB6_TARGET_LIVE_IP]:80,[$LAB6_ONLINE_IP]:6379-[$LAB6_TARGET_LIVE_IP]:6379"
target_caught_up() {  # ONLINE_MONITOR_RAW TARGET_MONITOR_RAW
  (($(count_lines "$target_nginx_log") >= $(count_lines "$online_nginx_log"))) &&
    (($(monitor_commands "$2") >= $(monitor_commands "$1")))
}

# ext_client IP TAG : one HTTP request from IP whose every packet carries a destination options
# header (a sticky IPV6_DSTOPTS on the socket); prints the status line.
ext_client() {
  ip netns exec "$LAB_NS_CLIENT" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))  # PadN
s.bind((sys.argv[1], 0))
s.settimeout(10)
s.connect((sys.argv[2], 80))
s.sendall(b"GET /api/" + sys.argv[3].encode() + b" HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
reply = b""
while chunk := s.recv(65536):
    reply += chunk
print(reply.split(b"\r\n")[0].decode())' "$1" "$LAB6_ONLINE_IP" "$2"
}

# live_case NAME RULES TCPCOPY_ARGS... : live tcpcopy in the online namespace while IPv6 clients run.
live_case() {
  local name=$1 rules=$2
  shift 2
  : >"$online_nginx_log"
  : >"$target_nginx_log"
  # MONITOR connects before tcpcopy starts: later it only acknowledges, which replays nothing.
  lab_redis_monitor_start "$LAB_NS_ONLINE" "$LAB6_ONLINE_IP" 6379 "$LAB_DIR/$name.online.monitor"
  lab_redis_monitor_start "$LAB_NS_TARGET" "$LAB6_TARGET_LIVE_IP" 6379 "$LAB_DIR/$name.target.monitor"
  lab_bg "tcpcopy-$name" "$LAB_NS_ONLINE" "$tcpcopy_bin" -x "$rules" \
    -s "[$LAB6_ASSIST_LIVE_TUNNEL_IP]:$LAB_TUNNEL_PORT" --stats-interval 1 --report "$LAB_DIR/$name.json" "$@"
  local pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/tcpcopy-$name.log" 'replay started' 20

  read -r -a clients <<<"$v6_client_ips"
  http_clients "$name" "${clients[@]}"
  redis_clients "$name" "$LAB6_ONLINE_IP"
  check_clients "$name" $((5 * ${#clients[@]}))
  local status
  status=$(ext_client "$LAB6_CLIENT_IP" "$name-ext" 2>&1) || true
  [[ $status == 'HTTP/1.1 200 OK' ]] || fail "$name: the client with extension headers got '$status'"

  wait_until 30 target_caught_up "$LAB_DIR/$name.online.monitor.raw" "$LAB_DIR/$name.target.monitor.raw" ||
    fail "$name: the target did not receive the online requests within 30 s"
  kill -TERM "$pid"
  local rc=0
  lab_wait_exit "$pid" 15 || rc=$?
  ((rc == 124)) && lab_stop "$pid" 2
  sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy-$name.log"
  lab_nginx_settle "$target_nginx_log"
  lab_nginx_settle "$online_nginx_log"
  lab_redis_monitor_stop "$LAB_DIR/$name.target.monitor"
  lab_redis_monitor_stop "$LAB_DIR/$name.online.monitor"
  ((rc == 0)) || fail "$name: tcpcopy exited $rc after SIGTERM"

  lab_requests_nginx "$online_nginx_log" >"$LAB_DIR/$name.http.want"
  lab_requests_nginx "$target_nginx_log" >"$LAB_DIR/$name.http.got"
  lab_requests_redis "$LAB_DIR/$name.online.monitor" >"$LAB_DIR/$name.redis.want"
  lab_requests_redis "$LAB_DIR/$name.target.monitor" >"$LAB_DIR/$name.redis.got"
  local sent="$(wc -l <"$LAB_DIR/$name.http.want") HTTP requests + $(wc -l <"$LAB_DIR/$name.redis.want") redis commands"
  local got="$(wc -l <"$LAB_DIR/$name.http.got") + $(wc -l <"$LAB_DIR/$name.redis.got")"
  if diff -u "$LAB_DIR/$name.http.want" "$LAB_DIR/$name.http.got" >"$LAB_DIR/$name.http.diff" &&
    diff -u "$LAB_DIR/$name.redis.want" "$LAB_DIR/$name.redis.got" >"$LAB_DIR/$name.redis.diff"; then
    ok "$name: online $sent, the target got $got, request by request"
  else
    fail "$name: the target's requests differ from the online ones ($sent online, $got at the target)"
    head -20 "$LAB_DIR/$name.http.diff" "$LAB_DIR/$name.redis.diff" >&2
  fi
  [[ -s $LAB_DIR/$name.json ]] || {
    fail "$name: no JSON report"
    return
  }
  local started ended active ext dropped
  started=$(json "$name" 's["started"]')
  ended=$(json "$name" "sum(s[k] for k in $ended_states)")
  active=$(json "$name" 's["active"]')
  ext=$(json "$name" 'd["frames_ipv6_extension_headers"]')
  dropped=$(json "$name" 'd["capture"]["kernel_dropped"] + d["capture"]["interface_dropped"]')
  if ((started > 0 && started == ended && active == 0 && dropped == 0)) &&
    (($(json "$name" 's["failed"] + s["shed"] + s["skipped_family"]') == 0)); then
    ok "$name: $started sessions, each ended in a counted state; $(json "$name" 'd["frames_ipv6"]') IPv6 frames, 0 dropped"
  else
    fail "$name: $started started, $ended ended, $active active, $dropped dropped: $(json "$name" s)"
  fi
  ((ext >= 3)) && ok "$name: $ext client packets with extension headers captured and decoded" ||
    fail "$name: $ext packets with extension headers decoded (the client sent at least 3)"
}

live_case live-ring "$live_rules"
live_case live-pcap "$live_host_rules" -i "$LAB_IF_ONLINE_CLIENT" -B 64
if grep -q "filter '.*dst port 80 and dst host $LAB6_ONLINE_IP" "$LAB_DIR/tcpcopy-live-pcap.log"; then
  ok "live-pcap: $(grep -o "filter '.*'" "$LAB_DIR/tcpcopy-live-pcap.log")"
else
  fail "live-pcap: the default filter does not select the IPv6 online address: $(grep 'input:' "$LAB_DIR/tcpcopy-live-pcap.log")"
fi

# ---- intercept alone: IPv6 answers through an IPv6 tunnel, IPv4 ones through an IPv4 tunnel -------
# Last: the target keeps each probe's connection half open (SYN-RECV) for about a minute,
# retransmitting its SYN-ACK, which must not meet a later case (the NFQUEUE one would let it out).
# probe_case NAME INTERCEPT CLIENT_IP CLIENT_PORT TARGET_IP : the probe announces the flow; a curl
# from that address and port (on tc's loopback, so the target routes its answer to the assistant)
# sends the SYN; the SYN-ACK dies at the assistant, so curl can only time out.
probe_case() {
  local name=$1 intercept=$2 client=$3 port=$4 target=$5 c t
  if [[ $client == *:* ]]; then c="[$client]" t="[$target]"; else c=$client t=$target; fi
  lab_bg "probe-$name" "$LAB_NS_TC" "$probe" --intercept "$intercept" --route "$c:$port,$t:80" \
    --timeout 20 --ready-file "$LAB_DIR/probe-$name.ready"
  local pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/probe-$name.ready" ready 15
  lab_ns_exec "$LAB_NS_TC" curl -s -g --interface "$client" --local-port "$port" --max-time 3 \
    "$(lab_url "$target" 80 /)" >/dev/null 2>&1 && fail "$name: curl completed: the SYN-ACK was not diverted"
  local rc=0
  lab_wait_exit "$pid" 20 || rc=$?
  local flow_re="$c:$port>$t:80"
  flow_re=${flow_re//[/\\[}
  flow_re=${flow_re//]/\\]}
  local response_re="^RESPONSE $flow_re flags=SA .* mss=[1-9]"
  if ((rc == 0)) && grep -q "$response_re" "$LAB_DIR/probe-$name.log"; then
    ok "$name: $(grep -m1 '^CONNECTED' "$LAB_DIR/probe-$name.log"), $(grep -m1 "$response_re" "$LAB_DIR/probe-$name.log")"
  else
    fail "$name: no SYN-ACK through the tunnel (probe exit $rc): $(cat "$LAB_DIR/probe-$name.log")"
  fi
}
ip -n "$LAB_NS_TC" -6 addr add 2001:db8::77/128 dev lo nodad
ip -n "$LAB_NS_TC" addr add 192.0.2.77/32 dev lo
probe_case intercept-v6 "[$LAB6_ASSIST_TUNNEL_IP]:$LAB_TUNNEL_PORT" 2001:db8::77 40001 "$LAB6_TARGET_IP"
probe_case intercept-v4 "$LAB_ASSIST_TUNNEL_IP:$LAB_TUNNEL_PORT" 192.0.2.77 40002 "$LAB_TARGET_IP"


if grep -Eq 'stats: captured=[1-9][0-9]* forwarded=[1-9]' "$LAB_DIR/intercept.log"; then
  ok "intercept: $(grep 'stats: ' "$LAB_DIR/intercept.log" | tail -1 | sed 's/^.*stats: //')"
else
  fail "intercept forwarded nothing: $(grep 'stats: ' "$LAB_DIR/intercept.log" | tail -1)"
fi
lab_alive "$intercept_pid" || fail "intercept died during the test"
e2e_end
