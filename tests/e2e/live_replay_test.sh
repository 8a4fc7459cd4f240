#!/usr/bin/env bash
# Live replay end to end: real clients (curl, redis-cli, redis-benchmark) in the client
# namespace use nginx and redis-server in the online namespace; tcpcopy in the online namespace
# copies their traffic as it happens to nginx and redis-server in the target namespace, through
# the real intercept on the assistant. Both capture backends (raw socket, libpcap on the
# client-side device), 1x and -n 2, and an intercept crash and restart in mid-run.
#
# Checks: every client request succeeds (the online service is unaffected); the target logs
# exactly the online server's request multiset (twice with -n 2); tcpcopy captured exactly the
# connections the clients opened (its own injected packets and the tunnel traffic are never
# taken for client traffic); every replayed session ends in a counted state; SIGTERM gives a
# clean exit and a summary. The deployment this mirrors: docs/live-replay.md.
# Usage: live_replay_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd curl redis-cli redis-benchmark tcpdump python3

lab_init live
lab_up

# Production: nginx and redis on the online server; the same on the target (the test server).
lab_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
online_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 6379
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 80
target_nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 6379

rules="80-$LAB_TARGET_LIVE_IP:80,6379-$LAB_TARGET_LIVE_IP:6379"
head -c 100000 < <(yes 'live replay upload body 0123456789') >"$LAB_DIR/body"

intercept_runs=0
start_intercept() {
  intercept_runs=$((intercept_runs + 1))
  lab_bg "intercept-$intercept_runs" "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
    -F "tcp and (src port 80 or src port 6379)" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_LIVE_TUNNEL_IP" \
    --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
  intercept_pid=$LAB_LAST_PID
  lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_LIVE_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
}
start_intercept

e2e_begin live_replay_test

target_caught_up() {  # COPIES ONLINE_MONITOR_RAW TARGET_MONITOR_RAW
  (($(count_lines "$target_nginx_log") >= $1 * $(count_lines "$online_nginx_log"))) &&
    (($(monitor_commands "$3") >= $1 * $(monitor_commands "$2")))
}

# start_tcpcopy NAME ARGS... : live tcpcopy in the online namespace; returns once it replays.
start_tcpcopy() {
  local name=$1
  shift
  lab_bg "tcpcopy-$name" "$LAB_NS_ONLINE" "$tcpcopy_bin" -x "$rules" \
    -s "$LAB_ASSIST_LIVE_TUNNEL_IP:$LAB_TUNNEL_PORT" --stats-interval 1 --report "$LAB_DIR/$name.json" "$@"
  tc_pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/tcpcopy-$name.log" 'replay started' 20
}

# stop_tcpcopy NAME : SIGTERM; the exit status in tc_rc (124: it did not exit).
stop_tcpcopy() {
  kill -TERM "$tc_pid"
  tc_rc=0
  lab_wait_exit "$tc_pid" 15 || tc_rc=$?
  if ((tc_rc == 124)); then
    fail "$1: tcpcopy still running 15 s after SIGTERM"
    lab_stop "$tc_pid" 2
  fi
  sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy-$1.log"
}

# curl_round TAG IP K : the HTTP clients of one round from one client address: a keep-alive
# connection with three requests, a 100 kB upload, an HTTP/1.0 request. Prints one line per
# request: "<http status> <curl exit status>".
curl_round() {
  local tag=$1 ip=$2 k=$3 url="http://$LAB_ONLINE_IP" rc out
  local -a c=(ip netns exec "$LAB_NS_CLIENT" curl -sS -w '%{http_code}\n' --interface "$ip")
  rc=0
  out=$("${c[@]}" -o /dev/null "$url/index.html" -o /dev/null "$url/api/$tag/$ip/$k" \
    -o /dev/null "$url/static/16k") || rc=$?
  printf '%s\n' "$out" | sed "s/\$/ $rc/"
  rc=0
  out=$("${c[@]}" -o /dev/null -H 'Expect:' --data-binary @"$LAB_DIR/body" "$url/upload?from=$ip&k=$k") || rc=$?
  printf '%s %s\n' "$out" "$rc"
  rc=0
  out=$("${c[@]}" -o /dev/null --http1.0 "$url/hello.txt?$tag-$k") || rc=$?
  printf '%s %s\n' "$out" "$rc"
}

