#!/usr/bin/env bash
# Operations in the namespace lab, through the real daemons against nginx:
#  - --check: a healthy lab passes on both sides; a broken one is caught, one line per problem
#    (ip_forward=1 on the assistant, a bad filter, intercept not running, a tunnel open to any
#    host; with --insecure that is a warning instead);
#  - the same over IPv6 (lab_up_v6): -x/-s in the bracket form, intercept on "::" reached over both
#    families, the route to an IPv6 target (and none to an unrouted one), the IPv6 tunnel port busy,
#    net.ipv6.conf.all.forwarding=1 on the assistant, IPv6 off on the capture device, --metrics
#    on [::1];
#  - /metrics of both daemons scraped during a real replay (curl inside the namespaces): the
#    counters move;
#  - systemd protocol: intercept under a fake NOTIFY_SOCKET sends READY=1, STATUS= and
#    WATCHDOG=1; with JOURNAL_STREAM naming its stderr its log lines carry no timestamp;
#  - the progress line: on a terminal (a pty from script(1)) an offline replay redraws it with
#    \r; with stderr not a terminal there is none.
# Usage: ops_lab_test.sh BUILD_DIR   (root)
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
lab_require_cmd curl script python3

lab_init ops
lab_up
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80

e2e_begin ops_lab_test

intercept_args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP"
  --allow "$LAB_TUNNEL_ALLOW")
# The same on another port, for checks while the real intercept holds the tunnel port.
intercept_check_args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p 36999 -b "$LAB_ASSIST_TUNNEL_IP"
  --allow "$LAB_TUNNEL_ALLOW")
