#!/usr/bin/env bash
# Live copy at a high connection rate: what tcpcopy's capture and injection lose and cost.
#
# Usage: bash bench/live_io.sh BUILD_DIR [BASELINE_BUILD_DIR]     (root: network namespaces)
#
# In the namespace lab (tests/e2e/lib/lab.sh): nginx on the online server and on the target,
# intercept on the assistant. wrk in the client namespace runs flat out against the online nginx
# (IO_THREADS threads, IO_CONNS connections, IO_SECONDS seconds), every request with
# "Connection: close" and its own URI, from one client address: the shape of issue 11. Each
# case runs tcpcopy live beside it in the online namespace, copying to the target:
#   alone        wrk without tcpcopy: the online service's own rate (the baseline)
#   ring / pcap  tcpcopy from BUILD_DIR, default capture (no -i) / libpcap on the client device
#   base-*       the same with the daemons of BASELINE_BUILD_DIR, in the same invocation
# and prints one line per case: wrk's requests/s, requests the online nginx logged, requests
# the target logged (delivered = target / online), the capture's received and kernel-dropped
# counts from tcpcopy's report, packets injected and the system calls they took, tcpcopy's and
# intercept's CPU seconds during the case, tcpcopy's CPU per online request (the figure that does
# not depend on how fast wrk happened to run), and the load average when the case ended.
# Environment: IO_SECONDS (8), IO_CONNS (32), IO_THREADS (2), IO_CASES ("ring pcap"),
# IO_TCPCOPY_ARGS (extra tcpcopy arguments), IO_PERF=1 (perf record tcpcopy during each case and
# print the top of perf report, children excluded).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:?usage: live_io.sh BUILD_DIR [BASELINE_BUILD_DIR]}")
baseline=${2:+$(realpath "$2")}
seconds=${IO_SECONDS:-8}
conns=${IO_CONNS:-32}
threads=${IO_THREADS:-2}
cases=${IO_CASES:-ring pcap}
# shellcheck source=../tests/e2e/lib/lab.sh
source "$here/../tests/e2e/lib/lab.sh"
# wrk is only needed here: installed like bench/run.sh installs its tools.
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
lab_require_cmd wrk nginx python3

lab_init liveio
lab_up
# One client address opening ~15k connections/s: the client needs the whole port range and
# TIME_WAIT reuse (as in the issue's capture).
ip netns exec "$LAB_NS_CLIENT" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
lab_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
online_log=$LAB_NGINX_ACCESS_LOG
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 80
target_log=$LAB_NGINX_ACCESS_LOG

cat >"$LAB_DIR/close.lua" <<'EOF'
-- Every request on its own connection, with a URI no other request has.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/api/" .. id .. "/" .. n, {["Connection"] = "close"})
end
EOF

count() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# cpu PID : user+system CPU seconds of a live process so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

intercept_pid=
start_intercept() {  # BIN
  [[ -n $intercept_pid ]] && lab_stop "$intercept_pid" 5
  lab_bg "intercept-$RANDOM" "$LAB_NS_ASSIST" "$1" -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port 80' \
    -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_LIVE_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
  intercept_pid=$LAB_LAST_PID
  lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_LIVE_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
}

# run_wrk NAME : prints requests/s and writes wrk's output to $LAB_DIR/NAME.wrk
run_wrk() {
  ip netns exec "$LAB_NS_CLIENT" wrk -t "$threads" -c "$conns" -d "${seconds}s" -s "$LAB_DIR/close.lua" \
    "http://$LAB_ONLINE_IP/" >"$LAB_DIR/$1.wrk" 2>&1
  awk '/^Requests\/sec/ { print $2 }' "$LAB_DIR/$1.wrk"
}

# settle FILE : wait until FILE stops growing for 2 s (at most 60 s).
settle() {
  local last=-1 now i
  for ((i = 0; i < 600; i++)); do
    now=$(count "$1")
    if ((now == last)); then return 0; fi
    last=$now
    sleep 2
  done
}

