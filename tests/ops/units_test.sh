#!/usr/bin/env bash
# conf/intercept.service and conf/tcpcopy@.service pass `systemd-analyze verify` with no
# complaint (it exits 0 on mere parse warnings, so any output fails the test), and keep the
# settings operations rely on. ExecStart is pointed at the built binaries (verify checks that
# the command exists). Works without systemd as PID 1 and without root.
# Usage: units_test.sh TCPCOPY_BIN INTERCEPT_BIN CONF_DIR
set -euo pipefail
tcpcopy=$(realpath "${1:?usage: units_test.sh TCPCOPY INTERCEPT CONF_DIR}")
intercept=$(realpath "${2:?}")
conf=${3:?}
command -v systemd-analyze >/dev/null || { echo "units_test: FAIL: systemd-analyze missing (apt-get install systemd)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ops-units-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { printf 'units_test: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'units_test: ok: %s\n' "$*"; }

sed "s|/usr/sbin/intercept|$intercept|" "$conf/intercept.service" >"$tmp/intercept.service"
sed "s|/usr/sbin/tcpcopy|$tcpcopy|" "$conf/tcpcopy@.service" >"$tmp/tcpcopy@.service"
# A template is verified through an instance.
cp "$tmp/tcpcopy@.service" "$tmp/tcpcopy@web.service"

for unit in intercept.service tcpcopy@web.service; do
  rc=0
  (cd "$tmp" && systemd-analyze verify --man=no "./$unit") >"$tmp/$unit.out" 2>&1 || rc=$?
  if ((rc == 0)) && [[ ! -s $tmp/$unit.out ]]; then
    ok "$unit: systemd-analyze verify is silent"
  else
    fail "$unit: systemd-analyze verify exit $rc: $(cat "$tmp/$unit.out")"
  fi
done

# The settings this project promises (docs/usage.md): readiness and watchdog, capabilities,
# hardening, restart policy, the config file per instance.
need() {
  local file=$1 line=$2
  grep -qxF -- "$line" "$conf/$file" || fail "$file lacks '$line'"
}
for file in intercept.service tcpcopy@.service; do
  for line in Type=notify WatchdogSec=30s Restart=on-failure "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" \
    NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_PACKET AF_NETLINK AF_UNIX"; do
    need "$file" "$line"
  done
done
need tcpcopy@.service "ExecStart=/usr/sbin/tcpcopy --config /etc/tcpcopy/%i.conf"
need intercept.service "ExecStart=/usr/sbin/intercept --config /etc/tcpcopy/intercept.conf"

# The verifier must catch a broken unit, or the checks above prove nothing.
sed 's/^Type=notify/Type=notfy/' "$tmp/intercept.service" >"$tmp/broken.service"
(cd "$tmp" && systemd-analyze verify --man=no ./broken.service) >"$tmp/broken.out" 2>&1 || true
grep -q "notfy" "$tmp/broken.out" && ok "a misspelt Type= is reported" || fail "systemd-analyze did not report Type=notfy"

echo "units_test: $failures failure(s)"
((failures == 0))