tcpcopy_args=(-x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" -i "$fixtures/http_short.pcap")

# expect_check NAME WANT_RC REGEX NS CMD... : runs a --check, wants its exit status and a line.
expect_check() {
  local name=$1 want=$2 re=$3 ns=$4 rc=0
  shift 4
  ip netns exec "$ns" "$@" --check >"$LAB_DIR/check-$name.out" 2>&1 || rc=$?
  if ((rc == want)) && grep -Eq -- "$re" "$LAB_DIR/check-$name.out"; then
    ok "check $name: exit $rc, $(grep -E -- "$re" "$LAB_DIR/check-$name.out" | head -1)"
  else
    fail "check $name: wanted exit $want and a line matching '$re', got exit $rc:"
    cat "$LAB_DIR/check-$name.out" >&2
  fi
}

# ---- intercept under a fake systemd: notification socket and journal stream ----
notify_sock="$LAB_DIR/notify.sock"
lab_bg notify - python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
print("listening", flush=True)
while True:
    out.write(s.recv(65536).decode().replace("\n", " | ") + "\n")
' "$notify_sock" "$LAB_DIR/notify.txt"
lab_wait_file_match "$LAB_DIR/notify.log" '^listening$' 10
touch "$LAB_DIR/intercept.log"
journal_stream=$(stat -c '%d:%i' "$LAB_DIR/intercept.log")
lab_bg intercept "$LAB_NS_ASSIST" env NOTIFY_SOCKET="$notify_sock" WATCHDOG_USEC=400000 \
  JOURNAL_STREAM="$journal_stream" "$intercept_bin" "${intercept_args[@]}" --metrics 127.0.0.1:9102 \
  --stats-interval 1
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
lab_wait_file_match "$LAB_DIR/notify.txt" '^READY=1 \| STATUS=stats: captured=' 10 && ok "intercept: READY=1 with STATUS= once listening"
lab_wait_file_match "$LAB_DIR/notify.txt" '^WATCHDOG=1$' 10 && ok "intercept: WATCHDOG=1 from the loop (WATCHDOG_USEC set)"
lab_wait_file_match "$LAB_DIR/intercept.log" 'intercept listening on' 10
if grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$LAB_DIR/intercept.log"; then
  fail "intercept logs timestamps although stderr is the journal: $(head -1 "$LAB_DIR/intercept.log")"
elif grep -Eq '^info +\[intercept\] intercept listening on' "$LAB_DIR/intercept.log"; then
  ok "intercept: no timestamp in log lines when JOURNAL_STREAM is its stderr"
else
  fail "intercept's log has an unexpected form: $(head -3 "$LAB_DIR/intercept.log")"
fi

# ---- preflight, healthy lab ----
expect_check intercept-healthy 0 'all checks passed' "$LAB_NS_ASSIST" "$intercept_bin" "${intercept_check_args[@]}"
expect_check tcpcopy-healthy 0 'ok: intercept .* answers the tunnel handshake' "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy_args[@]}"

# ---- metrics during a real replay, and the progress line on a pty ----
scrape() { # NS PORT OUT
  ip netns exec "$1" curl -fsS --max-time 2 "http://127.0.0.1:$2/metrics" >"$3" 2>/dev/null
}
metric() { awk -v n="$1" '$1 == n {print $2}' "$2"; }
scrape "$LAB_NS_ASSIST" 9102 "$LAB_DIR/intercept-before.prom" || fail "intercept /metrics unreachable"
grep -q '^# TYPE intercept_responses_forwarded_total counter$' "$LAB_DIR/intercept-before.prom" ||
  fail "intercept /metrics lacks intercept_responses_forwarded_total"

# -a 0.3: the 2.7 s capture takes about 9 s, long enough for several scrapes and redraws.
tc_cmd="$(printf '%q ' "$tcpcopy_bin" "${tcpcopy_args[@]}" -a 0.3 --stats-interval 0 --metrics 127.0.0.1:9101)"
lab_bg tcpcopy-pty "$LAB_NS_TC" script -qfec "$tc_cmd" "$LAB_DIR/tcpcopy.typescript"
tc_pid=$LAB_LAST_PID
n=0
while kill -0 "$tc_pid" 2>/dev/null; do
  if scrape "$LAB_NS_TC" 9101 "$LAB_DIR/tc-$n.prom"; then n=$((n + 1)); fi
  sleep 0.3
done
tc_rc=0
wait "$tc_pid" || tc_rc=$?
((tc_rc == 0)) || fail "tcpcopy under the pty exited $tc_rc"
scrape "$LAB_NS_ASSIST" 9102 "$LAB_DIR/intercept-after.prom" || fail "intercept /metrics unreachable after the replay"
if ((n >= 2)); then
  first=$(metric tcpcopy_requests_sent_total "$LAB_DIR/tc-0.prom")
  last=$(metric tcpcopy_requests_sent_total "$LAB_DIR/tc-$((n - 1)).prom")
  if [[ -n $first && -n $last ]] && ((last > first)); then
    ok "tcpcopy /metrics: tcpcopy_requests_sent_total moved $first -> $last over $n scrapes during the replay"
  else
    fail "tcpcopy_requests_sent_total did not move over $n scrapes ($first -> $last)"
  fi
  grep -q '^tcpcopy_sessions_active ' "$LAB_DIR/tc-$((n - 1)).prom" || fail "tcpcopy /metrics lacks tcpcopy_sessions_active"
else
  fail "only $n scrapes of tcpcopy's /metrics succeeded during the replay"
fi
before=$(metric intercept_responses_forwarded_total "$LAB_DIR/intercept-before.prom")
after=$(metric intercept_responses_forwarded_total "$LAB_DIR/intercept-after.prom")
if [[ -n $before && -n $after ]] && ((after > before)); then
  ok "intercept /metrics: intercept_responses_forwarded_total moved $before -> $after"
else
  fail "intercept_responses_forwarded_total did not move ($before -> $after)"
fi
typescript="$LAB_DIR/tcpcopy.typescript"
redraws=$(tr '\r' '\n' <"$typescript" | grep -Ec '^replay +[0-9.]+% \| sessions [0-9]+ active, [0-9]+ done \| [0-9.]+ req/s \| ETA [0-9:-]+' || true)
# The last redraw, when the input ends, shows all of it read.
if ((redraws >= 3)) && tr '\r' '\n' <"$typescript" | grep -Eq '^replay +100\.0%'; then
  ok "progress on a pty: $redraws redraws with \\r, the last at 100%"
else
  fail "progress on a pty: $redraws redraws; typescript: $(tr '\r' '\n' <"$typescript" | head -5)"
fi
lab_nginx_settle
(($(lab_nginx_count "$LAB_NGINX_ACCESS_LOG") == 20)) ||
  fail "nginx logged $(lab_nginx_count "$LAB_NGINX_ACCESS_LOG") requests, expected 20"

# Not a terminal: no progress line.
# (also under the fake systemd: READY=1 with its status once intercept answered)
lab_bg tcpcopy-notty "$LAB_NS_TC" env NOTIFY_SOCKET="$notify_sock" "$tcpcopy_bin" "${tcpcopy_args[@]}" -a 100 \
  --stats-interval 0
lab_wait_exit "$LAB_LAST_PID" 60 || fail "tcpcopy (stderr to a file) failed"
# The datagram left before tcpcopy exited; the listener may not have written it yet.
if (lab_wait_file_match "$LAB_DIR/notify.txt" '^READY=1 \| STATUS=sessions active=[0-9]+ started=' 30); then
  ok "tcpcopy: READY=1 with STATUS= once the replay starts"
else
  fail "tcpcopy sent no READY=1 with STATUS=: $(cat "$LAB_DIR/notify.txt")"
fi
if grep -aq 'ETA' "$LAB_DIR/tcpcopy-notty.log"; then
  fail "progress line written although stderr is a file"
else
  ok "no progress line when stderr is not a terminal"
fi

# ---- preflight, broken lab ----
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w net.ipv4.ip_forward=1
expect_check intercept-forwarding 1 '^problem: ip_forward is 1' "$LAB_NS_ASSIST" "$intercept_bin" "${intercept_check_args[@]}"
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w net.ipv4.ip_forward=0
expect_check intercept-badfilter 1 "^problem: -F/--filter 'tcp and and'" "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and and" -p 36999
expect_check intercept-busyport 1 "^problem: cannot listen on $LAB_ASSIST_TUNNEL_IP:$LAB_TUNNEL_PORT" "$LAB_NS_ASSIST" "$intercept_bin" "${intercept_args[@]}"
# Neither --secret-file nor --allow on a lab address: intercept would refuse to start, --check says
# so as a problem; with --insecure it is a warning (and the rest passes).
open_args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p 36999 -b "$LAB_ASSIST_TUNNEL_IP")
expect_check intercept-open 1 "^problem: the tunnel on $LAB_ASSIST_TUNNEL_IP:36999 is open to any host.* refuses to start" \
  "$LAB_NS_ASSIST" "$intercept_bin" "${open_args[@]}"
