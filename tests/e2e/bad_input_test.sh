#!/usr/bin/env bash
# Bad input, end to end: what tcpcopy and intercept do with captures, flags and tunnel bytes that
# are damaged, odd or hostile. Each case states the expected behaviour:
#   - empty, corrupt and unsupported-link-type captures: one line naming the file, non-zero exit;
#   - a truncated capture: the packets before the damage are replayed (the target gets exactly
#     the requests complete in that part), then a non-zero exit with a line naming the file;
#   - packets with bad IP/TCP header lengths: skipped and counted (frames_malformed in --report),
#     every good request still replayed;
#   - the same connections seen twice in one capture: each request replayed twice;
#   - absurd or conflicting flags: one line naming the flag, exit 2, nothing started (a -B the
#     kernel cannot take among them);
#   - garbage, an oversized frame, a HELLO without the MAC and a RESPONSES frame before any HELLO
#     sent to intercept: that peer is closed or rejected and logged, intercept keeps serving;
#   - a secret file with CRLF line ends on tcpcopy's side (LF on intercept's): the same secret;
#   - a symbolic link where --report is to be written: replaced, its target left alone;
#   - a tunnel peer that stops reading while responses for its route pour in: intercept's
#     memory stays bounded (its queue drops the oldest, counted), and once the peer is also
#     silent it is dropped.
# (A capture with no traffic for the -x port: offline_replay_test.sh "noport".)
# Usage: bad_input_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
pcaptool=$(realpath "$here/../tools/pcaptool.py")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd python3

lab_init badin
lab_up

e2e_begin bad_input_test

printf 'bad-input-secret-%s\n' "$$" >"$LAB_DIR/secret"
chmod 600 "$LAB_DIR/secret"

# --- start-up errors: the process stops before replaying anything -------------------------------
# one_line_error NAME EXPECTED_TEXT ARGS... : tcpcopy must exit non-zero printing exactly one line
# that contains EXPECTED_TEXT. Runs inside the tc namespace (no route to anywhere real).
one_line_error() {
  local name=$1 expected=$2 out rc=0
  shift 2
  out=$(lab_ns_exec "$LAB_NS_TC" "$tcpcopy_bin" "$@" 2>&1) || rc=$?
  if ((rc == 0)); then
    fail "$name: tcpcopy exited 0"
  elif [[ $(wc -l <<<"$out") -ne 1 ]]; then
    fail "$name: expected one line, got: $out"
  elif [[ $out != *"$expected"* ]]; then
    fail "$name: the line does not name '$expected': $out"
  else
    ok "$name: exit $rc, '$out'"
  fi
}

