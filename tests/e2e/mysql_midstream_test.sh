#!/usr/bin/env bash
# MySQL/MariaDB sessions captured mid-stream (--protocol mysql --mysql-midstream-login).
# Two clients (tools/mysql_idle_client.py, one with CLIENT_DEPRECATE_EOF) log in to an online
# MariaDB *before* the capture starts and wait; the capture starts; they then run queries tagged
# with unique ids and a server-side prepared statement prepared after the capture started, and
# disconnect. The capture holds neither their logins nor the start of their connections.
#  1. Replayed with --mysql-midstream-login app/sbtest against a target MariaDB: the target's
#     general log shows, per session, a fresh login as app on sbtest, then every captured command
#     from the first request boundary on, in order; no login denied, no session refused. Where
#     that boundary is, is the engine's rule: the first query when the capture shows the client's
#     pure ACK before it (its delayed ACK of the login's OK may fall after the capture started),
#     else the second (a connection seen first with data may be inside a request). The test
#     arranges one of each: client 1 turns TCP keepalive on once the capture runs, and its first
#     command waits until the capture holds a probe (a pure ACK); client 2 is quiet, the capture
#     starting only once the online server has its ACK of the login's OK. The expectations come
#     from the capture, per connection; for the hook the two cases are the two ways the online
#     answers line up (without, and with, an answer to a query it never sees first).
#  2. Replayed without the option by a fresh tcpcopy (no earlier login of these clients): the
#     sessions are refused as mid_stream, counted in the summary and the report, the log line
#     names the option, and nothing reaches the target.
# Also: the option's bad values, on the command line or in a config file, are refused with one
# line naming it.
# Usage: mysql_midstream_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"
# shellcheck source=lib/mariadb.sh
source "$here/lib/mariadb.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd mariadb python3
client=$here/tools/mysql_idle_client.py
payload=65535
clients=2

lab_init mysqlmid
lab_up
lab_start_mariadb "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 3306
online=$LAB_MARIADB_DIR
lab_start_mariadb "$LAB_NS_TARGET" 0.0.0.0 3306
target=$LAB_MARIADB_DIR

e2e_begin mysql_midstream_test

creds=$LAB_DIR/credentials
printf '# user password\n%s\n' "$LAB_MARIADB_USERS" >"$creds"
chmod 0600 "$creds"

# --- the option's bad values: one line naming it (flag or config key) -----------------------------
refused() { tcpcopy_refuses "$1" -x "3306-$LAB_TARGET_IP:3306" "${@:2}"; }
refused "--mysql-midstream-login" --protocol mysql --mysql-credentials "$creds" --mysql-midstream-login ""
refused "empty schema" --protocol mysql --mysql-credentials "$creds" --mysql-midstream-login app/
refused "user 'root' is not in $creds" --protocol mysql --mysql-credentials "$creds" --mysql-midstream-login root
refused "only with --protocol" --mysql-midstream-login app
printf 'protocol = mysql\nmysql-credentials = %s\nmysql-midstream-login = app/\n' "$creds" >"$LAB_DIR/bad.conf"
refused "bad.conf:3: 'mysql-midstream-login' has an empty schema" --config "$LAB_DIR/bad.conf"

# The same table on both servers (the target's rows are its own).
for d in "$online" "$target"; do
  lab_mariadb_sql "$d" "CREATE TABLE sbtest.sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(30) NOT NULL);
    INSERT INTO sbtest.sbtest1 SELECT seq, seq, CONCAT('row-', seq) FROM sbtest.seq_1_to_20;"
done

# --- the clients log in, then wait; the capture starts; they run their commands ---------------------
declare -a client_pids
for ((i = 1; i <= clients; i++)); do
  mkfifo "$LAB_DIR/go-$i"
  flags=()
  ((i % 2 == 0)) && flags=(--deprecate-eof)
  lab_bg "client-$i" "$LAB_NS_CLIENT" python3 "$client" "$LAB_ONLINE_IP" 3306 app app-secret sbtest "mid-$i" \
    "$LAB_DIR/go-$i" "${flags[@]}"
  client_pids[i]=$LAB_LAST_PID
