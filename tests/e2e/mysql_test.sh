#!/usr/bin/env bash
# MySQL/MariaDB sessions replayed with their logins and prepared statements (--protocol mysql).
# An online MariaDB in the lab serves a real client load, captured on its interface: sysbench
# oltp_read_write with server-side prepared statements (user app, mysql_native_password) and the
# mariadb client running queries tagged with unique ids (user edu, ed25519). The capture is
# replayed against a target MariaDB with the same users and schema but its own scrambles and
# statement ids. Its general log must hold every captured session's commands, in order; no login
# may fail; the prepared statements executed must be the captured count. A second replay without
# --protocol mysql must fail at login, and its summary must say why.
# Usage: mysql_test.sh BUILD_DIR   (root)
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
lab_require_cmd sysbench mariadb
compare=$here/tools/mysql_general_log.py
payload=65535

lab_init mysql
lab_up
lab_start_mariadb "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 3306
online=$LAB_MARIADB_DIR
lab_start_mariadb "$LAB_NS_TARGET" 0.0.0.0 3306
target=$LAB_MARIADB_DIR

e2e_begin mysql_test

# --- the options refuse what cannot work, with one line naming the option or the file ------------------
refused() { tcpcopy_refuses "$1" -x "3306-$LAB_TARGET_IP:3306" "${@:2}"; }
printf 'app app-secret\n' >"$LAB_DIR/open-creds"
chmod 0644 "$LAB_DIR/open-creds"
refused "unknown protocol 'postgres'" --protocol postgres
refused "needs --mysql-credentials" --protocol mysql
refused "$LAB_DIR/open-creds" --protocol mysql --mysql-credentials "$LAB_DIR/open-creds"
printf 'app app-secret\n' >"$LAB_DIR/closed-creds"
chmod 0600 "$LAB_DIR/closed-creds"
refused "no -x rule has online port 3307" --protocol 3307=mysql --mysql-credentials "$LAB_DIR/closed-creds"
refused "only with --protocol" --mysql-credentials "$LAB_DIR/open-creds"
refused "cannot follow sessions --protocol rewrites" --protocol mysql --mysql-credentials "$LAB_DIR/closed-creds" \
  --compare-report "$LAB_DIR/x.json"

# The same tables on both servers (their rows' random text differs; the load's statements do not
# depend on it). Loaded over each server's own socket... sysbench needs TCP: from the server's
# namespace to itself, as root-free user app, before the capture starts.
sb() {
  local ns=$1 host=$2
  shift 2
  ip netns exec "$ns" sysbench oltp_read_write --db-driver=mysql --mysql-host="$host" --mysql-port=3306 \
    --mysql-user=app --mysql-password=app-secret --mysql-db=sbtest --tables=1 --table-size=200 "$@"
}
sb "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" --mysql-socket="$online/sock" prepare >"$LAB_DIR/prepare-online.log" 2>&1 ||
  lab_die "sysbench prepare (online) failed, see $LAB_DIR/prepare-online.log"
sb "$LAB_NS_TARGET" "$LAB_TARGET_IP" --mysql-socket="$target/sock" prepare >"$LAB_DIR/prepare-target.log" 2>&1 ||
  lab_die "sysbench prepare (target) failed, see $LAB_DIR/prepare-target.log"

# --- the capture: the real clients' load on the online server -------------------------------------
lab_capture_start load "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT" tcp port 3306
dump_pid=$LAB_LAST_PID
sb "$LAB_NS_CLIENT" "$LAB_ONLINE_IP" --threads=2 --events=30 --time=0 --db-ps-mode=auto run \
  >"$LAB_DIR/sysbench.log" 2>&1 || lab_die "sysbench run failed, see $LAB_DIR/sysbench.log"
for i in 1 2 3; do
  ip netns exec "$LAB_NS_CLIENT" mariadb --no-defaults -h "$LAB_ONLINE_IP" -u edu -ped-secret sbtest -N -B \
    -e "SELECT /* e2e-cli-$i-a */ COUNT(*) FROM sbtest1; SELECT /* e2e-cli-$i-b */ c FROM sbtest1 WHERE id = $i;" \
    >>"$LAB_DIR/cli.log" 2>&1 || lab_die "mariadb client failed, see $LAB_DIR/cli.log"
done
# 3 mariadb sessions + sysbench's 2 threads, each closed with its client's FIN.
lab_capture_stop "$dump_pid" "$LAB_DIR/load.pcap" 'dst port 3306 and tcp[tcpflags] & tcp-fin != 0' 5
captured=$(lab_pcap_count "$LAB_DIR/load.pcap" 'dst port 3306 and tcp[tcpflags] & tcp-syn != 0')
ok "captured $captured client connections ($(lab_pcap_count "$LAB_DIR/load.pcap") packets)"