printf '%-10s %9s %8s %8s %9s %9s %8s %9s %8s %7s %7s %9s %s\n' case 'wrk r/s' online target delivered \
  received dropped injected calls 'tc cpu' 'ic cpu' 'tc us/req' load
report_line() {  # NAME RATE ONLINE TARGET JSON TC_CPU IC_CPU
  python3 - "$@" <<'EOF'
import json, os, sys
name, rate, online, target, path, tc, ic = sys.argv[1:]
online, target = int(online), int(target)
d = json.load(open(path)) if path and os.path.exists(path) else {}
c = d.get("capture", {})
load = open("/proc/loadavg").read().split()[0]
per_request = "%.0f" % (float(tc) * 1e6 / online) if tc != "-" and online else "-"
print("%-10s %9s %8d %8d %9.4f %9s %8s %9s %8s %7s %7s %9s %s" % (
    name, rate, online, target, target / online if online else 0, c.get("received", "-"),
    c.get("kernel_dropped", "-"), d.get("injected_packets", "-"), d.get("inject_calls", "-"), tc, ic, per_request,
    load))
EOF
}

run_case() {  # NAME BUILD ARGS...
  local name=$1 dir=$2
  shift 2
  : >"$online_log"
  : >"$target_log"
  start_intercept "$dir/intercept/intercept"
  local ic0 tc0
  ic0=$(cpu "$intercept_pid")
  lab_bg "tcpcopy-$name" "$LAB_NS_ONLINE" "$dir/tcpcopy/tcpcopy" -x "80-$LAB_TARGET_LIVE_IP:80" \
    -s "$LAB_ASSIST_LIVE_TUNNEL_IP:$LAB_TUNNEL_PORT" --stats-interval 0 --report "$LAB_DIR/$name.json" \
    ${IO_TCPCOPY_ARGS:-} "$@"
  local tc_pid=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/tcpcopy-$name.log" 'replay started' 20
  tc0=$(cpu "$tc_pid")
  local perf_pid=
  if [[ ${IO_PERF:-0} == 1 ]]; then
    perf record -q -F 499 -g -p "$tc_pid" -o "$LAB_DIR/$name.perf" -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local rate
  rate=$(run_wrk "$name")
  if [[ -n $perf_pid ]]; then
    wait "$perf_pid" || true
    # The top of the profile, then the share of each I/O system call (children included).
    {
      perf report -i "$LAB_DIR/$name.perf" --stdio --no-children --percent-limit 3 -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -8
      perf report -i "$LAB_DIR/$name.perf" --stdio --children --sort sym -g none 2>/dev/null |
        grep -E '\] __x64_sys_(sendto|sendmmsg|recvmsg|recvfrom|epoll_wait|write|writev|read|getsockopt)$' || true
      perf report -i "$LAB_DIR/$name.perf" --stdio -g none 2>/dev/null | grep -E '^# Samples' || true
    } >"$LAB_DIR/$name.perf.txt"
  fi
  settle "$target_log"
  local tc ic
  tc=$(python3 -c "print('%.2f' % ($(cpu "$tc_pid") - $tc0))")
  ic=$(python3 -c "print('%.2f' % ($(cpu "$intercept_pid") - $ic0))")
  kill -TERM "$tc_pid"
  lab_wait_exit "$tc_pid" 30 || true
  report_line "$name" "$rate" "$(count "$online_log")" "$(count "$target_log")" "$LAB_DIR/$name.json" "$tc" "$ic"
  if [[ -s $LAB_DIR/$name.perf.txt ]]; then
    sed "s/^/    perf $name: /" "$LAB_DIR/$name.perf.txt" >&2
  fi
}

: >"$online_log"
rate=$(run_wrk alone)
report_line alone "$rate" "$(count "$online_log")" 0 "" - -
for c in $cases; do
  args=()
  [[ $c == pcap ]] && args=(-i "$LAB_IF_ONLINE_CLIENT")
  if [[ -n $baseline ]]; then run_case "base-$c" "$baseline" "${args[@]}"; fi
  run_case "$c" "$build" "${args[@]}"
done
