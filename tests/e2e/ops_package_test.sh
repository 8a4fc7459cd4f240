#!/usr/bin/env bash
# The Debian package: built with CPack from the build tree, it declares its dependencies,
# installs cleanly with dpkg -i (binaries in /usr/sbin that run --version, units, man pages,
# example configurations), the installed units pass systemd-analyze verify, and dpkg -r
# removes it all again. Touches the root file system only through dpkg, and refuses to run
# when a tcpcopy package is already installed.
# Usage: ops_package_test.sh BUILD_DIR   (root)
set -euo pipefail
build=$(realpath "${1:?usage: ops_package_test.sh BUILD_DIR}")
((EUID == 0)) || { echo "ops_package_test: FAIL: must run as root (dpkg -i)" >&2; exit 1; }
for c in cpack dpkg dpkg-deb systemd-analyze; do
  command -v "$c" >/dev/null || { echo "ops_package_test: FAIL: $c missing (scripts/setup.sh)" >&2; exit 1; }
done
if dpkg-query -W -f='${db:Status-Status}' tcpcopy 2>/dev/null | grep -q installed; then
  echo "ops_package_test: FAIL: a tcpcopy package is already installed here; not touching it" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/ops-pkg-XXXXXX)
installed=0
cleanup() {
  ((installed)) && dpkg -r tcpcopy >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { printf 'ops_package_test: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'ops_package_test: ok: %s\n' "$*"; }

cpack -G DEB -B "$tmp" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack failed"; exit 1; }
deb=$(ls "$tmp"/tcpcopy_*.deb)
ok "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpcap libnet1 libevent libssl libsystemd; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
ok "Depends: $depends"
dpkg-deb -c "$deb" >"$tmp/contents"
for path in ./usr/sbin/tcpcopy ./usr/sbin/intercept ./usr/lib/systemd/system/intercept.service \
  ./usr/lib/systemd/system/tcpcopy@.service ./usr/share/man/man8/tcpcopy.8 ./usr/share/man/man8/intercept.8 \
  ./usr/share/doc/tcpcopy/examples/tcpcopy.conf ./usr/share/doc/tcpcopy/examples/intercept.conf; do
  grep -q " $path\(\.gz\)\?\$" "$tmp/contents" || fail "the package lacks $path"
done

dpkg -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "dpkg -i failed"; exit 1; }
installed=1
dpkg-query -W -f='${db:Status-Status}' tcpcopy | grep -qx installed || fail "dpkg does not list tcpcopy as installed"
for daemon in tcpcopy intercept; do
  if out=$("/usr/sbin/$daemon" --version 2>&1) && [[ $out == "$daemon "* ]]; then
    ok "/usr/sbin/$daemon --version: $out"
  else
    fail "/usr/sbin/$daemon --version: $out"
  fi
done
for daemon in tcpcopy intercept; do
  if zcat -f /usr/share/man/man8/"$daemon".8* | grep -qF -- 'config\fR FILE' &&
    zcat -f /usr/share/man/man8/"$daemon".8* | grep -qF -- 'metrics\fR ADDR:PORT'; then
    ok "man page $daemon(8) documents the options"
  else
    fail "man page $daemon(8) lacks the options of --help"
  fi
done
for unit in intercept.service tcpcopy@web.service; do
  src=/usr/lib/systemd/system/${unit/@web/@}
  [[ -f $src ]] || { fail "$src not installed"; continue; }
  cp "$src" "$tmp/$unit"
  if (cd "$tmp" && systemd-analyze verify "./$unit") >"$tmp/verify.out" 2>&1 && [[ ! -s $tmp/verify.out ]]; then
    ok "installed $unit verifies (ExecStart and man pages found)"
  else
    fail "installed $unit: $(cat "$tmp/verify.out")"
  fi
done

dpkg -r tcpcopy >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log" >&2; fail "dpkg -r failed"; }
installed=0
for path in /usr/sbin/tcpcopy /usr/sbin/intercept /usr/lib/systemd/system/intercept.service \
  /usr/lib/systemd/system/tcpcopy@.service /usr/share/man/man8/tcpcopy.8 /usr/share/man/man8/tcpcopy.8.gz /usr/share/doc/tcpcopy/examples; do
  [[ ! -e $path ]] || fail "$path is still there after dpkg -r"
done
if dpkg-query -W -f='${db:Status-Status}' tcpcopy 2>/dev/null | grep -qx installed; then
  fail "dpkg still lists tcpcopy as installed"
else
  ok "dpkg -r removed the binaries, units, man pages and examples"
fi
echo "ops_package_test: $failures failure(s)"
((failures == 0))
