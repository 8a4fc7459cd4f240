#!/usr/bin/env bash
# conf/*.conf against the daemons themselves (no root needed):
#  - each example file holds exactly the keys `--dump-config` prints (no missing, no extra key),
#    and the daemon accepts the file as it is;
#  - a key in a file is overridden by the flag on the command line, through the real binary;
#  - a bad key or value in a file is refused with FILE:LINE: reason and a non-zero exit.
# Usage: conf_test.sh TCPCOPY_BIN INTERCEPT_BIN CONF_DIR
set -euo pipefail
tcpcopy=${1:?usage: conf_test.sh TCPCOPY INTERCEPT CONF_DIR}
intercept=${2:?}
conf=${3:?}
tmp=$(mktemp -d /tmp/ops-conf-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { printf 'conf_test: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'conf_test: ok: %s\n' "$*"; }

# keys FILE : every key of a config file, set or commented out ("# key =" lines), sorted.
keys() { sed -nE 's/^(# )?([a-z][a-z0-9-]*) =.*/\2/p' "$1" | LC_ALL=C sort -u; }

for daemon in tcpcopy intercept; do
  bin=${!daemon}
  file="$conf/$daemon.conf"
  [[ -f $file ]] || { fail "$file is missing"; continue; }
  "$bin" --dump-config >"$tmp/$daemon.dump"
  keys "$tmp/$daemon.dump" >"$tmp/$daemon.want"
  keys "$file" >"$tmp/$daemon.have"
  (($(wc -l <"$tmp/$daemon.want") > 10)) || fail "$daemon --dump-config printed too few keys"
  missing=$(comm -23 "$tmp/$daemon.want" "$tmp/$daemon.have" | tr '\n' ' ')
  extra=$(comm -13 "$tmp/$daemon.want" "$tmp/$daemon.have" | tr '\n' ' ')
  [[ -z $missing ]] || fail "$file lacks keys that $daemon --dump-config prints: $missing(run conf/regenerate.sh)"
  [[ -z $extra ]] || fail "$file has keys $daemon does not know: $extra(run conf/regenerate.sh)"
  [[ -z $missing && -z $extra ]] && ok "$file: the $(wc -l <"$tmp/$daemon.want") keys of $daemon --dump-config"
  if "$bin" --config "$file" --dump-config >/dev/null 2>"$tmp/$daemon.err"; then
    ok "$daemon accepts $file as it is"
  else
    fail "$daemon refuses its own example $file: $(cat "$tmp/$daemon.err")"
  fi
done

# Precedence, through the real binary: default < file < command line.
printf '# test\nport = 5000\nstats-interval = 7\n' >"$tmp/prec.conf"
got=$("$intercept" --config "$tmp/prec.conf" --dump-config | grep -E '^(port|stats-interval) =' | tr '\n' ' ')
[[ $got == "port = 5000 stats-interval = 7 " ]] && ok "intercept takes port and stats-interval from the file" ||
  fail "intercept --config: expected port 5000, stats-interval 7; got '$got'"
got=$("$intercept" --config "$tmp/prec.conf" -p 4000 --dump-config | grep -E '^(port|stats-interval) =' | tr '\n' ' ')
[[ $got == "port = 4000 stats-interval = 7 " ]] && ok "-p on the command line overrides port in the file" ||
  fail "intercept --config with -p 4000: expected port 4000, stats-interval 7; got '$got'"
printf 'accelerate = 3\nloops = 2\n' >"$tmp/tc.conf"
got=$("$tcpcopy" --config "$tmp/tc.conf" -a 5 --dump-config | grep -E '^(accelerate|loops) =' | tr '\n' ' ')
[[ $got == "accelerate = 5 loops = 2 " ]] && ok "tcpcopy: -a overrides the file, loops comes from it" ||
  fail "tcpcopy --config with -a 5: expected accelerate 5, loops 2; got '$got'"

# The original's letters and defaults: -g alone ramps over 100 s; -C 2 and -t 600 by default.
got=$("$tcpcopy" -g -W --dump-config | grep -E '^(ramp|no-wait|connections|session-timeout) =' | tr '\n' ' ')
[[ $got == "connections = 2 ramp = 100 no-wait = true session-timeout = 600 " ]] &&
  ok "tcpcopy: bare -g is a 100 s ramp, -C 2 and -t 600 by default" ||
  fail "tcpcopy -g -W: expected connections 2, ramp 100, no-wait, session-timeout 600; got '$got'"
got=$("$tcpcopy" -g 30 --dump-config | grep -E '^ramp =')
[[ $got == "ramp = 30" ]] && ok "tcpcopy: -g 30 is a 30 s ramp" || fail "tcpcopy -g 30: got '$got'"

# expect_refused NAME BIN FILE_CONTENT EXPECTED_STDERR_REGEX
expect_refused() {
  local name=$1 bin=$2 content=$3 want=$4 rc=0
  printf '%b' "$content" >"$tmp/$name.conf"
  "$bin" --config "$tmp/$name.conf" --dump-config >/dev/null 2>"$tmp/$name.err" || rc=$?
  if ((rc != 0)) && grep -Eq -- "$want" "$tmp/$name.err" && (($(wc -l <"$tmp/$name.err") == 1)); then
    ok "$name: exit $rc, $(cat "$tmp/$name.err")"
  else
    fail "$name: expected a non-zero exit and one line matching '$want', got exit $rc: $(cat "$tmp/$name.err")"
  fi
}
expect_refused badkey "$intercept" '# comment\n\nprot = 36524\n' "$tmp/badkey.conf:3: unknown key 'prot'"
expect_refused badvalue "$intercept" 'port = 70000\n' "$tmp/badvalue.conf:1: .*port.* between 1 and 65535"
expect_refused badbool "$intercept" 'daemon = maybe\n' "$tmp/badbool.conf:1: "
expect_refused tcbadkey "$tcpcopy" 'accelerate = 2\nacelerate = 3\n' "$tmp/tcbadkey.conf:2: unknown key 'acelerate'"
expect_refused tcbadmetrics "$tcpcopy" 'metrics = localhost\n' "$tmp/tcbadmetrics.conf:1: .*ADDR:PORT"

# IPv6 values in config files: the same text as on the command line, printed back by --dump-config
# as given, and read again unchanged.
printf '%s\n' 'transfer = [2001:db8::1]:80-[fd00::2]:8080,80-10.0.0.2:8080' 'intercept = [fd00::3]:36524,fd00::4' \
  'client-ips = 2001:db8:1::/120, 192.0.2.0/24' 'loopback-rewrite = 2001:db8::7' 'metrics = [::1]:9101' >"$tmp/tc6.conf"
if "$tcpcopy" --config "$tmp/tc6.conf" --dump-config >"$tmp/tc6.dump" 2>"$tmp/tc6.err" &&
  "$tcpcopy" --config "$tmp/tc6.dump" --dump-config >"$tmp/tc6.again" 2>>"$tmp/tc6.err" &&
  cmp -s "$tmp/tc6.dump" "$tmp/tc6.again" &&
  grep -qx 'transfer = \[2001:db8::1\]:80-\[fd00::2\]:8080,80-10.0.0.2:8080' "$tmp/tc6.dump" &&
  grep -qx 'client-ips = 2001:db8:1::/120, 192.0.2.0/24' "$tmp/tc6.dump" &&
  grep -qx 'metrics = \[::1\]:9101' "$tmp/tc6.dump"; then
  ok "tcpcopy takes IPv6 transfer, intercept, client-ips, loopback-rewrite and metrics keys, and dumps them back"
else
  fail "tcpcopy with IPv6 keys: $(cat "$tmp/tc6.err"); dump: $(grep -E '^(transfer|intercept|client-ips|metrics) =' "$tmp/tc6.dump" 2>/dev/null | tr '\n' ' ')"
fi
printf '%s\n' 'bind = ::' 'allow = fd00::/64,10.0.0.5/32' 'pass = 2001:db8::/32' 'metrics = [::1]:9102' >"$tmp/ic6.conf"
got=$("$intercept" --config "$tmp/ic6.conf" --dump-config 2>&1 | grep -E '^(bind|allow|pass|metrics) =' | tr '\n' ' ')
[[ $got == "pass = 2001:db8::/32 bind = :: allow = fd00::/64,10.0.0.5/32 metrics = [::1]:9102 " ]] &&
  ok "intercept takes IPv6 bind, allow, pass and metrics keys" || fail "intercept with IPv6 keys: got '$got'"
expect_refused icbadbind6 "$intercept" 'bind = fd00::zz\n' "$tmp/icbadbind6.conf:1: 'bind' 'fd00::zz' is not an IPv4 or IPv6 address"
expect_refused icnat6 "$intercept" 'nat = [fd00::7]:80-10.0.0.2:80\n' "$tmp/icnat6.conf:1: 'nat' .* is IPv6: NAT mappings are IPv4 only"
expect_refused tcpool6 "$tcpcopy" 'client-ips = 2001:db8::/64\n' "$tmp/tcpool6.conf:1: 'client-ips' bad client address '2001:db8::/64'.*/112 to /128 for IPv6"
expect_refused tcudp6 "$tcpcopy" 'transfer = udp:53-[fd00::2]:53\n' "$tmp/tcudp6.conf:1: 'transfer' .*udp: rules are IPv4 only"

echo "conf_test: $failures failure(s)"
((failures == 0))