expect_check intercept-insecure 0 "^warning: the tunnel on $LAB_ASSIST_TUNNEL_IP:36999 is open to any host.*\(--insecure\)" \
  "$LAB_NS_ASSIST" "$intercept_bin" "${open_args[@]}" --insecure
printf 'ops-lab-secret\n' >"$LAB_DIR/secret"
expect_check intercept-secret 0 "^ok: secret file $LAB_DIR/secret holds a secret" \
  "$LAB_NS_ASSIST" "$intercept_bin" "${open_args[@]}" --secret-file "$LAB_DIR/secret"
expect_check tcpcopy-badfilter 1 "^problem: .*filter 'tcp and and'" "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy_args[@]}" -F "tcp and and"
expect_check tcpcopy-noroute 1 "^problem: no route to the target 198.19.9.9" "$LAB_NS_TC" "$tcpcopy_bin" -x "80-198.19.9.9:80" -s "$LAB_ASSIST_TUNNEL_IP" -i "$fixtures/http_short.pcap"
lab_stop "$intercept_pid"
expect_check tcpcopy-nointercept 1 "^problem: intercept $LAB_ASSIST_TUNNEL_IP:$LAB_TUNNEL_PORT unreachable: Connection refused" "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy_args[@]}"

# ---- IPv6: -x/-s/-b/--allow/--metrics in IPv6 forms, and --check's IPv6 findings ----
lab_up_v6
# ERE for an address in brackets, as tcpcopy and intercept print an IPv6 endpoint.
br() { printf '\\[%s\\]' "$1"; }
tunnel6_allow="$LAB_TUNNEL_ALLOW,$LAB6_TUNNEL_ALLOW"
# One intercept on "::": dual stack, tcpcopy reaches it over IPv4 and over IPv6 (-s lists both).
lab_bg intercept6 "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p 36998 \
  -b :: --allow "$tunnel6_allow" --metrics "[::1]:9103" --stats-interval 0
