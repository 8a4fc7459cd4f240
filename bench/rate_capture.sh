#!/usr/bin/env bash
# Makes the production-rate capture (issue 11): a real client, wrk, runs flat out from ONE client
# address against nginx on the online server of the namespace lab, every request on its own
# connection (Connection: close) with a unique URI (/r/<thread>-<counter>, bench/rate_wrk.lua).
# The client namespace uses the whole port range and reuses TIME_WAIT ports, so client ports come
# back within the capture as they do in production. tcpdump records the online server's
# client-side veth with offloads off (every packet as on the wire) and a 256 MiB buffer; its
# drop count is checked.
#
# Usage: rate_capture.sh OUT.pcap [SECONDS] [CONNECTIONS] [THREADS]    (root)
#   defaults: 8 s, 32 connections, 2 threads (wrk -t 2 -c 32 -d 8s)
# Writes OUT.pcap, OUT.requests.txt (the golden list: the unique request URIs in the capture,
# sorted) and OUT.json (packets, duration, connections, connections/s, client ports reused,
# tcpdump drops, wrk's figures, the online server's logged requests, load average).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage="usage: rate_capture.sh OUT.pcap [SECONDS] [CONNECTIONS] [THREADS]"
out=${1:?$usage}
secs=${2:-8}
conns=${3:-32}
threads=${4:-2}
for v in "$secs" "$conns" "$threads"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || {
    echo "rate_capture.sh: SECONDS, CONNECTIONS and THREADS must be positive integers ($usage)" >&2
    exit 2
  }
done
((conns >= threads)) || {
  echo "rate_capture.sh: CONNECTIONS ($conns) must be at least THREADS ($threads)" >&2
  exit 2
}
out=$(realpath -m "$out")
[[ $out == *.pcap ]] || {
  echo "rate_capture.sh: OUT must end in .pcap" >&2
  exit 2
}
mkdir -p "$(dirname "$out")"
# shellcheck source=rate_lib.sh
source "$here/rate_lib.sh"

lab_require_root
rate_install
lab_require_cmd tcpdump nginx wrk ethtool python3
lab_init ratecap
lab_up

rate_client_sysctls "$LAB_NS_CLIENT"
# Offloads off on both ends of the client link: tcpdump sees each packet as sent, never a GRO
# aggregate, with its checksum filled in.
lab_offload "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT" off
lab_offload "$LAB_NS_CLIENT" "$LAB_IF_CLIENT_ONLINE" off
rate_start_nginx "$LAB_NS_ONLINE" "$LAB_ONLINE_IP" 80
online_log=$RATE_NGINX_LOG

# 256 MiB kernel buffer: at ~200k packets/s a small one drops.
lab_bg capture.tcpdump "$LAB_NS_ONLINE" tcpdump -i "$LAB_IF_ONLINE_CLIENT" -B 262144 -s 65535 -n \
  -w "$LAB_DIR/capture.pcap" tcp port 80
cap_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/capture.tcpdump.log" 'listening on' 10

load_before=$(rate_load)
lab_log "wrk -t $threads -c $conns -d ${secs}s from $LAB_CLIENT_IP (load $load_before)"
rate_wrk "$LAB_NS_CLIENT" "$secs" "$conns" "$threads" "http://$LAB_ONLINE_IP/" "$LAB_DIR/wrk.txt"
load_after=$(rate_load)
lab_capture_stop_quiet "$cap_pid" "$LAB_DIR/capture.pcap" 2
grep -E 'packets (captured|received by filter|dropped by)' "$LAB_DIR/capture.tcpdump.log" >&2 || true
kernel_dropped=$(sed -En 's/^([0-9]+) packets dropped by kernel$/\1/p' "$LAB_DIR/capture.tcpdump.log")
if_dropped=$(sed -En 's/^([0-9]+) packets dropped by interface$/\1/p' "$LAB_DIR/capture.tcpdump.log")
[[ -n $kernel_dropped ]] || lab_die "tcpdump printed no drop count (see $LAB_DIR/capture.tcpdump.log)"

mv "$LAB_DIR/capture.pcap" "$out"
lab_log "reading the capture"
python3 "$RATE_TOOLS" capinfo "$out" "${out%.pcap}.requests.txt" >"$LAB_DIR/capinfo.json"
python3 "$RATE_TOOLS" wrk "$LAB_DIR/wrk.txt" >"$LAB_DIR/wrk.json"
LC_ALL=C sort -u <(awk '{print $2}' "$online_log") >"$LAB_DIR/online.uris"
online_lines=$(wc -l <"$online_log")
online_unique=$(wc -l <"$LAB_DIR/online.uris")
in_both=$(LC_ALL=C comm -12 "$LAB_DIR/online.uris" "${out%.pcap}.requests.txt" | wc -l)

python3 - "$LAB_DIR/capinfo.json" "$LAB_DIR/wrk.json" "${out%.pcap}.json" <<EOF
import json, sys
info = json.load(open(sys.argv[1]))
info.update({
    "wrk": json.load(open(sys.argv[2])),
    "wrk_args": {"seconds": $secs, "connections": $conns, "threads": $threads},
    "tcpdump_kernel_dropped": int("$kernel_dropped"),
    "tcpdump_interface_dropped": int("${if_dropped:-0}"),
    "online_logged": $online_lines,
    "online_unique": $online_unique,
    "online_and_captured": $in_both,
    "load_before": "$load_before",
    "load_after": "$load_after",
})
json.dump(info, open(sys.argv[3], "w"), indent=1)
i = info
print(f"capture {sys.argv[3][:-5]}.pcap: {i['connections']} connections, {i['packets']} packets in "
      f"{i['duration_s']:.2f} s = {i['connections_per_s']:.0f} connections/s; "
      f"{i['connections_on_reused_port']} connections on a client port used before in the capture "
      f"({i['ports_reused']} of {i['client_ports']} ports reused, up to {i['max_uses_of_one_port']} uses); "
      f"{i['requests_unique']} unique requests ({i['requests_repeated_in_capture']} repeated segments); "
      f"online nginx logged {i['online_logged']} ({i['online_and_captured']} of them in the capture); "
      f"wrk {i['wrk']['requests_per_s']:.0f} req/s; tcpdump dropped {i['tcpdump_kernel_dropped']} "
      f"(kernel) + {i['tcpdump_interface_dropped']} (interface); load {i['load_before']} -> {i['load_after']}")
EOF
