#!/usr/bin/env bash
# How long intercept holds a response before it leaves on the tunnel, at a low and a high rate.
#
# Usage: bash bench/intercept_latency.sh BUILD_DIR [BASELINE_BUILD_DIR]     (root)
#
# In the namespace lab: nginx on the online server and the target, intercept on the assistant,
# tcpcopy (from BUILD_DIR) copying live in the online namespace. tcpdump on the assistant records
# the target's responses arriving (to-target) and the tunnel segments leaving toward tcpcopy
# (to-online). For each response, the delay is the time until the next tunnel segment with data
# leaves: the hold time of intercept's batching plus its processing. Two loads:
#   low   one curl request every 20 ms (IO_LOW_REQUESTS, default 100)
#   high  wrk flat out, Connection: close (IO_SECONDS, default 4)
# For intercept from BUILD_DIR and, when given, from BASELINE_BUILD_DIR: one line per load with
# the responses seen, tunnel segments, and the delay's median, 90th and 99th percentile in
# microseconds, and the load average.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:?usage: intercept_latency.sh BUILD_DIR [BASELINE_BUILD_DIR]}")
baseline=${2:+$(realpath "$2")}
seconds=${IO_SECONDS:-4}
low_requests=${IO_LOW_REQUESTS:-100}
# shellcheck source=../tests/e2e/lib/lab.sh
source "$here/../tests/e2e/lib/lab.sh"
# wrk is only needed here: installed like bench/run.sh installs its tools.
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
lab_require_cmd wrk curl nginx tcpdump python3

lab_init icpt
lab_up
ip netns exec "$LAB_NS_CLIENT" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
lab_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 80
# Segmentation offload would hand tcpdump 64 KiB tunnel "segments": see the real ones.
lab_offload "$LAB_NS_ASSIST" "$LAB_IF_ASSIST_ONLINE" off
cat >"$LAB_DIR/close.lua" <<'EOF'
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/api/" .. n, {["Connection"] = "close"})
end
EOF

printf '%-14s %-5s %9s %9s %9s %9s %9s %s\n' intercept load responses segments 'p50 us' 'p90 us' 'p99 us' load

measure() {  # LABEL LOAD INTERCEPT_BIN
  local label=$1 load=$2 bin=$3
  lab_bg "intercept-$label-$load" "$LAB_NS_ASSIST" "$bin" -i "$LAB_IF_ASSIST_TARGET" -F 'tcp and src port 80' \
    -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_LIVE_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
  local ic=$LAB_LAST_PID
  lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_LIVE_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
  lab_bg "tcpcopy-$label-$load" "$LAB_NS_ONLINE" "$build/tcpcopy/tcpcopy" -x "80-$LAB_TARGET_LIVE_IP:80" \
    -s "$LAB_ASSIST_LIVE_TUNNEL_IP:$LAB_TUNNEL_PORT" --stats-interval 0
  local tc=$LAB_LAST_PID
  lab_wait_file_match "$LAB_DIR/tcpcopy-$label-$load.log" 'replay started' 20
  local in="$LAB_DIR/$label-$load.in.pcap" out="$LAB_DIR/$label-$load.out.pcap"
  lab_bg "dump-in-$label-$load" "$LAB_NS_ASSIST" tcpdump -i "$LAB_IF_ASSIST_TARGET" -n -s 96 -U -B 65536 \
    -w "$in" 'tcp and src port 80'
  local d1=$LAB_LAST_PID
  lab_bg "dump-out-$label-$load" "$LAB_NS_ASSIST" tcpdump -i "$LAB_IF_ASSIST_ONLINE" -n -s 96 -U -B 65536 \
    -w "$out" "tcp and src port $LAB_TUNNEL_PORT"
  local d2=$LAB_LAST_PID
  sleep 1  # tcpdump has no ready signal; its first packets would only be missing from both sides
  if [[ $load == low ]]; then
    local i
    for ((i = 0; i < low_requests; i++)); do
      ip netns exec "$LAB_NS_CLIENT" curl -s -o /dev/null "http://$LAB_ONLINE_IP/api/low/$i" || true
      sleep 0.02
    done
  else
    ip netns exec "$LAB_NS_CLIENT" wrk -t 2 -c 32 -d "${seconds}s" -s "$LAB_DIR/close.lua" \
      "http://$LAB_ONLINE_IP/" >"$LAB_DIR/$label.wrk" 2>&1 || true
  fi
  sleep 1
  lab_stop "$d1" 5
  lab_stop "$d2" 5
  lab_stop "$tc" 10
  lab_stop "$ic" 5
  python3 - "$label" "$load" "$in" "$out" <<'EOF'
import bisect, subprocess, sys
label, load, pin, pout = sys.argv[1:]
def times(path, data_only):
    out = subprocess.run(["tcpdump", "-tt", "-nn", "-r", path], capture_output=True, text=True).stdout
    ts = []
    for line in out.splitlines():
        parts = line.split()
        if not parts or (data_only and not line.rstrip().split("length ")[-1].isdigit()):
            continue
        if data_only and int(line.rstrip().split("length ")[-1]) == 0:
            continue
        ts.append(float(parts[0]))
    return ts
responses, tunnel = times(pin, False), times(pout, True)
delays = []
for t in responses:
    i = bisect.bisect_left(tunnel, t)
    if i < len(tunnel):
        delays.append((tunnel[i] - t) * 1e6)
delays.sort()
pct = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")
load_avg = open("/proc/loadavg").read().split()[0]
print("%-14s %-5s %9d %9d %9.0f %9.0f %9.0f %s" % (label, load, len(responses), len(tunnel), pct(0.5), pct(0.9),
                                                  pct(0.99), load_avg))
EOF
}

for load in low high; do
  if [[ -n $baseline ]]; then measure baseline "$load" "$baseline/intercept/intercept"; fi
  measure current "$load" "$build/intercept/intercept"
done