: >"$LAB_DIR/empty.pcap"
head -c 4096 /dev/urandom >"$LAB_DIR/corrupt.pcap"
printf '\xd4\xc3\xb2\xa1\x02\x00' >"$LAB_DIR/short-header.pcap"
python3 "$here/bad_pcap.py" linktype "$fixtures/http_short.pcap" "$LAB_DIR/linktype.pcap" 147
common=(-x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" --stats-interval 0)
one_line_error empty-file "$LAB_DIR/empty.pcap" "${common[@]}" -i "$LAB_DIR/empty.pcap"
one_line_error corrupt-file "$LAB_DIR/corrupt.pcap" "${common[@]}" -i "$LAB_DIR/corrupt.pcap"
one_line_error short-header "$LAB_DIR/short-header.pcap" "${common[@]}" -i "$LAB_DIR/short-header.pcap"
one_line_error missing-file "$LAB_DIR/nosuch.pcap" "${common[@]}" -i "$LAB_DIR/nosuch.pcap"
one_line_error link-type "$LAB_DIR/linktype.pcap" "${common[@]}" -i "$LAB_DIR/linktype.pcap"

input=(-i "$fixtures/http_short.pcap")
one_line_error copies-zero "copies" "${common[@]}" "${input[@]}" -n 0
one_line_error sample-101 "sample" "${common[@]}" "${input[@]}" -r 101
one_line_error mss-over-mtu "mss" "${common[@]}" "${input[@]}" -M 1500 -D 1461
one_line_error mss-over-default-mtu "mss" "${common[@]}" "${input[@]}" -D 9000
one_line_error transfer-without-target "transfer" -x 80 -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error transfer-bad-port "transfer" -x "80-$LAB_TARGET_IP:70000" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error udp-rule-without-target "-x/--transfer bad rule 'udp:53'" -x udp:53 "${input[@]}"
one_line_error udp-rule-unknown-protocol "-x/--transfer bad rule 'sctp:53-$LAB_TARGET_IP:53'" \
  -x "sctp:53-$LAB_TARGET_IP:53" "${input[@]}"
one_line_error udp-rule-repeated "rule 'udp:53-$LAB_TARGET_IP:54' repeats" \
  -x "udp:53-$LAB_TARGET_IP:53,tcp:53-$LAB_TARGET_IP:53,udp:53-$LAB_TARGET_IP:54" "${input[@]}"
# With a TCP rule an intercept is needed; with only udp: rules it is not (udp_copy_test.sh).
one_line_error tcp-rule-needs-intercept "-s/--intercept is required" \
  -x "udp:53-$LAB_TARGET_IP:53,tcp:80-$LAB_TARGET_IP:80" "${input[@]}"
one_line_error no-transfer "transfer" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error accelerate-zero "accelerate" "${common[@]}" "${input[@]}" -a 0
one_line_error intercept-bad "intercept" -x "80-$LAB_TARGET_IP:80" -s 198.18.3.300 "${input[@]}"
one_line_error max-sessions-zero "max-sessions" "${common[@]}" "${input[@]}" --max-sessions 0
one_line_error session-buffer-huge "max-session-buffer" "${common[@]}" "${input[@]}" --max-session-buffer 70000
one_line_error syn-retries-17 "syn-retries" "${common[@]}" "${input[@]}" --syn-retries 17
# Addresses of either family, refused in one line naming the flag (the forms taken: ops_lab_test.sh
# and the unit tests). Nothing here needs IPv6 in the lab: the values are refused before any use.
v6_target="fd00:198:18:1::2"
one_line_error x-ipv6-without-brackets "-x/--transfer bad rule '80-$v6_target:80'" \
  -x "80-$v6_target:80" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error x-ipv6-unclosed "lacks the closing ']'" -x "80-[$v6_target:80" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error x-ipv6-udp "rule 'udp:53-[$v6_target]:53': udp: rules are IPv4 only" -x "udp:53-[$v6_target]:53" "${input[@]}"
one_line_error x-families-without-pool "-x/--transfer: the rule for 192.0.2.1:80 sends IPv4 clients to the IPv6 target" \
  -x "192.0.2.1:80-[$v6_target]:80" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}"
one_line_error mss-over-mtu-ipv6 "-D/--mss 1441 must fit in -M/--mtu (1500) minus 60 (IPv6 and TCP headers)" \
  -x "80-[$v6_target]:80" -s "$LAB_ASSIST_TUNNEL_IP" "${input[@]}" -D 1441
one_line_error c-ipv6-prefix-too-large "-c/--client-ips bad client address '2001:db8::/64'" \
  "${common[@]}" "${input[@]}" -c 2001:db8::/64
one_line_error s-ipv6-unclosed "-s/--intercept: '[fd00:198:18:3::2' lacks the closing ']'" \
  -x "80-$LAB_TARGET_IP:80" -s "[fd00:198:18:3::2" "${input[@]}"
one_line_error H-with-port "-H/--loopback-rewrite '[::1]:80' has a port" "${common[@]}" "${input[@]}" -H "[::1]:80"
one_line_error metrics-ipv6-without-brackets "--metrics expects ADDR:PORT or [IPv6]:PORT" \
  "${common[@]}" "${input[@]}" --metrics ::1:9100
# Config-file keys take the same values, and refuse the same way (FILE:LINE naming the key).
printf 'client-ips = 203.0.113.0/24, 2001:db8::/100\n' >"$LAB_DIR/v6-pool.conf"
one_line_error config-ipv6-pool "$LAB_DIR/v6-pool.conf:1: 'client-ips' bad client address '2001:db8::/100'" \
  "${common[@]}" "${input[@]}" --config "$LAB_DIR/v6-pool.conf"
# intercept: -b, --allow and --metrics (the NAT maps' IPv6 refusal: nat_test.sh).
for args in "-b fd00:198:18:3::zz" "-b [fd00:198:18:3::2]:36524" "--allow 2001:db8::/129" "--metrics [::1]9100"; do
  rc=0
  extra=(-b 127.0.0.1)
  [[ $args == -b* ]] && extra=()
  # shellcheck disable=SC2086  # two words on purpose
  out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" "${extra[@]}" $args 2>&1) || rc=$?
  if ((rc != 0)) && [[ $(wc -l <<<"$out") -eq 1 && $out == *"${args%% *}"* ]]; then
    ok "intercept $args: exit $rc, '$out'"
  else
    fail "intercept $args: exit $rc, '$out'"
  fi
