#!/usr/bin/env bash
# Response payloads through the tunnel end to end: intercept --payload 512 in the lab, tcpcopy
# replaying tests/fixtures/http_short.pcap against nginx with --response-payload 512. The payload
# bytes tcpcopy reports must be exactly those of the target's responses as a tcpdump on
# intercept's interface saw them: per segment the first 512 bytes received, the rest counted as
# missing. A second tcpcopy that does not ask receives none, and its replay is as before.
# Usage: payload_test.sh BUILD_DIR   (root)
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
limit=512

lab_init payload
lab_up
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG

lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --payload "$limit" \
  --payload-memory 1
ilog=$LAB_DIR/intercept.log
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

e2e_begin payload_test

# payload_sums PCAP : "SEGMENTS RECEIVED TOTAL" over the target's segments with data: how many,
# the sum of min(len, $limit) and the sum of len (tcpdump's "length" is the TCP payload).
payload_sums() {
  tcpdump -r "$1" -nn 'src port 80' 2>/dev/null |
    awk -v limit="$limit" '{ for (i = 1; i < NF; i++) if ($i == "length") n = $(i + 1) + 0 }
      n > 0 { segs++; got += (n < limit ? n : limit); all += n } { n = 0 }
      END { printf "%d %d %d\n", segs, got, all }'
}

# --- 0. the flags' ranges ------------------------------------------------------------------------
# bad_flag BIN ARGS... : the daemon refuses ARGS with exit 2 and a line naming the option.
bad_flag() {
  local bin=$1 out rc=0
  shift
  out=$("$bin" "$@" 2>&1) || rc=$?
  if ((rc == 2)) && grep -q -- "${1%%=*}" <<<"$out"; then
    ok "refused $*: $(head -1 <<<"$out")"
  else
    fail "$*: exit $rc, output: $(head -1 <<<"$out")"
  fi
}
bad_flag "$intercept_bin" --payload 65536
bad_flag "$intercept_bin" --payload-memory 0
bad_flag "$tcpcopy_bin" --response-payload 65536 -x 80-198.18.1.2:80

# --- 1. tcpcopy asks for payloads ---------------------------------------------------------------
lab_capture_start asked "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_TARGET" 'tcp and src port 80'
dump_pid=$LAB_LAST_PID
run_tcpcopy asked -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" --response-payload "$limit"
tcpcopy_summary asked
completed=$(report_value asked sessions.completed)
# Every completed session ended with the target's FIN, which intercept had seen before tcpcopy
# could count the session complete: once the dump holds them all, it holds every data segment.
lab_capture_stop "$dump_pid" "$LAB_DIR/asked.pcap" 'src port 80 and tcp[tcpflags] & tcp-fin != 0' "$completed"
read -r segs want_got want_all <<<"$(payload_sums "$LAB_DIR/asked.pcap")"
got=$(report_value asked response_payloads.bytes)
missing=$(report_value asked response_payloads.missing_bytes)
if ((tc_rc != 0)); then
  fail "asked: tcpcopy exited $tc_rc"
elif ((segs == 0 || want_got == 0)); then
  fail "asked: the target's responses carried no payload in the dump"
elif [[ $got == "$want_got" && $((got + missing)) == "$want_all" ]]; then
  ok "asked: $got payload bytes received ($segs segments, $want_all bytes sent, $missing beyond $limit per segment), as the target sent them"
else
  fail "asked: received $got + missing $missing payload bytes; the target sent $want_all, $want_got of them within $limit per segment"
fi
if grep -q "response payloads: up to $limit bytes each" "$ilog"; then
  ok "asked: intercept granted $limit bytes per response"
else
  fail "asked: intercept's log does not say it granted payloads"
fi

lab_nginx_settle "$nginx_log"
lab_requests_nginx "$nginx_log" >"$LAB_DIR/asked.got"
if diff -u "$fixtures/http_short.requests.txt" "$LAB_DIR/asked.got" >"$LAB_DIR/asked.diff"; then
  ok "asked: the target received exactly the capture's requests"
else
  fail "asked: the target's requests differ from the capture's"
  head -20 "$LAB_DIR/asked.diff" >&2
fi

# --- 2. a tcpcopy that does not ask gets headers only ------------------------------------------
: >"$nginx_log"
run_tcpcopy plain -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap"
tcpcopy_summary plain
lab_nginx_settle "$nginx_log"
lab_requests_nginx "$nginx_log" >"$LAB_DIR/plain.got"
received=$(report_value plain response_payloads.received)
plain_bytes=$(report_value plain response_payloads.bytes)
responses=$(report_value plain tunnel.responses)
if ((tc_rc != 0)); then
  fail "plain: tcpcopy exited $tc_rc"
elif [[ $received == 0 && $plain_bytes == 0 ]] && ((responses > 0)) &&
  diff -q "$fixtures/http_short.requests.txt" "$LAB_DIR/plain.got" >/dev/null; then
  ok "plain: $responses response headers, no payload, every request replayed"
else
  fail "plain: payload items $received, bytes $plain_bytes, response headers $responses (want 0, 0, > 0)"
fi
if grep -q "response payloads:" "$LAB_DIR/tcpcopy-plain.log"; then
  fail "plain: the summary shows a payload line without --response-payload"
else
  ok "plain: no payload line in the summary"
fi

e2e_end
