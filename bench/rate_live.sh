#!/usr/bin/env bash
# One live run of the production-rate benchmark (bench/rate.sh runs it), in a fresh namespace lab:
#   1. wrk (bench/rate_wrk.lua: Connection: close, a unique URI per request) from one client
#      address against nginx on the online server, nothing else running: the service's own rate;
#   2. intercept on the assistant and tcpcopy on the online server (raw socket, or libpcap on the
#      online server's client-side device), then the same wrk from another single client address
#      (so no run meets another's TIME_WAIT state) while tcpcopy copies it live to nginx on the
#      target (configured like the online one, bench/rate_lib.sh);
#   3. tcpcopy and intercept stopped, the service alone again from a third address: on this
#      shared machine the load drifts, so the baseline is the mean of runs 1 and 3.
# Measures: the service's request rate with tcpcopy beside it and without; requests delivered
# (unique URIs at the target / unique URIs the online server logged in run 2); how long the
# target went on receiving after the clients stopped; CPU seconds and peak RSS of tcpcopy and
# intercept (under bench/rusage.py, stopped with SIGTERM); tcpcopy's --report JSON (sessions,
# injected packets, capture drops; ours only); the TCP counters of the target, online and client
# namespaces before/after run 2 (the client's TcpOutSegs: the packets tcpcopy had to capture).
#
# Usage: rate_live.sh ours|original raw|pcap TCPCOPY INTERCEPT OUT_DIR [SECONDS] [CONNECTIONS] [THREADS]
#   defaults: 8 s, 32 connections, 2 threads. (root)
#   ours:     tcpcopy -x 80-<target>:80 -s <intercept>:36524 [-i <dev> -B MiB] --report ...
#   original: tcpcopy -x 80-<target>:80 -s <intercept> [-i <dev>] -l LOG (the original's flags)
# Environment: RATE_PCAP_BUFFER_MB (ours, libpcap backend: -B, default 64).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=rate_lib.sh
source "$here/rate_lib.sh"
usage="usage: rate_live.sh ours|original raw|pcap TCPCOPY INTERCEPT OUT_DIR [SECONDS] [CONNECTIONS] [THREADS]"
flavour=${1:?$usage}
backend=${2:?$usage}
secs=${6:-8}
conns=${7:-32}
threads=${8:-2}
pcap_mb=${RATE_PCAP_BUFFER_MB:-64}
[[ $backend == raw || $backend == pcap ]] || {
  echo "rate_live.sh: the backend must be 'raw' or 'pcap' ($usage)" >&2
  exit 2
}
for v in "$secs" "$conns" "$threads" "$pcap_mb"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || {
    echo "rate_live.sh: SECONDS, CONNECTIONS, THREADS and RATE_PCAP_BUFFER_MB must be positive integers" >&2
    exit 2
  }
done
rate_run_args rate_live.sh "$usage" "$flavour" "${3:?$usage}" "${4:?$usage}" "${5:?$usage}"
tcpcopy_bin=$RATE_TCPCOPY
intercept_bin=$RATE_INTERCEPT
out=$RATE_OUT

lab_require_root
rate_install
lab_require_cmd nginx wrk python3
lab_init ratelive
lab_up
rate_client_sysctls "$LAB_NS_CLIENT"
rate_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
online_log=$RATE_NGINX_LOG
rate_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_LIVE_IP" 80
target_log=$RATE_NGINX_LOG
target_nginx_dir=$RATE_NGINX_DIR
url="http://$LAB_ONLINE_IP/"
alone_ip=$(echo "$LAB_CLIENT_IPS" | cut -d' ' -f2)
after_ip=$(echo "$LAB_CLIENT_IPS" | cut -d' ' -f3)

# client_from IP : the client namespace's connections to the online server leave from IP.
client_from() {
  ip -n "$LAB_NS_CLIENT" route replace "$LAB_ONLINE_IP/32" dev "$LAB_IF_CLIENT_ONLINE" src "$1"
}

# --- 1. the service alone -------------------------------------------------------------------
client_from "$alone_ip"
load_alone=$(rate_load)
lab_log "service alone: wrk -t $threads -c $conns -d ${secs}s from $alone_ip (load $load_alone)"
rate_wrk "$LAB_NS_CLIENT" "$secs" "$conns" "$threads" "$url" "$out/wrk-alone.txt"
python3 "$RATE_TOOLS" wrk "$out/wrk-alone.txt" >"$out/wrk-alone.json"
: >"$online_log"

# --- 2. the service with tcpcopy copying it live --------------------------------------------
tcpcopy_args=(-x "80-$LAB_TARGET_LIVE_IP:80")
if [[ $flavour == ours ]]; then
  tcpcopy_args+=(-s "$LAB_ASSIST_LIVE_TUNNEL_IP:$LAB_TUNNEL_PORT" --stats-interval 1 --report "$out/tcpcopy-report.json")
  if [[ $backend == pcap ]]; then tcpcopy_args+=(-i "$LAB_IF_ONLINE_CLIENT" -B "$pcap_mb"); fi