# client_load TAG : every client at once: curl from four client addresses, three rounds each;
# redis-cli SETs and a small redis-benchmark. Results in $LAB_DIR/TAG.results, one line per
# request: "<status> <exit status>" (status 200 for HTTP, OK for redis-cli, "bench" for the
# benchmark's exit status).
client_load() {
  local tag=$1 results="$LAB_DIR/$1.results" ip k pids=()
  : >"$results"
  for ip in $(echo "$LAB_CLIENT_IPS" | cut -d' ' -f2-5); do
    (for k in 1 2 3; do curl_round "$tag" "$ip" "$k"; done >"$results.$ip") &
    pids+=($!)
  done
  (
    rc=0
    ip netns exec "$LAB_NS_CLIENT" redis-benchmark -h "$LAB_ONLINE_IP" -p 6379 -c 3 -n 40 \
      -t set,get,incr,lpush,lpop -q >"$LAB_DIR/$tag.bench" 2>&1 </dev/null || rc=$?
    echo "bench $rc" >"$results.bench"
    for k in 1 2 3 4; do
      rc=0
      out=$(ip netns exec "$LAB_NS_CLIENT" redis-cli -h "$LAB_ONLINE_IP" -p 6379 SET "live:$tag:$k" "value $k") || rc=$?
      echo "$out $rc"
    done >>"$results.bench"
  ) &
  pids+=($!)
  local p
  for p in "${pids[@]}"; do wait "$p" || true; done
  cat "$results".* >"$results"
  rm -f "$results".*
}

# check_clients TAG EXPECTED_LINES : the online service answered every request.
check_clients() {
  local results="$LAB_DIR/$1.results" bad
  bad=$(grep -Ev '^(200 0|OK 0|bench 0)$' "$results" || true)
  if [[ -n $bad ]]; then
    fail "$1: client requests failed online: $(echo "$bad" | sort | uniq -c | tr '\n' ';')"
  elif (($(wc -l <"$results") != $2)); then
    fail "$1: $(wc -l <"$results") client results, expected $2"
  else
    ok "$1: all $2 client requests succeeded online"
  fi
}

# syn_sentinel : one more SYN on the client side, from source port 39999, after every client
# connection of the run: once the SYN capture holds it, it holds every earlier SYN too. It goes to
# the online nginx after tcpcopy has stopped, connects and closes without a request (nothing is
# logged).
syn_sentinel() {
  ip netns exec "$LAB_NS_CLIENT" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 39999))
s.settimeout(10)
s.connect((sys.argv[2], 80))
s.close()' "$(echo "$LAB_CLIENT_IPS" | cut -d' ' -f1)" "$LAB_ONLINE_IP"
}


# Every replayed session ended in exactly one counted state; none is left open.
check_accounting() {
  local name=$1 started ended active
  started=$(json "$name" 's["started"]')
  ended=$(json "$name" "sum(s[k] for k in $ended_states)")
  active=$(json "$name" 's["active"]')
  if ((started == ended && active == 0)); then
    ok "$name: $started sessions, every one counted as ended ($(json "$name" "' '.join(k + '=' + str(s[k]) for k in $ended_states)"))"
  else
    fail "$name: $started sessions started, $ended counted as ended, $active active"
  fi
}

