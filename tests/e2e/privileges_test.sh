#!/usr/bin/env bash
# Least privilege, end to end: both daemons started as root with -u nobody switch to nobody with
# no capability left once their sockets and captures are open (ps -o user, CapEff), and the
# replay still works through them. Started as nobody already, with ambient capabilities (what a
# unit with User= and AmbientCapabilities= does), -u nobody still leaves them no capability
# (CapEff, CapAmb). Files they create (pid, log, --report) are never group- or world-writable
# even under umask 000. An unknown user is refused with one line before anything runs. The
# sources contain no shell-outs.
# Usage: privileges_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
user=nobody
id "$user" >/dev/null 2>&1 || lab_die "user $user does not exist"

e2e_begin privileges_test

# --- no shell-outs in the daemons' code -------------------------------------------------------------
shellouts=$(grep -rnE '(^|[^A-Za-z0-9_.>:])(std::)?(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawnp?|wordexp)[[:space:]]*\(' \
  "$repo/src" "$repo/include" "$repo/tcpcopy" "$repo/intercept" || true)
if [[ -z $shellouts ]]; then
  ok "no system/popen/exec*/posix_spawn/wordexp in src, include, tcpcopy, intercept"
else
  fail "shell-outs found: $shellouts"
fi

lab_init privs
lab_up
# A directory the unprivileged user can write (the lab's temp dir is root's, mode 0700): the
# report is written at the end, and the pid files are removed at exit, after the switch.
out=$(mktemp -d /tmp/tcpcopy-privs-XXXXXX)
chown "$user" "$out"
chmod 755 "$out"
lab_on_teardown "rm -rf '$out'"

# Unknown user: one line, exit non-zero, nothing started.
rc=0
msg=$(lab_ns_exec "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -b "$LAB_ASSIST_TUNNEL_IP" \
  -u no-such-user-here 2>&1) || rc=$?
if ((rc != 0)) && [[ $(wc -l <<<"$msg") -eq 1 && $msg == *"no-such-user-here"* ]]; then
  ok "intercept -u unknown: exit $rc, '$msg'"
else
  fail "intercept -u unknown: exit $rc, '$msg'"
fi
rc=0
msg=$(lab_ns_exec "$LAB_NS_TC" "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80" -s "$LAB_ASSIST_TUNNEL_IP" -i "$fixtures/http_short.pcap" \
  -u no-such-user-here 2>&1) || rc=$?
if ((rc != 0)) && [[ $(wc -l <<<"$msg") -eq 1 && $msg == *"no-such-user-here"* ]]; then
  ok "tcpcopy -u unknown: exit $rc, '$msg'"
else
  fail "tcpcopy -u unknown: exit $rc, '$msg'"
fi

lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG

# Both daemons under umask 000 (bash sets it, then execs the daemon: same PID).
lab_bg intercept "$LAB_NS_ASSIST" bash -c 'umask 000; exec "$@"' intercept "$intercept_bin" \
  -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" \
  --allow "$LAB_TUNNEL_ALLOW" -u "$user" -P "$out/intercept.pid" -l "$out/intercept-file.log"
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
lab_wait_file_match "$out/intercept-file.log" "running as user $user" 10

# check_process NAME PID : runs as $user with empty effective, permitted and ambient capability
# sets.
check_process() {
  local name=$1 pid=$2 who caps
  who=$(ps -o user= -p "$pid" | tr -d ' ')
  caps=$(awk '/^Cap(Eff|Prm|Amb):/ {printf "%s %s ", $1, $2}' "/proc/$pid/status")
  if [[ $who == "$user" && $caps =~ ^CapPrm:\ 0+\ CapEff:\ 0+\ CapAmb:\ 0+\ $ ]]; then
    ok "$name runs as $who, $caps"
  else
    fail "$name runs as '$who' with $caps"
  fi
}
check_process intercept "$intercept_pid"

# tcpcopy at half speed (about 5 s), so that it is still running when we look at it.
: >"$nginx_log"
lab_bg tcpcopy "$LAB_NS_TC" bash -c 'umask 000; exec "$@"' tcpcopy "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" \
  -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" -a 0.5 --stats-interval 0 -u "$user" \
  -P "$out/tcpcopy.pid" -l "$out/tcpcopy-file.log" --report "$out/report.json"
tcpcopy_pid=$LAB_LAST_PID
lab_wait_file_match "$out/tcpcopy-file.log" "running as user $user" 10
check_process tcpcopy "$tcpcopy_pid"
rc=0
lab_wait_exit "$tcpcopy_pid" 60 || rc=$?
lab_nginx_settle "$nginx_log"
if ((rc != 0)); then
  fail "replay as $user: tcpcopy exited $rc: $(tail -3 "$LAB_DIR/tcpcopy.log")"
elif ! diff -u <(LC_ALL=C sort "$fixtures/http_short.requests.txt") <(lab_requests_nginx "$nginx_log") >&2; then
  fail "replay as $user: the target's requests differ from the capture's"
else
  ok "replay as $user: 20 requests, exactly as captured"
fi

# No file the daemons created is group- or world-writable, although the umask was 000.
for f in "$out/intercept.pid" "$out/intercept-file.log" "$out/tcpcopy-file.log" "$out/report.json"; do
  if [[ ! -e $f ]]; then
    fail "$(basename "$f") was not created"
    continue
  fi
  mode=$(stat -c %a "$f")
  if (((8#$mode & 8#022) == 0)); then
    ok "$(basename "$f"): mode $mode"
  else
    fail "$(basename "$f"): mode $mode is group- or world-writable"
  fi
done

# Already $user, with ambient capabilities (a unit with User= and AmbientCapabilities=): there
# is no uid to switch, but -u $user must still leave the replay without any capability. At half
# speed the replay lasts about 5 s, so it is still running when it is looked at.
as_user_with_caps=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --inh-caps=+net_raw,+net_admin
  --ambient-caps=+net_raw,+net_admin --)
: >"$nginx_log"
lab_bg tcpcopy-ambient "$LAB_NS_TC" "${as_user_with_caps[@]}" "$tcpcopy_bin" -s "$LAB_ASSIST_TUNNEL_IP" \
  -x "80-$LAB_TARGET_IP:80" -i "$fixtures/http_short.pcap" -a 0.5 --stats-interval 0 -u "$user" \
  -l "$out/tcpcopy-ambient.log"
ambient_pid=$LAB_LAST_PID
lab_wait_file_match "$out/tcpcopy-ambient.log" "running as user $user" 10
check_process "tcpcopy started as $user with ambient capabilities" "$ambient_pid"
rc=0
lab_wait_exit "$ambient_pid" 60 || rc=$?
lab_nginx_settle "$nginx_log"
if ((rc != 0)); then
  fail "replay started as $user: tcpcopy exited $rc: $(tail -3 "$out/tcpcopy-ambient.log")"
elif ! diff -u <(LC_ALL=C sort "$fixtures/http_short.requests.txt") <(lab_requests_nginx "$nginx_log") >&2; then
  fail "replay started as $user: the target's requests differ from the capture's"
else
  ok "replay started as $user with ambient capabilities, -u $user: 20 requests, exactly as captured"
fi

lab_alive "$intercept_pid" || fail "intercept died during the test"
e2e_end
