#!/usr/bin/env bash
# The lab itself: connectivity that must exist, isolation that must hold, real servers inside
# it, and a teardown that leaves nothing behind, both on a normal exit and on SIGTERM.
# Usage: lab_test.sh [BUILD_DIR]   (run as root; the build dir is not needed here)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"

fail() {
  printf 'lab_test: FAIL: %s\n' "$*" >&2
  exit 1
}

# A one-connection TCP server that answers with the peer's address, to see both that a
# connection gets through and which source address it came from.
peer_echo_server() { # NS IP PORT NAME
  lab_bg "$4" "$1" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(20)
c, peer = s.accept()
c.sendall(("peer %s\n" % peer[0]).encode())
c.close()
' "$2" "$3"
  lab_wait_port "$1" "$2" "$3"
}

# peer_echo_client NS IP PORT [SOURCE_IP] : prints the server's answer
peer_echo_client() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(5)
if len(sys.argv) > 3:
    s.bind((sys.argv[3], 0))
s.connect((sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode().strip())
' "${@:2}"
}

# ---------------------------------------------------------------------------------------------
# The child: builds the lab, checks it, writes what it created to STATE, then either exits
# normally or waits to be killed.
run_child() {
  local mode=$1 state=$2
  lab_init labt
  printf 'tag %s\ndir %s\n' "$LAB_TAG" "$LAB_DIR" >"$state"
  lab_up

  # Isolation: no default route, and no route for outside addresses anywhere but the
  # target's routes for client networks, which must point at the assistant.
  local ns
  for ns in "$LAB_NS_CLIENT" "$LAB_NS_ONLINE" "$LAB_NS_TC" "$LAB_NS_TARGET" "$LAB_NS_ASSIST"; do
    [[ -z $(ip -n "$ns" -4 route show default) ]] || fail "$ns has an IPv4 default route"
    [[ -z $(ip -n "$ns" -6 route show default) ]] || fail "$ns has an IPv6 default route"
    if [[ $ns != "$LAB_NS_TARGET" ]] && ip -n "$ns" route get 203.0.113.77 >/dev/null 2>&1; then
      fail "$ns has a route to 203.0.113.77"
    fi
  done
  local via
  for via in 192.0.2.99 198.51.100.7 203.0.113.77; do
    ip -n "$LAB_NS_TARGET" route get "$via" | grep -q "via $LAB_ASSIST_IP dev $LAB_IF_TARGET_ASSIST" ||
      fail "target does not route $via via the assistant"
  done
  [[ $(ip netns exec "$LAB_NS_ASSIST" sysctl -n net.ipv4.ip_forward) == 0 ]] ||
    fail "assistant has ip_forward on"
  [[ $(ip netns exec "$LAB_NS_TARGET" sysctl -n "net.ipv4.conf.$LAB_IF_TARGET_TC.rp_filter") == 0 ]] ||
    fail "target rp_filter on $LAB_IF_TARGET_TC"

  # Connectivity: tc -> assistant tunnel address, client (a secondary address) -> online.
  peer_echo_server "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" tunnel-echo
  local got
  got=$(peer_echo_client "$LAB_NS_TC" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT")
  [[ $got == "peer $LAB_TC_TUNNEL_IP" ]] || fail "tc -> assist tunnel: got '$got'"
  peer_echo_server "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 8080 online-echo
  got=$(peer_echo_client "$LAB_NS_CLIENT" "$LAB_ONLINE_IP" 8080 192.0.2.17)
  [[ $got == "peer 192.0.2.17" ]] || fail "client -> online: got '$got'"

  # The target's packet to a client address reaches the assistant and goes no further. A
  # host route in the assistant towards tc makes a forwarding assistant visible on tc.
  ip -n "$LAB_NS_ASSIST" route add 192.0.2.99/32 via "$LAB_TC_TUNNEL_IP" dev "$LAB_IF_ASSIST_TC"
  lab_capture_start at-assist "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TARGET" udp and dst host 192.0.2.99
  local cap_assist=$LAB_LAST_PID
  lab_capture_start at-tc "$LAB_NS_TC" "$LAB_IF_TC_ASSIST" udp and dst host 192.0.2.99
  local cap_tc=$LAB_LAST_PID
  local i
  for i in 1 2 3; do
    ip netns exec "$LAB_NS_TARGET" bash -c 'echo probe >/dev/udp/192.0.2.99/9'
  done
  lab_capture_stop "$cap_assist" "$LAB_DIR/at-assist.pcap" "udp and dst port 9" 3
  # The assistant would have forwarded the probes as they came; a sentinel it sends itself down
  # the same link afterwards (port 10) reaches tc behind any of them, so once tc has it, a
  # forwarded probe would be in tc's capture too.
  ip netns exec "$LAB_NS_ASSIST" bash -c 'echo sentinel >/dev/udp/192.0.2.99/10'
  lab_capture_stop "$cap_tc" "$LAB_DIR/at-tc.pcap" "udp and dst port 10" 1
  local n_assist n_tc
  n_assist=$(lab_pcap_count "$LAB_DIR/at-assist.pcap" udp and dst host 192.0.2.99 and dst port 9)
  n_tc=$(lab_pcap_count "$LAB_DIR/at-tc.pcap" udp and dst host 192.0.2.99 and dst port 9)
  [[ $n_assist == 3 ]] || fail "assistant saw $n_assist of 3 probes from the target"
  [[ $n_tc == 0 ]] || fail "assistant forwarded $n_tc probes towards tc"
  ip -n "$LAB_NS_ASSIST" route del 192.0.2.99/32

  # Real servers in the target: one request each, seen in their logs.
  lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
  lab_start_redis "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379
  lab_redis_monitor_start "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379 "$LAB_DIR/monitor.txt"
  got=$(ip netns exec "$LAB_NS_TC" curl -sS --max-time 5 "http://$LAB_TARGET_IP/hello.txt")
  [[ $got == "hello from the lab" ]] || fail "tc -> target nginx: got '$got'"
  got=$(ip netns exec "$LAB_NS_TC" redis-cli -h "$LAB_TARGET_IP" -p 6379 SET labkey "v $LAB_TAG")
  [[ $got == OK ]] || fail "tc -> target redis: got '$got'"
  lab_redis_monitor_stop
  got=$(lab_requests_nginx "$LAB_NGINX_ACCESS_LOG")
  [[ $got =~ ^GET\ /hello.txt\ -\ [0-9]+$ ]] || fail "nginx access log: '$got'"
  got=$(lab_requests_redis "$LAB_DIR/monitor.txt")
  [[ $got == "\"SET\" \"labkey\" \"v $LAB_TAG\"" ]] || fail "redis monitor: '$got'"

  # Everything this lab started, for the parent to check after teardown.
  local pid
  for pid in "${LAB_PIDS[@]}"; do printf 'pid %s\n' "$pid" >>"$state"; done
  for ns in "${LAB_NAMESPACES[@]}"; do
    printf 'ns %s\n' "$ns" >>"$state"
    for pid in $(ip netns pids "$ns"); do printf 'pid %s\n' "$pid" >>"$state"; done
  done
  grep -q "^pid $LAB_NGINX_PID$" "$state" || fail "nginx pid missing from state"
  [[ $(grep -c '^pid ' "$state") -ge 5 ]] || fail "fewer processes than expected in the lab"

  if [[ $mode == signal ]]; then
    # The wait is started through the lab too, so the teardown ends it: an orphaned sleep would
    # hold the caller's output pipe open for its whole length.
    lab_bg wait-for-term - sleep 300
    echo ready >>"$state"
    wait "$LAB_LAST_PID"
    fail "was not killed"
  fi
  echo 'done' >>"$state"
}

# ---------------------------------------------------------------------------------------------
# The parent: runs the child twice and inspects what is left.

# Whatever a broken child leaves is cleaned here, by the names and PIDs the child recorded.
parent_cleanup() {
  local state
  for state in "${states[@]}"; do
    [[ -f $state ]] || continue
    local key val
    while read -r key val; do
      case $key in
        pid) kill -0 "$val" 2>/dev/null && kill -KILL "$val" 2>/dev/null || true ;;
        ns) ip netns del "$val" 2>/dev/null || true ;;
        dir) [[ $val == /tmp/lab-* ]] && rm -rf "$val" || true ;;
      esac
    done <"$state"
    rm -f "$state"
  done
  return 0
}

