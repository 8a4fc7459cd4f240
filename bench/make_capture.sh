#!/usr/bin/env bash
# Makes the large capture the offline replay benchmark replays: real clients (ab, redis-benchmark)
# talking to real servers (nginx, redis-server) in the namespace lab, captured with tcpdump on the
# online server's client-side veth, as scripts/make-fixtures.sh does for the test fixtures.
#
# Usage: make_capture.sh OUT.pcap CONNECTIONS   (root)
#   CONNECTIONS ~ connections in the capture (at least 100): 60% HTTP/1.0 short connections (ab),
#   40% redis connections of one command each (redis-benchmark -k 0), plus CONNECTIONS keep-alive
#   HTTP requests over 8 connections (ab -k) and CONNECTIONS pipelined redis commands (-P 16) over
#   4 connections. Packets come to about 13 x CONNECTIONS: 100000 gives 100,000 connections and
#   about 1.3 million packets.
# Writes OUT.pcap and OUT.meta (shell assignments: connections made, HTTP requests and redis
# commands the servers counted while the capture ran, packets captured, packets tcpdump dropped).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: make_capture.sh OUT.pcap CONNECTIONS}
size=${2:?usage: make_capture.sh OUT.pcap CONNECTIONS}
[[ $size =~ ^[0-9]+$ ]] && ((size >= 100)) || {
  echo "make_capture.sh: CONNECTIONS must be a number >= 100" >&2
  exit 2
}
out=$(realpath -m "$out")
# shellcheck source=../tests/e2e/lib/lab.sh
source "$here/../tests/e2e/lib/lab.sh"

lab_require_root
lab_require_cmd tcpdump nginx redis-server redis-cli redis-benchmark ab
lab_init benchcap
lab_up

server=$LAB_ONLINE_IP
lab_start_nginx "$LAB_NS_ONLINE" "$server" 80
lab_start_redis "$LAB_NS_ONLINE" "$server" 6379
access_log=$LAB_NGINX_ACCESS_LOG
# Many short connections from one address: the whole port range, and TIME_WAIT ports reused.
ip netns exec "$LAB_NS_CLIENT" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1

in_client() { ip netns exec "$LAB_NS_CLIENT" "$@"; }
redis_count() { # commands redis has processed (the INFO asking counts after it answers)
  ip netns exec "$LAB_NS_ONLINE" redis-cli -h "$server" INFO stats | tr -d '\r' |
    awk -F: '$1 == "total_commands_processed" {print $2}'
}

short_http=$((size * 6 / 10))
short_redis=$((size - short_http))
redis_before=$(redis_count)

# tcpdump with a 64 MiB kernel buffer: at these rates a small one drops packets.
lab_bg capture.tcpdump "$LAB_NS_ONLINE" tcpdump -i "$LAB_IF_ONLINE_CLIENT" -B 65536 -s 65535 -n \
  -w "$LAB_DIR/capture.pcap" tcp port 80 or tcp port 6379
cap_pid=$LAB_LAST_PID
lab_wait_file_match "$LAB_DIR/capture.tcpdump.log" 'listening on' 10

lab_log "HTTP: $short_http short connections, $size keep-alive requests"
in_client ab -q -n "$short_http" -c 16 "http://$server/hello.txt" >"$LAB_DIR/ab-short.txt"
in_client ab -q -k -n "$size" -c 8 "http://$server/index.html" >"$LAB_DIR/ab-keepalive.txt"
lab_log "redis: $short_redis one-command connections, $size pipelined commands"
in_client redis-benchmark -h "$server" -c 16 -n "$((short_redis / 2))" -k 0 -t set,get -q >"$LAB_DIR/rb-short.txt"
in_client redis-benchmark -h "$server" -c 4 -n "$((size / 2))" -P 16 -t set,incr -q >"$LAB_DIR/rb-pipe.txt"

lab_capture_stop_quiet "$cap_pid" "$LAB_DIR/capture.pcap" 2
redis_after=$(redis_count)
dropped=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$LAB_DIR/capture.tcpdump.log" | awk '{print $1}')
cp "$LAB_DIR/capture.pcap" "$out"
packets=$(tcpdump -r "$out" -nn 2>/dev/null | wc -l)
connections=$(tcpdump -r "$out" -nn 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>/dev/null | wc -l)
cat >"${out%.pcap}.meta" <<EOF
connections=$connections
http_requests=$(wc -l <"$access_log")
redis_commands=$((redis_after - redis_before - 1))
packets=$packets
tcpdump_dropped=${dropped:-unknown}
size=$size
EOF
cat "${out%.pcap}.meta" >&2