# live_case NAME COPIES TCPCOPY_ARGS... : one live run with the full client load.
live_case() {
  local name=$1 copies=$2
  shift 2
  : >"$online_nginx_log"
  : >"$target_nginx_log"
  # MONITOR connects before tcpcopy starts: later it only acknowledges, which replays nothing.
  lab_redis_monitor_start "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 6379 "$LAB_DIR/$name.online.monitor"
  lab_redis_monitor_start "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 6379 "$LAB_DIR/$name.target.monitor"
  # The connections the clients really open: their SYNs, seen on the client side.
  lab_capture_start "$name.syn" "$LAB_NS_CLIENT" "$LAB_IF_CLIENT_ONLINE" \
    'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and (dst port 80 or dst port 6379)'
  local syn_pid=$LAB_LAST_PID
  start_tcpcopy "$name" -n "$copies" "$@"

  client_load "$name"
  check_clients "$name" 65

  if ! wait_until 30 target_caught_up "$copies" "$LAB_DIR/$name.online.monitor.raw" \
    "$LAB_DIR/$name.target.monitor.raw"; then
    fail "$name: the target did not receive ${copies}x the online requests within 30 s"
  fi
  # The periodic stats line comes once per --stats-interval: wait for one with the tunnel up
  # rather than assume the run lasted that long (on a fast machine it may not have).
  local stats_re='stats: .*tunnel=up tunnel_connects=2 tunnel_reconnects=0'  # -C 2, the default
  if ! wait_until 30 grep -Eq -- "$stats_re" "$LAB_DIR/tcpcopy-$name.log"; then
    fail "$name: no periodic stats line with the tunnel up"
  fi
  stop_tcpcopy "$name"
  # tcpcopy is gone: whatever it sent (a duplicate included) has reached the target by now; the
  # settle request makes sure nginx has logged it, the monitors' own sentinels do the same for
  # redis, and the SYN sentinel for the client-side capture.
  lab_nginx_settle "$target_nginx_log"
  syn_sentinel
  lab_capture_stop "$syn_pid" "$LAB_DIR/$name.syn.pcap" "src port 39999"
  lab_redis_monitor_stop "$LAB_DIR/$name.target.monitor"
  lab_redis_monitor_stop "$LAB_DIR/$name.online.monitor"

  ((tc_rc == 0)) || fail "$name: tcpcopy exited $tc_rc after SIGTERM"
  [[ -s $LAB_DIR/$name.json ]] || {
    fail "$name: no JSON report"
    return
  }
  repeat_sorted "$copies" "$online_nginx_log" >"$LAB_DIR/$name.http.want"
  lab_requests_nginx "$target_nginx_log" >"$LAB_DIR/$name.http.got"
  if diff -u "$LAB_DIR/$name.http.want" "$LAB_DIR/$name.http.got" >"$LAB_DIR/$name.http.diff"; then
    ok "$name: target nginx logged the online requests ${copies}x ($(wc -l <"$LAB_DIR/$name.http.got") lines)"
  else
    fail "$name: target nginx requests differ from online x$copies"
    head -30 "$LAB_DIR/$name.http.diff" >&2
  fi
  repeat_sorted "$copies" "$LAB_DIR/$name.online.monitor" >"$LAB_DIR/$name.redis.want"
  lab_requests_redis "$LAB_DIR/$name.target.monitor" >"$LAB_DIR/$name.redis.got"
  if diff -u "$LAB_DIR/$name.redis.want" "$LAB_DIR/$name.redis.got" >"$LAB_DIR/$name.redis.diff"; then
    ok "$name: target redis got the online commands ${copies}x ($(wc -l <"$LAB_DIR/$name.redis.got") commands)"
  else
    fail "$name: target redis commands differ from online x$copies"
    head -30 "$LAB_DIR/$name.redis.diff" >&2
  fi

  # Captured connections = the clients' connections: nothing tcpcopy injected toward the
  # target, and none of intercept's tunnel traffic, was taken for client traffic.
  local syns captured started
  syns=$(lab_pcap_count "$LAB_DIR/$name.syn.pcap" not src port 39999)
  captured=$(json "$name" 's["captured"]')
  started=$(json "$name" 's["started"]')
  if ((syns > 0 && captured == syns && started == copies * syns)); then
    ok "$name: $syns client connections, $captured captured, $started replayed"
  else
    fail "$name: clients opened $syns connections; tcpcopy captured $captured and started $started (copies $copies)"
  fi
  local dropped
  dropped=$(json "$name" 'd["capture"]["kernel_dropped"] + d["capture"]["interface_dropped"]')
  ((dropped == 0)) || fail "$name: the capture lost $dropped packets: $(json "$name" 'd["capture"]')"
  check_accounting "$name"
  if (($(json "$name" 's["failed"] + s["shed"]') != 0)); then
    fail "$name: failed or shed sessions: $(json "$name" s)"
  fi
}