done
# -B sizes a ring in MiB: at least 1 (0 no longer means "the library's default"), at most 2047
# (2048 would overflow the int byte count libpcap takes).
one_line_error buffer-zero "buffer-size" "${common[@]}" -B 0
one_line_error buffer-2048 "buffer-size" "${common[@]}" "${input[@]}" -B 2048
# intercept's own: --buffer-size 0 or beyond 2047 MiB, --max-connections 0, an unknown --log-level.
for args in "--buffer-size 0" "--buffer-size 2048" "--max-connections 0" "--log-level loud"; do
  rc=0
  # shellcheck disable=SC2086  # two words on purpose
  out=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -b 127.0.0.1 $args 2>&1) || rc=$?
  if ((rc != 0)) && [[ $(wc -l <<<"$out") -eq 1 && $out == *"${args%% *}"* ]]; then
    ok "intercept $args: exit $rc, '$out'"
  else
    fail "intercept $args: exit $rc, '$out'"
  fi
done

# --- the lab: nginx, intercept with a secret ------------------------------------------------------
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG
# In an ASan build freed memory sits in ASan's quarantine and would count as growth in the
# stuck-peer check below: no quarantine for this intercept (the option is ignored otherwise).
lab_bg intercept "$LAB_NS_ASSIST" env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
  "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --secret-file "$LAB_DIR/secret" --peer-queue 1 \
  --idle-timeout 2 --stats-interval 1 -l "$LAB_DIR/intercept-file.log"
intercept_pid=$LAB_LAST_PID
ilog=$LAB_DIR/intercept-file.log
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# use_secret FILE : the secret file of the replays that follow (run_tcpcopy, lib/checks.sh), all
# of them to nginx on the target.
use_secret() { run_tcpcopy_args=(--secret-file "$1" -x "80-$LAB_TARGET_IP:80"); }
use_secret "$LAB_DIR/secret"

# got_requests NAME : the target's requests, sorted, in $LAB_DIR/NAME.got, once nginx has logged
# everything it received.
got_requests() {
  lab_nginx_settle "$nginx_log"
  lab_requests_nginx "$nginx_log" >"$LAB_DIR/$1.got"
}

# A wrong secret: tcpcopy's exit line says why there is no tunnel, not merely "unreachable".
printf 'not-the-secret\n' >"$LAB_DIR/wrong.secret"
use_secret "$LAB_DIR/wrong.secret"
run_tcpcopy wrong-secret -i "$fixtures/http_short.pcap" --intercept-wait 3
use_secret "$LAB_DIR/secret"
last=$(tail -n 1 "$LAB_DIR/tcpcopy-wrong-secret.log")
if ((tc_rc != 0 && tc_rc != 124)) && [[ $last == "tcpcopy: no tunnel to intercept "*"authentication failed (wrong secret)"* ]]; then
  ok "wrong secret: exit $tc_rc, '$last'"
else
  fail "wrong secret: exit $tc_rc, last line '$last'"
fi

# A truncated capture: the complete part is replayed, then the error.
python3 "$here/bad_pcap.py" truncate "$fixtures/http_short.pcap" "$LAB_DIR/truncated.pcap" "$LAB_DIR/prefix.pcap"
python3 "$pcaptool" http-requests "$LAB_DIR/prefix.pcap" | LC_ALL=C sort >"$LAB_DIR/truncated.golden"
: >"$nginx_log"
run_tcpcopy truncated -i "$LAB_DIR/truncated.pcap" -a 1000
got_requests truncated
if ((tc_rc == 0 || tc_rc == 124)); then
  fail "truncated: tcpcopy exited $tc_rc, expected a non-zero exit"
elif ! grep -q "$LAB_DIR/truncated.pcap: .*truncated" "$LAB_DIR/tcpcopy-truncated.log"; then
  fail "truncated: no line naming the file and the damage: $(tail -3 "$LAB_DIR/tcpcopy-truncated.log")"
elif ! grep -q "tcpcopy summary" "$LAB_DIR/tcpcopy-truncated.log"; then
  fail "truncated: no summary"
elif ! diff -u "$LAB_DIR/truncated.golden" "$LAB_DIR/truncated.got" >&2; then
  fail "truncated: the target did not get exactly the requests before the damage"
