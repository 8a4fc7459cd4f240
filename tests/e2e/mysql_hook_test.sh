#!/usr/bin/env bash
# The MySQL protocol hook (src/protocol, docs/protocols.md) against a real MariaDB in the lab's
# target namespace, through tests/e2e/tools/mysql_hook_probe: a captured session whose login
# answers another server's scramble and whose COM_STMT_EXECUTE names a statement id the target
# never issued is rewritten by the hook and must run on the target.
#   - a mysql_native_password user (the target's default plugin);
#   - an ed25519 user: the target asks to switch plugins and the hook answers with MariaDB's
#     ed25519 signature; the key the target stored for PASSWORD('...') equals the hook's;
#   - a wrong password in the credentials file: refused "login_failed" (the probe can fail);
#   - a credentials file open to others: one line naming it, exit 2.
# Usage: tests/e2e/mysql_hook_test.sh [BUILD_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
# shellcheck source=lib/lab.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/lab.sh"
probe=$build/tests/e2e/tools/mysql_hook_probe
[[ -x $probe ]] || lab_die "$probe not built (cmake --build $build --target mysql_hook_probe)"
lab_require_cmd mariadbd mariadb-install-db mariadb

lab_init mysqlhook
lab_up
db=$LAB_DIR/mariadb
mkdir -p "$db/data"
mariadb-install-db --no-defaults --user=root --datadir="$db/data" --auth-root-authentication-method=socket \
  --skip-test-db >"$db/install.log" 2>&1 || { cat "$db/install.log" >&2; lab_die "mariadb-install-db failed"; }
lab_bg mariadb "$LAB_NS_TARGET" mariadbd --no-defaults --user=root --datadir="$db/data" --socket="$db/sock" \
  --pid-file="$db/pid" --bind-address="$LAB_TARGET_IP" --port=3306 --skip-name-resolve \
  --plugin-load-add=auth_ed25519 --general-log=1 --general-log-file="$db/general.log" --log-error="$db/error.log"
lab_wait_port "$LAB_NS_TARGET" "$LAB_TARGET_IP" 3306 60
sql() { lab_ns_exec "$LAB_NS_TARGET" mariadb --no-defaults --socket="$db/sock" -uroot -N -B -e "$1"; }
sql "CREATE USER 'app'@'%' IDENTIFIED BY 's3cret';
     CREATE USER 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed pass phrase, longer than thirty-two bytes');"

stored=$(sql "SELECT authentication_string FROM mysql.global_priv JOIN mysql.user USING (host, user) WHERE user='edu'" ||
  sql "SELECT authentication_string FROM mysql.user WHERE user='edu'")
mine=$("$probe" --ed25519-key 'ed pass phrase, longer than thirty-two bytes')
[[ $stored == "$mine" ]] || lab_die "ed25519 key: MariaDB stored '$stored', the hook computes '$mine'"
lab_log "ed25519 key matches MariaDB's: $mine"

creds=$LAB_DIR/creds
printf '# users of the replay\napp s3cret\nedu ed pass phrase, longer than thirty-two bytes\nbad wrong\n' >"$creds"
chmod 600 "$creds"
sql "CREATE USER 'bad'@'%' IDENTIFIED BY 'right';"

for user in app edu; do
  out=$(lab_ns_exec "$LAB_NS_TARGET" "$probe" "$creds" "$user" "$LAB_TARGET_IP" 3306) ||
    { printf '%s\n' "$out" >&2; lab_die "replay as $user failed"; }
  printf '%s\n' "$out" | sed "s/^/[$user] /" >&2
  grep -qx 'execute: 42' <<<"$out" || lab_die "$user: the mapped execute did not run"
  grep -q 'ids_rewritten=2' <<<"$out" || lab_die "$user: execute and close should carry the target's id"
  grep -Eq "Query[[:space:]]+SELECT 'probe-$user'" "$db/general.log" || lab_die "$user: query not in the general log"
done
grep -q 'auth_switches=1' <<<"$out" || lab_die "edu: the target should have asked to switch to ed25519"
[[ $(grep -Ec 'Execute[[:space:]]+SELECT 41 \+ 1' "$db/general.log") == 2 ]] ||
  lab_die "the general log should hold both executes"

rc=0
out=$(lab_ns_exec "$LAB_NS_TARGET" "$probe" "$creds" bad "$LAB_TARGET_IP" 3306) || rc=$?
((rc == 1)) && grep -q '^refused: login_failed: .*1045' <<<"$out" ||
  { printf '%s\n' "$out" >&2; lab_die "a wrong password should be refused as login_failed (rc $rc)"; }
lab_log "wrong password: $(grep "^refused" <<<"$out")"

chmod 644 "$creds"
rc=0
err=$("$probe" "$creds" app "$LAB_TARGET_IP" 3306 2>&1) || rc=$?
((rc == 2)) && [[ $(wc -l <<<"$err") == 1 && $err == *"$creds"*"0600 or stricter"* ]] ||
  lab_die "a credentials file open to others should give one line naming it (rc $rc): $err"
lab_log "mode 0644 refused: $err"
lab_log "PASS"
