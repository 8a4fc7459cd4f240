#!/usr/bin/env bash
# The lab half of bench/run.sh (which sets the environment below): in one namespace lab,
#   1. tcpreplay --topspeed of the capture's client packets out of the tc namespace's veth
#      (the baseline);
#   2. the raw injection ceiling: inject_ceiling through libnet (send, and sendmmsg on its socket),
#      raw sendto and sendmmsg;
#   3. tcpcopy replaying the capture at full speed (-a 1000000, or BENCH_ACCELERATE) through the real intercept against
#      nginx and redis-server, under rusage.py (CPU seconds, peak RSS).
# Results go to $BENCH_RESULTS as small JSON / shell files that report.py reads.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
capture=${BENCH_CAPTURE:?}
results=${BENCH_RESULTS:?}
bin=${BENCH_BIN:?}
build=${BENCH_BUILD:?}
inject_count=${BENCH_INJECT_COUNT:-400000}
# shellcheck source=../tests/e2e/lib/lab.sh
source "$here/../tests/e2e/lib/lab.sh"

lab_require_cmd tcpreplay tcpdump nginx redis-server redis-cli
tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_init benchrun
lab_up

# --- 1. baseline: tcpreplay --topspeed of the client packets ------------------------------------
tcpdump -r "$capture" -w "$LAB_DIR/client.pcap" 'tcp dst port 80 or tcp dst port 6379' 2>/dev/null
client_packets=$(tcpdump -r "$LAB_DIR/client.pcap" -nn 2>/dev/null | wc -l)
lab_log "tcpreplay --topspeed: $client_packets client packets"
ip netns exec "$LAB_NS_TC" tcpreplay -q --topspeed -i "$LAB_IF_TC_TARGET" "$LAB_DIR/client.pcap" \
  >"$LAB_DIR/tcpreplay.txt" 2>&1
cat "$LAB_DIR/tcpreplay.txt" >&2
python3 - "$LAB_DIR/tcpreplay.txt" "$client_packets" >"$results/tcpreplay.json" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r"Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds", text)
rated = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", text)
sent, secs = int(m.group(1)), float(m.group(2))
print(json.dumps({"packets": sent, "seconds": secs, "pps": float(rated.group(1)) if rated else sent / secs,
                  "client_packets": int(sys.argv[2])}))
EOF

# --- 2. the raw injection ceiling --------------------------------------------------------------
for mode in libnet libnet-batch raw raw-batch; do
  lab_log "inject_ceiling $mode: $inject_count packets"
  ip netns exec "$LAB_NS_TC" "$bin/inject_ceiling" "$mode" "$inject_count" "$LAB_TARGET_IP" 100 \
    >"$results/inject-$mode.json"
done

# --- 3. offline replay at full speed -----------------------------------------------------------
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG
lab_start_redis "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379
redis_count() {
  ip netns exec "$LAB_NS_TARGET" redis-cli -h "$LAB_TARGET_IP" INFO stats | tr -d '\r' |
    awk -F: '$1 == "total_commands_processed" {print $2}'
}
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "tcp and (src port 80 or src port 6379)" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" \
  --allow "$LAB_TUNNEL_ALLOW" --stats-interval 0
intercept_pid=$LAB_LAST_PID
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

redis_before=$(redis_count)
lab_log "tcpcopy -a ${BENCH_ACCELERATE:-1000000} over $(basename "$capture")"
lab_bg tcpcopy "$LAB_NS_TC" python3 "$here/rusage.py" "$results/tcpcopy-rusage.json" -- \
  "$tcpcopy_bin" -x "80-$LAB_TARGET_IP:80,6379-$LAB_TARGET_IP:6379" -i "$capture" -a "${BENCH_ACCELERATE:-1000000}" \
  -s "$LAB_ASSIST_TUNNEL_IP" --stats-interval 0 --report "$results/tcpcopy-report.json"
tc_rc=0
lab_wait_exit "$LAB_LAST_PID" 600 || tc_rc=$?
((tc_rc == 124)) && lab_stop "$LAB_LAST_PID" 5
sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy.log" >&2 || true
# Every request nginx received in its log (redis answers INFO after the commands before it).
lab_nginx_settle "$nginx_log"
redis_after=$(redis_count)
lab_alive "$intercept_pid" || lab_log "intercept died during the replay"
cat >"$results/replay.sh" <<EOF
tcpcopy_rc=$tc_rc
accelerate=${BENCH_ACCELERATE:-1000000}
http_received=$(lab_nginx_count "$nginx_log")
redis_received=$((redis_after - redis_before - 1))
EOF
cp "${capture%.pcap}.meta" "$results/capture.meta"