else
  ok "truncated: $(wc -l <"$LAB_DIR/truncated.golden") requests before the damage replayed, exit $tc_rc, '$(grep -m1 "truncated.pcap:" "$LAB_DIR/tcpcopy-truncated.log" | sed 's/.*tcpcopy\]*//')'"
fi

# Bad IP/TCP header lengths: counted and skipped; the good packets replay as usual.
bad=$(python3 "$here/bad_pcap.py" malformed "$fixtures/http_short.pcap" "$LAB_DIR/malformed.pcap")
LC_ALL=C sort "$fixtures/http_short.requests.txt" >"$LAB_DIR/malformed.golden"
: >"$nginx_log"
run_tcpcopy malformed -i "$LAB_DIR/malformed.pcap" -a 1000
got_requests malformed
counted=$(report_value malformed frames_malformed)
if ((tc_rc != 0)); then
  fail "malformed: tcpcopy exited $tc_rc"
elif [[ $counted != "$bad" ]]; then
  fail "malformed: frames_malformed is $counted, expected $bad"
elif ! diff -u "$LAB_DIR/malformed.golden" "$LAB_DIR/malformed.got" >&2; then
  fail "malformed: the target's requests differ from the capture's"
else
  ok "malformed: $bad bad headers counted and skipped, $(wc -l <"$LAB_DIR/malformed.got") requests replayed"
fi

# The same connections twice in one capture. Merged (every packet twice, as from two capture
# points): the copies are duplicates, each request replayed once. Concatenated (the file, then
# the file again 2 s later, at 1x so that the first sessions are over by then): each connection
# happened again, each request replayed twice.
python3 "$here/bad_pcap.py" merged "$fixtures/http_short.pcap" "$LAB_DIR/merged.pcap"
LC_ALL=C sort "$fixtures/http_short.requests.txt" >"$LAB_DIR/merged.golden"
: >"$nginx_log"
run_tcpcopy merged -i "$LAB_DIR/merged.pcap" -a 1000
got_requests merged
dups=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["capture_retransmissions"])' "$LAB_DIR/merged.json" 2>/dev/null || echo 0)
if ((tc_rc != 0)); then
  fail "merged: tcpcopy exited $tc_rc"
elif ! diff -u "$LAB_DIR/merged.golden" "$LAB_DIR/merged.got" >&2; then
  fail "merged: the target's requests differ from the capture's (each once)"
elif ((dups == 0)); then
  fail "merged: no duplicate counted (capture_retransmissions 0)"
else
  ok "merged: $(wc -l <"$LAB_DIR/merged.got") requests, each once; $dups duplicates counted"
fi
python3 "$here/bad_pcap.py" twice "$fixtures/http_short.pcap" "$LAB_DIR/twice.pcap"
cat "$fixtures/http_short.requests.txt" "$fixtures/http_short.requests.txt" | LC_ALL=C sort >"$LAB_DIR/twice.golden"
: >"$nginx_log"
run_tcpcopy twice -i "$LAB_DIR/twice.pcap" -a 1
got_requests twice
if ((tc_rc != 0)); then
  fail "twice: tcpcopy exited $tc_rc"
elif ! diff -u "$LAB_DIR/twice.golden" "$LAB_DIR/twice.got" >&2; then
  fail "twice: the target's requests differ from twice the capture's"
else
  ok "twice: $(wc -l <"$LAB_DIR/twice.got") requests, each connection replayed twice"
fi

# --- hostile tunnel peers ---------------------------------------------------------------------------
# Each refused peer gets one log line naming it; waiting for that line (rather than for a while)
# also means intercept has finished with the peer before its liveness is checked.
refusals() { grep -c "tunnel connection from $LAB_TC_TUNNEL_IP:[0-9]* closed during handshake" "$ilog" || true; }
for kind in garbage oversize nomac preauth; do
  before=$(refusals)
  out=$(lab_ns_exec "$LAB_NS_TC" python3 "$here/tunnel_peer.py" "$kind" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 2>&1) || true
  case $kind in
    nomac) want="reject 2" ;;                                                  # AuthFailed
    preauth) want="reject 5 RESPONSES before the handshake is complete" ;;  # never decoded
    *) want="" ;;
  esac
  for _ in $(seq 100); do (($(refusals) > before)) && break; sleep 0.1; done
  if [[ $out == open* || -z $out ]]; then
    fail "tunnel $kind: intercept kept the connection open ($out)"
  elif [[ -n $want && $out != "$want"* ]]; then
    fail "tunnel $kind: expected '$want', got '$out'"
  elif (($(refusals) <= before)); then
    fail "tunnel $kind: the refusal is not in intercept's log: $(tail -3 "$ilog")"
  elif ! lab_alive "$intercept_pid"; then
    fail "tunnel $kind: intercept died"
  else
    ok "tunnel $kind: $out; logged: $(grep "closed during handshake" "$ilog" | tail -1 | sed 's/^.*\] //')"
  fi