else
  tcpcopy_args+=(-s "$LAB_ASSIST_LIVE_TUNNEL_IP" -l "$LAB_DIR/tcpcopy-own.log")
  if [[ $backend == pcap ]]; then tcpcopy_args+=(-i "$LAB_IF_ONLINE_CLIENT"); fi
fi
rate_start_intercept "$flavour" "$intercept_bin" "$LAB_ASSIST_LIVE_TUNNEL_IP" "$out"
lab_bg tcpcopy "$LAB_NS_ONLINE" env -C "$LAB_DIR" python3 "$here/rusage.py" "$out/tcpcopy-rusage.json" -- \
  "$tcpcopy_bin" "${tcpcopy_args[@]}"
tcpcopy_pid=$LAB_LAST_PID
# Ready once its tunnel to intercept is up (the same test for both implementations).
tunnel_up() {
  [[ -n $(ip netns exec "$LAB_NS_ONLINE" ss -Htn state established "( dport = :$LAB_TUNNEL_PORT )") ]]
}
for ((i = 0; i < 200; i++)); do
  tunnel_up && break
  kill -0 "$tcpcopy_pid" 2>/dev/null || lab_die "tcpcopy exited at start: $(tail -n 3 "$LAB_DIR/tcpcopy.log")"
  sleep 0.1
done
tunnel_up || lab_die "tcpcopy did not connect to intercept within 20 s"
if [[ $flavour == ours ]]; then lab_wait_file_match "$LAB_DIR/tcpcopy.log" 'replay started' 20; fi

for ns in target online client; do
  var="LAB_NS_${ns^^}"
  rate_netstat "${!var}" "$LAB_DIR/net-$ns-before.json"
done
client_from "$LAB_CLIENT_IP"
load_before=$(rate_load)
lab_log "with $flavour tcpcopy ($backend): wrk -t $threads -c $conns -d ${secs}s from $LAB_CLIENT_IP (load $load_before)"
rate_wrk "$LAB_NS_CLIENT" "$secs" "$conns" "$threads" "$url" "$out/wrk-copy.txt"
python3 "$RATE_TOOLS" wrk "$out/wrk-copy.txt" >"$out/wrk-copy.json"
# The target goes on receiving while tcpcopy catches up; wait until its log is quiet.
lag=$(rate_wait_quiet "$target_log" 3 300)
load_after=$(rate_load)
for ns in target online client; do
  var="LAB_NS_${ns^^}"
  rate_netstat "${!var}" "$LAB_DIR/net-$ns-after.json"
  python3 "$RATE_TOOLS" netdiff "$LAB_DIR/net-$ns-before.json" "$LAB_DIR/net-$ns-after.json" >"$out/$ns-net.json"
done
kill -0 "$tcpcopy_pid" 2>/dev/null || lab_log "tcpcopy died during the run"
lab_stop "$tcpcopy_pid" 30
tc_rc=$(python3 "$RATE_TOOLS" field "$out/tcpcopy-rusage.json" 'd["rc"]' 2>/dev/null || echo "")
sed -n '/tcpcopy summary/,$p' "$LAB_DIR/tcpcopy.log" >&2 || true
lab_stop "$RATE_INTERCEPT_PID" 10
LC_ALL=C sort -u <(awk '{print $2}' "$online_log") >"$LAB_DIR/online.uris"
python3 "$RATE_TOOLS" deliver "$LAB_DIR/online.uris" "$target_log" >"$out/deliver.json"
rate_keep_logs "$out"

# --- 3. the service alone again ---------------------------------------------------------------
client_from "$after_ip"
load_alone_after=$(rate_load)
lab_log "service alone again: wrk -t $threads -c $conns -d ${secs}s from $after_ip (load $load_alone_after)"
rate_wrk "$LAB_NS_CLIENT" "$secs" "$conns" "$threads" "$url" "$out/wrk-alone-after.txt"
python3 "$RATE_TOOLS" wrk "$out/wrk-alone-after.txt" >"$out/wrk-alone-after.json"

python3 "$RATE_TOOLS" meta "$out/meta.json" mode=live flavour="$flavour" backend="$backend" \
  seconds="$secs" connections="$conns" threads="$threads" pcap_buffer_mb="$pcap_mb" tcpcopy_rc="$tc_rc" \
  lag_s="$lag" online_logged="$(wc -l <"$LAB_DIR/online.uris")" load_alone="$load_alone" \
  load_alone_after="$load_alone_after" load_before="$load_before" \
  load_after="$load_after" nginx_worker_connections="$RATE_NGINX_CONNECTIONS" \
  nginx_worker_alerts="$(grep -c 'worker_connections are not enough' "$target_nginx_dir/error.log" || true)" \
  intercept="@$out/intercept-stats.json"
python3 "$here/rate_report.py" --run "$out"