# drop_case NAME TCPCOPY_ARGS... : the drop count is the kernel's, not a guess. tcpcopy with a
# 1 MiB capture buffer (8 blocks of 128 KiB) is stopped (SIGSTOP) while the clients run: the
# buffer fills and the rest is lost. Every client packet the capture had to take (tcpdump on the
# client side) must then be either read or counted as dropped, and some dropped.
drop_case() {
  local name=$1
  shift
  # tcpdump's own buffer (16 MiB) must hold the whole load: its count is the reference.
  # A UDP datagram sent after the load ends marks the end of the reference capture: tcpdump -U
  # writes in arrival order, so once it is in the file every client packet before it is too; it
  # is not TCP, so it is neither counted nor taken by tcpcopy.
  lab_capture_start "$name.client" "$LAB_NS_CLIENT" "$LAB_IF_CLIENT_ONLINE" -B 16384 \
    "dst host $LAB_ONLINE_IP and ((tcp and (dst port 80 or dst port 6379)) or (udp and dst port 9))"
  local cap_pid=$LAB_LAST_PID
  start_tcpcopy "$name" -B 1 "$@"
  kill -STOP "$tc_pid"
  client_load "$name"
  check_clients "$name" 65
  ip netns exec "$LAB_NS_CLIENT" bash -c "echo end >/dev/udp/$LAB_ONLINE_IP/9"
  lab_capture_stop "$cap_pid" "$LAB_DIR/$name.client.pcap" "udp and dst port 9"
  grep -q '^0 packets dropped by kernel' "$LAB_DIR/$name.client.tcpdump.log" ||
    fail "$name: the reference capture itself lost packets: $(grep dropped "$LAB_DIR/$name.client.tcpdump.log")"
  kill -CONT "$tc_pid"
  # Once resumed, tcpcopy reads what the buffer held; its stats line then shows the drops.
  wait_until 30 grep -Eq 'stats: .*capture_dropped=[1-9]' "$LAB_DIR/tcpcopy-$name.log" ||
    fail "$name: no stats line reported the capture's drops"
  stop_tcpcopy "$name" >/dev/null
  local sent received dropped freezes
  sent=$(lab_pcap_count "$LAB_DIR/$name.client.pcap" tcp)
  received=$(json "$name" 'd["capture"]["received"]')
  dropped=$(json "$name" 'd["capture"]["kernel_dropped"]')
  freezes=$(json "$name" 'd["capture"]["queue_freezes"]')
  if ((dropped > 0 && received + dropped == sent)); then
    ok "$name: $sent client packets = $received read + $dropped counted as dropped (ring full $freezes times)"
  else
    fail "$name: clients sent $sent packets; tcpcopy read $received and counted $dropped dropped"
  fi
  grep -Eq "live capture \(.*\): $received received, $dropped dropped by the kernel" "$LAB_DIR/tcpcopy-$name.log" ||
    fail "$name: the summary does not show the capture's counts"
}

live_case raw-1x 1
live_case raw-n2 2
drop_case raw-drops
live_case pcap-1x 1 -i "$LAB_IF_ONLINE_CLIENT" -B 64
live_case pcap-n2 2 -i "$LAB_IF_ONLINE_CLIENT" -B 64
drop_case pcap-drops -i "$LAB_IF_ONLINE_CLIENT"

# intercept dies in mid-run and comes back: tcpcopy keeps capturing, reconnects, re-sends its
# routes, and what the clients do after the restart reaches the target.
name=restart
: >"$online_nginx_log"
: >"$target_nginx_log"
start_tcpcopy "$name"
tc_log="$LAB_DIR/tcpcopy-$name.log"
client_load "$name-before"
check_clients "$name-before" 65
wait_until 30 target_caught_up 1 /dev/null /dev/null ||
  fail "$name: the target missed requests made before the crash"