done

# A peer that stops reading. The flood's packets go from the target to a client address the
# stuck peer holds the route for; intercept queues them for that peer, drops the oldest beyond
# --peer-queue 1 (MiB) and stays bounded; once the peer also goes silent, --idle-timeout drops it.
# VmHWM is the peak resident size: read after the flood is over, it holds the largest intercept
# ever was, however far behind it ran.
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_before=$(hwm_kb "$intercept_pid")
lab_bg stuck "$LAB_NS_TC" python3 "$here/tunnel_peer.py" stuck "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" \
  "$LAB_DIR/secret" "192.0.2.200:40000" "$LAB_TARGET_IP:80" 12 "$LAB_DIR/stuck.ready"
stuck_pid=$LAB_LAST_PID
for _ in $(seq 100); do [[ -e $LAB_DIR/stuck.ready ]] && break; sleep 0.1; done
[[ -e $LAB_DIR/stuck.ready ]] || lab_die "stuck peer never got through the handshake: $(cat "$LAB_DIR/stuck.log")"
lab_ns_exec "$LAB_NS_TARGET" python3 "$here/tunnel_peer.py" flood "$LAB_TARGET_IP:80" "192.0.2.200:40000" 300000 \
  >"$LAB_DIR/flood.log" 2>&1 || fail "flood: $(cat "$LAB_DIR/flood.log")"
rc=0
lab_wait_exit "$stuck_pid" 90 || rc=$?
rss_after=$(hwm_kb "$intercept_pid")
# The stats line comes every second while intercept runs; the deadline bounds a failure only.
for _ in $(seq 300); do grep -Eq "stats: .*queue-dropped=[1-9]" "$ilog" && break; sleep 0.1; done
growth=$((rss_after - rss_before))
if ! grep -Eq "stats: .*queue-dropped=[1-9]" "$ilog"; then
  fail "stuck peer: no queue drops counted: $(grep stats: "$ilog" | tail -2)"
elif ((growth > 24 * 1024)); then
  fail "stuck peer: intercept grew by ${growth} KiB with --peer-queue 1"
elif ((rc != 0)); then
  fail "stuck peer: not dropped once silent: $(cat "$LAB_DIR/stuck.log")"
elif ! grep -q "idle" "$ilog"; then
  fail "stuck peer: the drop is not logged"
else
  ok "stuck peer: $(cat "$LAB_DIR/flood.log") responses; intercept peak RSS ${rss_before} -> ${rss_after} KiB; $(grep -Eo 'queue-dropped=[0-9]+' "$ilog" | tail -1); dropped when silent"
fi

# intercept still serves a well-behaved tcpcopy after all that. This tcpcopy reads a copy of the
# secret with CRLF line ends (intercept's has LF): the same secret for both. Its --report path
# is a symbolic link to a file it must not touch: the link is replaced by the report.
sed 's/$/\r/' "$LAB_DIR/secret" >"$LAB_DIR/secret.crlf"
use_secret "$LAB_DIR/secret.crlf"
printf 'precious\n' >"$LAB_DIR/victim"
ln -s "$LAB_DIR/victim" "$LAB_DIR/after.json"
: >"$nginx_log"
run_tcpcopy after -i "$fixtures/http_short.pcap" -a 1000
got_requests after
if ((tc_rc == 0)) && diff -q <(LC_ALL=C sort "$fixtures/http_short.requests.txt") "$LAB_DIR/after.got" >/dev/null; then
  ok "after: intercept still replays correctly (tcpcopy's secret file has CRLF line ends)"
else
  fail "after: tcpcopy exited $tc_rc or the requests differ: $(tail -3 "$LAB_DIR/tcpcopy-after.log")"
fi
if [[ $(cat "$LAB_DIR/victim") != precious ]]; then
  fail "report: --report wrote through the symbolic link into its target"
elif [[ -L $LAB_DIR/after.json ]] || ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$LAB_DIR/after.json"; then
  fail "report: $LAB_DIR/after.json is not the report"
else
  ok "report: the symbolic link was replaced by the report, its target untouched"
fi

lab_alive "$intercept_pid" || fail "intercept died during the test"
e2e_end
