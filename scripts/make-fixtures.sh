#!/usr/bin/env bash
# Regenerates the capture fixtures in tests/fixtures/ from real clients (curl, redis-cli,
# redis-benchmark) talking to real servers (nginx, redis-server) inside the namespace lab.
# Each capture is taken with tcpdump on the online server's client-side veth (offloads as the
# kernel set them, snaplen 65535); its golden file is what that server logged while the capture
# ran. Every golden is cross-checked against the capture itself (tests/tools/pcaptool.py
# reassembles the client streams and must print the same lines). Run as root; re-runnable.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${FIXTURE_DIR:-$repo/tests/fixtures}
pcaptool=(python3 "$repo/tests/tools/pcaptool.py")
# shellcheck source=../tests/e2e/lib/lab.sh
source "$repo/tests/e2e/lib/lab.sh"

lab_require_root
lab_require_cmd tcpdump nginx redis-server redis-cli redis-benchmark curl python3
lab_init fix
lab_up
mkdir -p "$out"

server=$LAB_ONLINE_IP
lab_start_nginx "$LAB_NS_ONLINE" "$server" 80
lab_start_redis "$LAB_NS_ONLINE" "$server" 6379
access_log=$LAB_NGINX_ACCESS_LOG

in_client() { ip netns exec "$LAB_NS_CLIENT" "$@"; }
curl_from() { # SOURCE_IP CURL_ARGS...
  local src=$1
  shift
  in_client curl -sS --fail-with-body -o /dev/null -H 'Expect:' --interface "$src" "$@"
}

capture_begin() { # NAME PORT
  cap_name=$1
  log_mark=$(wc -l <"$access_log")
  lab_capture_start "$1" "$LAB_NS_ONLINE" "$LAB_IF_ONLINE_CLIENT" tcp port "$2"
  cap_pid=$LAB_LAST_PID
}

capture_end() {
  # Waits for the last FIN/ACK exchanges and for tcpdump to write them.
  lab_capture_stop_quiet "$cap_pid" "$LAB_DIR/$cap_name.pcap" 1
  cp "$LAB_DIR/$cap_name.pcap" "$out/$cap_name.pcap"
}

nginx_golden() { # NAME: the lines logged since capture_begin, as lab_requests_nginx prints them
  tail -n +"$((log_mark + 1))" "$access_log" >"$LAB_DIR/$1.access.log"
  lab_requests_nginx "$LAB_DIR/$1.access.log" >"$out/$1.requests.txt"
}

check_http() { # NAME [GOLDEN_NAME]: the capture must hold exactly the golden requests
  local golden=${2:-$1}
  "${pcaptool[@]}" http-requests "$out/$1.pcap" >"$LAB_DIR/$1.from-pcap.txt"
  diff -u "$out/$golden.requests.txt" "$LAB_DIR/$1.from-pcap.txt" ||
    lab_die "$1.pcap does not hold the requests in $golden.requests.txt"
}

# --- http_short: one request per connection, several clients, GET and HEAD -------------------
capture_begin http_short 80
uris=(/ /index.html /hello.txt /static/1k /static/4k /api/users?id=1 /api/users?id=2
  /api/search?q=tcpcopy /missing.html /static/16k)
n=0
for uri in "${uris[@]}"; do
  for method in GET HEAD; do
    src="192.0.2.$((11 + n % 6))"
    if [[ $method == HEAD ]]; then
      curl_from "$src" -I "http://$server$uri" 2>/dev/null || [[ $uri == /missing.html ]]
    else
      curl_from "$src" "http://$server$uri" 2>/dev/null || [[ $uri == /missing.html ]]
    fi
    n=$((n + 1))
  done
done
capture_end
nginx_golden http_short
check_http http_short

# --- http_keepalive: three connections, ten requests each -------------------------------------
capture_begin http_keepalive 80
for c in 0 1 2; do
  args=()
  for i in $(seq 1 10); do
    case $((i % 5)) in
      0) u="/api/items/$c/$i?page=$i" ;;
      1) u=/index.html ;;
      2) u=/static/1k ;;
      3) u="/api/session/$c?step=$i" ;;
      4) u=/hello.txt ;;
    esac
    args+=(-o /dev/null "http://$server$u")
  done
  in_client curl -sS --fail-with-body -H 'Expect:' --interface "192.0.2.$((12 + c))" "${args[@]}"
done
capture_end
nginx_golden http_keepalive
check_http http_keepalive

# --- http_post_large: request bodies larger than 64 KB ----------------------------------------
# Sizes keep the capture under 200 KB; with offloads on, the client's 64 KB GSO segments arrive
# at the capture point unsplit and with their checksums not yet filled in.
for size in 70000 100000; do
  head -c "$size" < <(yes 'tcpcopy lab request body 0123456789') >"$LAB_DIR/body-$size"