done
for ((i = 1; i <= clients; i++)); do
  lab_wait_file_match "$LAB_DIR/client-$i.log" '^ready port=[0-9]+$' 30
done
# The online server holds nothing unacknowledged: no delayed ACK of the login's OK will follow.
client_port() { sed -n 's/^ready port=//p' "$LAB_DIR/client-$1.log"; }
for ((i = 1; i <= clients; i++)); do
  for ((t = 0; t < 100; t++)); do
    state=$(ip netns exec "$LAB_NS_ONLINE" ss -tinH "dport = :$(client_port "$i")")
    [[ -n $state && $state != *unacked:* ]] && break
    sleep 0.1
  done
  [[ -n $state && $state != *unacked:* ]] || lab_die "client $i's login OK is still unacknowledged: $state"
done
lab_capture_start load "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT" tcp port 3306
dump_pid=$LAB_LAST_PID
# shellcheck disable=SC2016 # $1 is the inner shell's
timeout 10 bash -c 'echo keepalive >"$1"' _ "$LAB_DIR/go-1" || lab_die "client 1 does not read its fifo"
for ((t = 0; t < 300; t++)); do
  (($(lab_pcap_count "$LAB_DIR/load.pcap" "src port $(client_port 1) and dst port 3306") > 0)) && break
  sleep 0.1
done
(($(lab_pcap_count "$LAB_DIR/load.pcap" "src port $(client_port 1) and dst port 3306") > 0)) ||
  lab_die "no keepalive probe from client 1 in the capture after 30 s"
for ((i = 1; i <= clients; i++)); do
  # shellcheck disable=SC2016 # $1 is the inner shell's
  timeout 10 bash -c 'echo go >"$1"' _ "$LAB_DIR/go-$i" || lab_die "client $i does not read its go fifo"
done
for ((i = 1; i <= clients; i++)); do
  rc=0
  lab_wait_exit "${client_pids[i]}" 60 || rc=$?
  ((rc == 0)) || lab_die "client $i exited $rc, see $LAB_DIR/client-$i.log"
done
# Each client closes with its FIN after COM_QUIT.
lab_capture_stop "$dump_pid" "$LAB_DIR/load.pcap" 'dst port 3306 and tcp[tcpflags] & tcp-fin != 0' "$clients"
syns=$(lab_pcap_count "$LAB_DIR/load.pcap" 'tcp[tcpflags] & tcp-syn != 0')
if ((syns == 0)); then
  ok "captured $clients connections without their start ($(lab_pcap_count "$LAB_DIR/load.pcap") packets, no SYN)"
else
  fail "the capture holds $syns SYNs: the clients were to connect before it started"
fi

lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 3306" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --payload "$payload"
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# Per client: does the capture show it idle (a pure ACK) before its first query? Then the engine
# replays from that query ("mid-N=first"), else from the next ("mid-N=second").
starts=()
for ((i = 1; i <= clients; i++)); do
  first=$(tcpdump -r "$LAB_DIR/load.pcap" -nn "src port $(client_port "$i") and dst port 3306" 2>/dev/null | head -1)
  if [[ $first == *"length 0"* ]]; then starts+=("mid-$i=first"); else starts+=("mid-$i=second"); fi
done
if [[ ${starts[*]} == "mid-1=first mid-2=second" ]]; then
  ok "the replay starts at the first query of client 1 (a keepalive probe first), the second of client 2"
else
  fail "the capture does not hold the two cases arranged: ${starts[*]}"
fi

mark_general_log() { wc -l <"$1/general.log"; }
target_log_since() { tail -n "+$(($2 + 1))" "$1/general.log"; }

# --- 1. with --mysql-midstream-login: a fresh login, then the captured commands --------------------
before=$(mark_general_log "$target")
run_tcpcopy login -x "3306-$LAB_TARGET_IP:3306" -i "$LAB_DIR/load.pcap" --protocol mysql \
  --mysql-credentials "$creds" --mysql-midstream-login app/sbtest
