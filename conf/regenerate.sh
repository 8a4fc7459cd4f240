#!/usr/bin/env bash
# Regenerates conf/tcpcopy.conf and conf/intercept.conf from the daemons' own --dump-config, so
# the example files hold exactly the keys the daemons accept (tests/ops/conf_test.sh checks it).
# Usage: bash conf/regenerate.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: regenerate.sh BUILD_DIR}

{
  cat <<'HDR'
# Example tcpcopy configuration: every key, with its default. One file per replay job:
#   tcpcopy --config /etc/tcpcopy/web.conf          (or: systemctl start tcpcopy@web)
# Typical changes: transfer (-x), intercept (-s), input (-i: a device for live replay, or a
# capture file), secret-file, metrics. A flag given on the command line overrides its key here.
# (Regenerate with: bash conf/regenerate.sh BUILD_DIR, from `tcpcopy --dump-config`)

HDR
  "$build/tcpcopy/tcpcopy" --dump-config |
    sed -e 's|^# transfer =$|# transfer = 80-10.0.0.2:8080   (IPv6: 80-[fd00::2]:8080)|' \
      -e 's|^# intercept =$|# intercept = 10.0.0.3   (IPv6: fd00::3, or [fd00::3]:36524)|' \
      -e 's|^# metrics =$|# metrics = 127.0.0.1:9101   (IPv6: [::1]:9101)|'
} >"$here/tcpcopy.conf"

{
  cat <<'HDR'
# Example intercept configuration: every key, with its default. Use with: intercept --config /etc/tcpcopy/intercept.conf
# Typical changes on an assistant host: device = eth1, bind = the address tcpcopy reaches, secret-file, allow.
# intercept refuses to listen on a non-loopback address (bind) with neither secret-file nor allow
# (insecure = true overrides that): set at least one of them. The same secret-file goes to tcpcopy.
# (Regenerate with: bash conf/regenerate.sh BUILD_DIR, from `intercept --dump-config`)

HDR
  "$build/intercept/intercept" --dump-config |
    sed -e 's|^# secret-file =$|# secret-file = /etc/tcpcopy/tunnel.secret|' \
      -e 's|^# allow =$|# allow = 198.18.3.0/24,10.0.0.5/32,fd00::/64|' \
      -e 's|^# metrics =$|# metrics = 127.0.0.1:9102   (IPv6: [::1]:9102)|'
} >"$here/intercept.conf"
echo "wrote $here/tcpcopy.conf and $here/intercept.conf"
