#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the namespace lab need, then
# configures and builds the tree. Idempotent and non-interactive: a re-run on a machine that
# already has every package skips apt entirely and only rebuilds what changed.
#
# Environment:
#   BUILD_DIR   build directory (default: build, relative to the repository root)
#   JOBS        parallel build jobs (default: nproc)
#   SETUP_SKIP_BUILD=1  install packages only
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

# One package per line; keep the comment saying who needs it.
packages=(
  # build
  cmake g++ pkg-config make
  libpcap-dev libnet1-dev libevent-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libssl-dev libsystemd-dev libabsl-dev
  # intercept's NFQUEUE mode (and its --check of the nftables ruleset)
  libnetfilter-queue-dev libnftables-dev
  # the MySQL protocol hook: MariaDB's ed25519 login (libsodium's low-level Ed25519 primitives)
  libsodium-dev
  # man pages (help2man over --help), systemd unit checks, the Debian package test
  help2man systemd dpkg-dev file
  # unit tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # namespace lab, end-to-end tests, fixture generation
  nginx redis-server redis-tools tcpdump iproute2 curl procps python3 ethtool
  # MySQL hook e2e (mysql_hook_test.sh, mysql_test.sh): real MariaDB servers with their ed25519
  # plugin, and a real client load (sysbench oltp_read_write with prepared statements)
  mariadb-server mariadb-client sysbench
  # UDP copy e2e (udp_copy_test.sh): a real resolver and a real DNS client
  dnsmasq-base bind9-dnsutils
  # NFQUEUE e2e (iptables -j NFQUEUE); the NAT e2e's load balancer (nft stateless DNAT)
  iptables nftables
  # capsh (inject_test), setpriv (privileges_test), ab (bench/make_capture.sh, faults_test)
  libcap2-bin util-linux apache2-utils
  # fuzz smoke test (tests/fuzz/smoke.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # static checks (scripts/check-static.sh, run by test.sh)
  clang-format clang-tidy
)

log() { printf 'setup: %s\n' "$*"; }

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} > 0)); then
  if ((EUID != 0)); then
    log "missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 1
  fi
  log "installing: ${missing[*]}"
  # A freshly installed nginx, redis-server or mariadb-server would start as a system service
  # listening on the root namespace (port 80 on every address, 6379 and 3306 on loopback). The
  # lab never uses them, so keep them from starting during this install unless the machine
  # already has an invoke-rc.d policy of its own. An instance that already runs is left alone: the lab's
  # servers live in their own network namespaces with their own config, pid and log files.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, written by tcpcopy scripts/setup.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
    trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  if ((created_policy)); then
    rm -f "$policy"
    created_policy=0
  fi
else
  log "all ${#packages[@]} packages already installed"
fi

if [[ ${SETUP_SKIP_BUILD:-0} == 1 ]]; then
  exit 0
fi

cd "$repo_root"
log "configuring $build_dir"
cmake -S . -B "$build_dir" -DTCPCOPY_WERROR=ON
log "building $build_dir with $jobs jobs"
cmake --build "$build_dir" -j"$jobs"
log "done"