target_log_since "$target" "$before" >"$LAB_DIR/target-login.log"
((tc_rc == 0)) || fail "login: tcpcopy exited $tc_rc"
# Per online connection: its commands from where the replay starts, behind a login as app on sbtest.
if python3 - "$here/tools" "$online/general.log" "$LAB_DIR/target-login.log" "${starts[@]}" \
  >"$LAB_DIR/login-compare.txt" <<'PY'; then
import sys
from collections import Counter
sys.path.insert(0, sys.argv[1])
import mysql_general_log as gl

online, _ = gl.read(sys.argv[2], "192.0.2.")
target, denied = gl.read(sys.argv[3], "192.0.2.")
starts = dict(arg.split("=") for arg in sys.argv[4:])
want = Counter()
for seq in online.values():
    first = next(i for i, (cmd, text) in enumerate(seq) if cmd == "Query" and "-first */" in text)
    tag = seq[first][1].split("/* ")[1].split("-first")[0]
    start = first if starts[tag] == "first" else first + 1
    want[(("Connect", "app on sbtest"),) + tuple(seq[start:])] += 1
have = Counter(tuple(seq) for seq in target.values())
commands = sum(len(s) - 1 for s in want.elements())
executes = sum(sum(1 for c, _ in s if c == "Execute") for s in have.elements())
print(f"{len(online)} online sessions, {len(target)} target sessions, {commands} commands from the "
      f"boundary, {executes} executes at the target, {denied} logins denied")
for seq in (want - have):
    print("missing:", seq)
for seq in (have - want):
    print("unexpected:", seq)
sys.exit(0 if want == have and denied == 0 and len(online) > 0 else 1)
PY
  ok "login: $(head -1 "$LAB_DIR/login-compare.txt")"
else
  fail "login: $(cat "$LAB_DIR/login-compare.txt")"
fi
refused_total=$(report_value login protocol.refused_total)
if [[ $refused_total == 0 ]]; then
  ok "login: no session refused by the hook"
else
  fail "login: $refused_total sessions refused: $(tcpcopy_summary login | grep -i refus || true)"
fi

# --- 2. without it: refused as mid_stream, and the log says which option helps ------------------------
before=$(mark_general_log "$target")
run_tcpcopy nologin -x "3306-$LAB_TARGET_IP:3306" -i "$LAB_DIR/load.pcap" --protocol mysql \
  --mysql-credentials "$creds"
target_log_since "$target" "$before" >"$LAB_DIR/target-nologin.log"
# Nothing was replayed: tcpcopy says so with exit 1, and why.
if ((tc_rc == 1)) && grep -q "protocol hook refused all $clients captured connections" "$LAB_DIR/tcpcopy-nologin.log"; then
  ok "nologin: exit 1: $(grep -m1 'nothing replayed' "$LAB_DIR/tcpcopy-nologin.log")"
else
  fail "nologin: tcpcopy exited $tc_rc: $(tail -1 "$LAB_DIR/tcpcopy-nologin.log")"
fi
midstream=$(report_value nologin protocol.refused.mid_stream)
reached=$(grep -c "192\.0\.2\." "$LAB_DIR/target-nologin.log" || true)
if [[ $midstream == "$clients" ]] && ((reached == 0)); then
  ok "nologin: the $clients sessions refused as mid_stream, nothing of them at the target"
else
  fail "nologin: mid_stream $midstream (want $clients), target log lines from the clients $reached (want 0)"
fi
if tcpcopy_summary nologin | grep -q "protocol hooks: $clients sessions, $clients refused.*mid-stream $clients"; then
  ok "nologin: the summary says: $(tcpcopy_summary nologin | grep -m1 'protocol hooks')"
else
  fail "nologin: the summary does not count mid_stream"
fi
if grep -q "protocol hook refused.*mid_stream.*--mysql-midstream-login" "$LAB_DIR/tcpcopy-nologin.log"; then
  ok "nologin: the log names the option: $(grep -m1 'protocol hook refused' "$LAB_DIR/tcpcopy-nologin.log" | cut -c1-200)"
else
  fail "nologin: no log line naming --mysql-midstream-login"
fi

e2e_end