assert_nothing_left() { # STATE
  local state=$1 tag dir key val
  tag=$(awk '$1 == "tag" {print $2}' "$state")
  dir=$(awk '$1 == "dir" {print $2}' "$state")
  [[ -n $tag ]] || fail "child recorded no tag"
  if ip netns list | grep -q "^$tag-"; then
    fail "namespaces left behind: $(ip netns list | grep "^$tag-" | tr '\n' ' ')"
  fi
  [[ ! -e $dir ]] || fail "temp dir $dir left behind"
  local npids=0
  while read -r key val; do
    [[ $key == pid ]] || continue
    npids=$((npids + 1))
    if kill -0 "$val" 2>/dev/null; then
      fail "process $val ($(tr '\0' ' ' </proc/"$val"/cmdline 2>/dev/null)) left behind"
    fi
  done <"$state"
  printf 'lab_test: %s: nothing left behind (%d processes, 5 namespaces, temp dir gone)\n' \
    "$tag" "$npids"
}

if [[ ${1:-} == --child ]]; then
  run_child "$2" "$3"
  exit 0
fi

lab_require_root
lab_require_cmd ip tcpdump nginx redis-server redis-cli curl python3
states=()
trap parent_cleanup EXIT

# 1. A normal run: the EXIT trap tears the lab down.
state1=$(mktemp /tmp/labtest-state-XXXXXX)
states+=("$state1")
bash "$0" --child normal "$state1" || fail "lab run failed (exit $?)"
grep -q '^done$' "$state1" || fail "child did not finish its checks"
assert_nothing_left "$state1"

# 2. A run killed with SIGTERM while its servers are up: the TERM trap tears it down.
state2=$(mktemp /tmp/labtest-state-XXXXXX)
states+=("$state2")
bash "$0" --child signal "$state2" &
child=$!
for ((i = 0; i < 300; i++)); do
  grep -q '^ready$' "$state2" && break
  kill -0 "$child" 2>/dev/null || break
  sleep 0.1
done
grep -q '^ready$' "$state2" || fail "signal-mode child never became ready"
kill -TERM "$child"
rc=0
wait "$child" || rc=$?
[[ $rc == 143 ]] || fail "child exited $rc after SIGTERM, expected 143"
assert_nothing_left "$state2"

echo "lab_test: PASS"