# --- the replay, with the MySQL hook ----------------------------------------------------------------
creds=$LAB_DIR/credentials
printf '# user password\n%s\n' "$LAB_MARIADB_USERS" >"$creds"
chmod 0600 "$creds"
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 3306" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --payload "$payload"
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

mark_general_log() { wc -l <"$1/general.log"; }
target_log_since() { tail -n "+$(($2 + 1))" "$1/general.log"; }

before=$(mark_general_log "$target")
run_tcpcopy hooked -x "3306-$LAB_TARGET_IP:3306" -i "$LAB_DIR/load.pcap" --protocol mysql \
  --mysql-credentials "$creds" --response-payload "$payload"
tcpcopy_summary hooked
# Every replayed session ended (the summary is printed after); the target has logged its
# commands when it ran them, before answering.
target_log_since "$target" "$before" >"$LAB_DIR/target-hooked.log"
if ((tc_rc != 0)); then
  fail "hooked: tcpcopy exited $tc_rc"
fi
if python3 "$compare" "$online/general.log" "$LAB_DIR/target-hooked.log" --clients 192.0.2. \
  --json "$LAB_DIR/hooked-compare.json" >"$LAB_DIR/hooked-compare.txt"; then
  ok "hooked: the target ran every captured session's commands in order: $(tail -1 "$LAB_DIR/hooked-compare.txt")"
else
  fail "hooked: $(cat "$LAB_DIR/hooked-compare.txt")"
fi
json_value() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
want_exec=$(json_value "$LAB_DIR/hooked-compare.json" online_executes)
have_exec=$(json_value "$LAB_DIR/hooked-compare.json" target_executes)
if ((want_exec > 0 && want_exec == have_exec)); then
  ok "hooked: $have_exec prepared statements executed, as captured"
else
  fail "hooked: $have_exec prepared statements executed, $want_exec captured"
fi
refused=$(report_value hooked protocol.refused_total)
if [[ $refused == 0 ]]; then
  ok "hooked: no session refused by the hook"
else
  fail "hooked: $refused sessions refused: $(tcpcopy_summary hooked | grep -i refus || true)"
fi

# --- a user missing from the credentials file: its sessions are refused, counted, never sent ----------
printf 'app app-secret\n' >"$LAB_DIR/app-only"
chmod 0600 "$LAB_DIR/app-only"
before=$(mark_general_log "$target")
run_tcpcopy partial -x "3306-$LAB_TARGET_IP:3306" -i "$LAB_DIR/load.pcap" --protocol 3306=mysql \
  --mysql-credentials "$LAB_DIR/app-only"
target_log_since "$target" "$before" >"$LAB_DIR/target-partial.log"
unknown=$(report_value partial protocol.refused.unknown_user)
edu_seen=$(grep -c "edu" "$LAB_DIR/target-partial.log" || true)
app_seen=$(grep -c "Connect.*app@192.0.2" "$LAB_DIR/target-partial.log" || true)
if [[ $unknown == 3 ]] && ((edu_seen == 0 && app_seen == 2)); then
  ok "partial: the 3 sessions of edu refused as unknown_user (no login tried), app's 2 replayed"
else
  fail "partial: unknown_user $unknown (want 3), edu lines at the target $edu_seen (want 0), app logins $app_seen (want 2)"
fi
if grep -q "protocol hook refused.*unknown_user" "$LAB_DIR/tcpcopy-partial.log"; then
  ok "partial: the log says why: $(grep -m1 'protocol hook refused' "$LAB_DIR/tcpcopy-partial.log" | cut -c1-160)"
else
  fail "partial: no log line for the refused sessions"
fi

# --- the same replay without the hook fails at login, and says so -----------------------------------
before=$(mark_general_log "$target")
run_tcpcopy plain -x "3306-$LAB_TARGET_IP:3306" -i "$LAB_DIR/load.pcap"
target_log_since "$target" "$before" >"$LAB_DIR/target-plain.log"
python3 "$compare" "$online/general.log" "$LAB_DIR/target-plain.log" --clients 192.0.2. \
  --json "$LAB_DIR/plain-compare.json" >"$LAB_DIR/plain-compare.txt" || true
denied=$(json_value "$LAB_DIR/plain-compare.json" target_denied)
if ((denied == captured)); then
  ok "plain: every one of the $captured logins was denied by the target"
else
  fail "plain: $denied of $captured logins denied (want all: a byte-for-byte login cannot pass)"
fi
if tcpcopy_summary plain | grep -q -- "--protocol mysql"; then
  ok "plain: the summary says: $(tcpcopy_summary plain | grep -- '--protocol mysql' | head -1)"
else
  fail "plain: the summary does not point at --protocol mysql"
fi

e2e_end