done
capture_begin http_post_large 80
curl_from 192.0.2.14 --data-binary "@$LAB_DIR/body-70000" "http://$server/upload?size=70000"
curl_from 192.0.2.15 --data-binary "@$LAB_DIR/body-100000" "http://$server/upload?size=100000"
capture_end
nginx_golden http_post_large
check_http http_post_large

# --- redis_pipeline: pipelined commands of several kinds --------------------------------------
capture_begin redis_pipeline 6379
lab_redis_monitor_start "$LAB_NS_ONLINE" "$server" 6379 "$LAB_DIR/monitor.txt"
in_client redis-benchmark -h "$server" -p 6379 -c 1 -P 16 -n 64 -t set,get,incr,lpush -q >/dev/null
python3 - "$LAB_DIR/pipe.resp" <<'EOF'
import sys
def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
cmds = []
for i in range(40):
    cmds.append(resp("SET", "user:%d" % i, "name-%d" % i))
    cmds.append(resp("HSET", "profile:%d" % (i % 8), "field%d" % i, str(i * 7)))
    cmds.append(resp("RPUSH", "queue", "job-%d" % i))
    cmds.append(resp("INCRBY", "counter", str(i)))
cmds.append(resp("GET", "user:7"))
cmds.append(resp("LRANGE", "queue", "0", "-1"))
cmds.append(resp("DEL", "queue"))
open(sys.argv[1], "wb").write(b"".join(cmds))
EOF
in_client redis-cli -h "$server" -p 6379 --pipe <"$LAB_DIR/pipe.resp" >/dev/null
lab_redis_monitor_stop
capture_end
lab_requests_redis "$LAB_DIR/monitor.txt" >"$out/redis_pipeline.requests.txt"
# MONITOR never shows administrative commands (redis-benchmark's CONFIG GET), so neither does
# the golden file; a replay target's MONITOR will not show them either.
"${pcaptool[@]}" redis-commands "$out/redis_pipeline.pcap" | grep -v '^"CONFIG" ' \
  >"$LAB_DIR/redis.from-pcap.txt"
diff -u "$out/redis_pipeline.requests.txt" "$LAB_DIR/redis.from-pcap.txt" ||
  lab_die "redis_pipeline.pcap does not hold the commands in its golden file"

# --- derived variants -------------------------------------------------------------------------
# Midstream: the first 4 packets of each keep-alive connection are gone (SYN, SYN-ACK, ACK and
# the first request); what a complete-request replay yields is what the capture still holds
# from the first complete request on (tests/fixtures/README.md).
"${pcaptool[@]}" midstream --drop 4 "$out/http_keepalive.pcap" "$out/http_midstream.pcap"
"${pcaptool[@]}" http-requests "$out/http_midstream.pcap" >"$out/http_midstream.requests.txt"
want=$(($(wc -l <"$out/http_keepalive.requests.txt") - 3))
got=$(wc -l <"$out/http_midstream.requests.txt")
((got == want)) || lab_die "http_midstream: $got complete requests, expected $want"
# Every request of the midstream golden is one of the original's.
if LC_ALL=C comm -13 "$out/http_keepalive.requests.txt" "$out/http_midstream.requests.txt" | grep -q .; then
  lab_die "http_midstream.requests.txt holds requests the server never logged"
fi

# Retransmissions and reordering change no byte of the streams: same golden as the original.
"${pcaptool[@]}" retransmit --every 3 --delay 4 "$out/http_keepalive.pcap" "$LAB_DIR/retrans.pcap"
"${pcaptool[@]}" reorder --every 2 "$LAB_DIR/retrans.pcap" "$out/http_retrans_reorder.pcap"
cp "$out/http_keepalive.requests.txt" "$out/http_retrans_reorder.requests.txt"
check_http http_retrans_reorder

# --- summary for tests/fixtures/README.md -----------------------------------------------------
for f in http_short http_keepalive http_post_large redis_pipeline http_midstream http_retrans_reorder; do
  size=$(stat -c %s "$out/$f.pcap")
  ((size < 200 * 1024)) || lab_die "$f.pcap is $size bytes, over the 200 KB budget"
  printf '== %s.pcap (%d bytes, %d requests in golden)\n' "$f" "$size" \
    "$(wc -l <"$out/$f.requests.txt")"
  "${pcaptool[@]}" info "$out/$f.pcap" | tail -n +3
done | tee "$out/SUMMARY.txt"
echo "make-fixtures: wrote $(ls "$out"/*.pcap | wc -l) captures to $out"