kill -KILL "$intercept_pid"
wait "$intercept_pid" 2>/dev/null || true
lab_wait_file_match "$tc_log" 'lost intercept' 15
client_load "$name-during"
check_clients "$name-during" 65
lab_alive "$tc_pid" || fail "$name: tcpcopy died while intercept was down"
start_intercept
if wait_until 30 bash -c "(( \$(grep -c 'connected to intercept' '$tc_log') >= 2 ))"; then
  ok "$name: tcpcopy reconnected to the restarted intercept"
else
  fail "$name: tcpcopy did not reconnect to the restarted intercept"
fi
for i in 1 2 3; do
  for ip in $(echo "$LAB_CLIENT_IPS" | cut -d' ' -f6-8); do
    ip netns exec "$LAB_NS_CLIENT" curl -sS -o /dev/null -w '%{http_code}\n' --interface "$ip" \
      "http://$LAB_ONLINE_IP/api/after-restart/$ip/$i" || echo "curl-failed"
  done
done >"$LAB_DIR/$name-after.results"
grep -c '^200$' "$LAB_DIR/$name-after.results" | grep -qx 9 || fail "$name: requests after the restart failed online"
after_re='^GET /api/after-restart/'
wait_until 30 bash -c "(( \$(grep -c '$after_re' '$target_nginx_log') >= 9 ))" ||
  fail "$name: requests made after the restart did not reach the target"
# Sessions that lost their answers while intercept was down recover (the target retransmits and
# intercept now sees it) or give up (SYN or data retransmissions exhausted): none stays open.
if wait_until 60 bash -c "tail -n 1 <(grep 'stats: ' '$tc_log') | grep -q 'sessions active=0 '"; then
  ok "$name: every session ended on its own: $(grep 'stats: ' "$tc_log" | tail -n 1 | grep -o 'active=.* failed=[0-9]*')"
else
  fail "$name: sessions still open long after intercept came back: $(grep 'stats: ' "$tc_log" | tail -n 1)"
fi
stop_tcpcopy "$name"
lab_nginx_settle "$target_nginx_log"
((tc_rc == 0)) || fail "$name: tcpcopy exited $tc_rc after SIGTERM"
grep -q '^  tunnel: ' "$tc_log" || fail "$name: the summary has no tunnel line"
lab_requests_nginx "$target_nginx_log" >"$LAB_DIR/$name.got"
lab_requests_nginx "$online_nginx_log" >"$LAB_DIR/$name.online"
grep "$after_re" "$LAB_DIR/$name.online" >"$LAB_DIR/$name.after.want" || true
grep "$after_re" "$LAB_DIR/$name.got" >"$LAB_DIR/$name.after.got" || true
if ! cmp -s "$LAB_DIR/$name.after.want" "$LAB_DIR/$name.after.got"; then
  fail "$name: the requests after the restart differ at the target"
elif [[ -n $(comm -13 "$LAB_DIR/$name.online" "$LAB_DIR/$name.got") ]]; then
  fail "$name: the target logged requests the online server never had (or more often)"
else
  ok "$name: $(wc -l <"$LAB_DIR/$name.after.got") requests after the restart reached the target;" \
    "$(wc -l <"$LAB_DIR/$name.got") of $(wc -l <"$LAB_DIR/$name.online") in all"
fi
connects=$(json "$name" 'd["tunnel"]["connects"]')
reconnects=$(json "$name" 'd["tunnel"]["reconnects"]')
if ((connects >= 2 && reconnects >= 1)); then
  ok "$name: report counts $connects tunnel connects, $reconnects reconnects"
else
  fail "$name: report counts $connects tunnel connects, $reconnects reconnects"
fi
check_accounting "$name"
(($(json "$name" 's["aborted"]') == 0)) || fail "$name: sessions were still open at SIGTERM"

lab_alive "$intercept_pid" || fail "intercept died during the test"
e2e_end