intercept6_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "::" 36998 15
tcpcopy6_args=(-x "80-[$LAB6_TARGET_IP]:80" -s "$LAB_ASSIST_TUNNEL_IP:36998,[$LAB6_ASSIST_TUNNEL_IP]:36998"
  -i "$fixtures/http_short.pcap")
expect_check tcpcopy6-route 0 "^ok: route to the target $LAB6_TARGET_IP via $LAB_IF_TC_TARGET from $LAB6_TC_IP$" \
  "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy6_args[@]}"
expect_check tcpcopy6-handshake 0 "^ok: intercept $(br "$LAB6_ASSIST_TUNNEL_IP"):36998 answers the tunnel handshake" \
  "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy6_args[@]}"
expect_check tcpcopy6-handshake-v4 0 "^ok: intercept $LAB_ASSIST_TUNNEL_IP:36998 answers the tunnel handshake" \
  "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy6_args[@]}"
expect_check tcpcopy6-noroute 1 "^problem: no route to the target fd00:198:19:9::9: Network is unreachable -> .*ip -6 route" \
  "$LAB_NS_TC" "$tcpcopy_bin" -x "80-[fd00:198:19:9::9]:80" -s "[$LAB6_ASSIST_TUNNEL_IP]:36998" -i "$fixtures/http_short.pcap"
# A specific IPv6 address on a port "::" holds is taken.
expect_check intercept6-busyport 1 "^problem: cannot listen on $(br "$LAB6_ASSIST_TUNNEL_IP"):36998 for tcpcopy" \
  "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -p 36998 -b "$LAB6_ASSIST_TUNNEL_IP" --allow "$tunnel6_allow"
# The assistant with IPv6 addresses: forwarding must be off for IPv6 too.
intercept6_check_args=(-i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p 36999 -b "$LAB6_ASSIST_TUNNEL_IP"
  --allow "$LAB6_TUNNEL_ALLOW")
expect_check intercept6-healthy 0 '^ok: net.ipv6.conf.all.forwarding is 0' "$LAB_NS_ASSIST" "$intercept_bin" "${intercept6_check_args[@]}"
expect_check intercept6-port 0 "^ok: tunnel port $(br "$LAB6_ASSIST_TUNNEL_IP"):36999 is free" \
  "$LAB_NS_ASSIST" "$intercept_bin" "${intercept6_check_args[@]}"
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w net.ipv6.conf.all.forwarding=1
expect_check intercept6-forwarding 1 '^problem: net.ipv6.conf.all.forwarding is 1: .* -> sysctl -w net.ipv6.conf.all.forwarding=0$' \
  "$LAB_NS_ASSIST" "$intercept_bin" "${intercept6_check_args[@]}"
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w net.ipv6.conf.all.forwarding=0
# IPv6 off on the capture device: the target cannot reach this host over IPv6 (a warning).
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w "net.ipv6.conf.$LAB_IF_ASSIST_TARGET.disable_ipv6=1"
expect_check intercept6-disabled 0 "^warning: IPv6 is off on $LAB_IF_ASSIST_TARGET" \
  "$LAB_NS_ASSIST" "$intercept_bin" "${intercept6_check_args[@]}"
ip netns exec "$LAB_NS_ASSIST" sysctl -q -w "net.ipv6.conf.$LAB_IF_ASSIST_TARGET.disable_ipv6=0"
# /metrics on IPv6 loopback.
if ip netns exec "$LAB_NS_ASSIST" curl -gfsS --max-time 2 "http://[::1]:9103/metrics" >"$LAB_DIR/intercept6.prom" &&
  grep -q '^# TYPE intercept_responses_forwarded_total counter$' "$LAB_DIR/intercept6.prom"; then
  ok "intercept --metrics [::1]:9103 serves /metrics"
else
  fail "intercept /metrics on [::1]:9103: $(head -3 "$LAB_DIR/intercept6.prom" 2>/dev/null)"
fi
lab_stop "$intercept6_pid"
expect_check tcpcopy6-nointercept 1 "^problem: intercept $(br "$LAB6_ASSIST_TUNNEL_IP"):36998 unreachable: Connection refused" \
  "$LAB_NS_TC" "$tcpcopy_bin" "${tcpcopy6_args[@]}"

e2e_end
