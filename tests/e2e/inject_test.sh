#!/usr/bin/env bash
# The injectors, end to end: inject_probe sends hand-built TCP SYNs, IPv4 and IPv6, through the
# libnet injector, the raw-socket injector (sendto) and both batch paths (sendmmsg) from one
# network namespace; tcpdump in a second namespace, across a veth pair, must see every packet,
# each with a correct IP header checksum (IPv4) and a correct TCP checksum, and none of the
# malformed ones. A batch alternating families takes one sendmmsg per run of one family. IPv6
# SYNs to a listening socket are answered with SYN-ACKs (the target's TCP took them), and tcpcopy
# replays a capture to an IPv6 target through either injector after -u nobody dropped its
# privileges. Without CAP_NET_RAW both injectors must refuse to start with the system's error text.
#
# Usage: inject_test.sh BUILD_DIR   (root; INJECT_PROBE=/path/to/inject_probe overrides the
# probe's location, which is BUILD_DIR/tests/e2e/inject_tools/inject_probe by default)
#
# Network safety: everything is sent inside two namespaces this script creates (198.18.9.0/24 and
# fd00:198:18:9::/64, no default route, no link out) and deletes on every exit path.
set -euo pipefail

build=${1:-}
probe=${INJECT_PROBE:-$build/tests/e2e/inject_tools/inject_probe}
tcpcopy_bin=$build/tcpcopy/tcpcopy
fixtures=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)

fail() {
  printf 'inject_test: FAIL: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (network namespaces, raw sockets)"
[[ -x $probe ]] || fail "probe not built: $probe (build target inject_probe; tests/e2e/inject_tools must be added with add_subdirectory)"
[[ -x $tcpcopy_bin ]] || fail "tcpcopy not built: $tcpcopy_bin"
command -v tcpdump >/dev/null || fail "tcpdump not installed"

tag="ij$$"
ns_tx="${tag}tx"
ns_rx="${tag}rx"
work=$(mktemp -d "/tmp/inject_test.$$.XXXXXX")
tcpdump_pid=""
listener_pid=""
tcpcopy_pid=""
tx4=198.18.9.1
rx4=198.18.9.2
tx6=fd00:198:18:9::1
rx6=fd00:198:18:9::2

cleanup() {
  local rc=$?
  if [[ -n $tcpdump_pid ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
  fi
  if [[ -n $tcpcopy_pid ]] && kill -0 "$tcpcopy_pid" 2>/dev/null; then
    kill "$tcpcopy_pid" 2>/dev/null || true
    wait "$tcpcopy_pid" 2>/dev/null || true
  fi
  if [[ -n $listener_pid ]] && kill -0 "$listener_pid" 2>/dev/null; then
    kill "$listener_pid" 2>/dev/null || true
    wait "$listener_pid" 2>/dev/null || true
  fi
  ip netns del "$ns_tx" 2>/dev/null || true
  ip netns del "$ns_rx" 2>/dev/null || true
  if [[ -n ${KEEP_WORK:-} ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- lab: tx (198.18.9.1, fd00:198:18:9::1) <-veth-> rx (198.18.9.2, fd00:198:18:9::2) ----------
ip netns add "$ns_tx"
ip netns add "$ns_rx"
ip link add "${tag}a" netns "$ns_tx" type veth peer name "${tag}b" netns "$ns_rx"
ip -n "$ns_tx" addr add "$tx4/24" dev "${tag}a"
ip -n "$ns_rx" addr add "$rx4/24" dev "${tag}b"
# nodad: usable at once, no duplicate address detection to wait for.
ip -n "$ns_tx" addr add "$tx6/64" dev "${tag}a" nodad
ip -n "$ns_rx" addr add "$rx6/64" dev "${tag}b" nodad
for ns in "$ns_tx" "$ns_rx"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_tx" link set "${tag}a" up
ip -n "$ns_rx" link set "${tag}b" up
# The rx MAC in tx's neighbour table from the start: no packet waits for neighbour discovery.
rx_mac=$(ip netns exec "$ns_rx" cat "/sys/class/net/${tag}b/address")
ip -n "$ns_tx" neigh replace "$rx6" lladdr "$rx_mac" dev "${tag}a" nud permanent

# Isolation holds: no default route in either namespace, of either family.
for ns in "$ns_tx" "$ns_rx"; do
  if ip -n "$ns" route show default | grep -q . || ip -n "$ns" -6 route show default | grep -q .; then
    fail "namespace $ns has a default route"
  fi
done

# ---- a listener in rx for the SYN-ACK checks (IPv6 ports 9208-9211) ---------------------------
ip netns exec "$ns_rx" python3 -c '
import signal, socket, sys
socks = []
for port in (9208, 9209, 9210, 9211):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.bind((sys.argv[1], port))
    s.listen(64)
    socks.append(s)
signal.pause()' "$rx6" 2>"$work/listener.err" &
listener_pid=$!
listening() { ip netns exec "$ns_rx" ss -Hltn "( sport >= :9208 and sport <= :9211 )" | wc -l; }
for _ in $(seq 100); do
  (($(listening) == 4)) && break
  sleep 0.05
done
(($(listening) == 4)) || fail "the IPv6 listener did not start: $(cat "$work/listener.err")"

# ---- capture on the receiving side ----------------------------------------------------------
pcap="$work/rx.pcap"
# A small snaplen (the largest probe packet is 1064 bytes) and a big buffer: in immediate mode
# libpcap gives every frame a snaplen-sized ring slot, and -s 0 would leave room for 8 frames.
# Everything to rx of either family, and rx's SYN-ACKs from the listening ports.
ip netns exec "$ns_rx" tcpdump -i "${tag}b" -n -U --immediate-mode -s 1600 -B 8192 -w "$pcap" \
  "tcp and (dst host $rx4 or dst host $rx6 or (src host $rx6 and (src port 9208 or src port 9209)))" \
  2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break
  sleep 0.05
done
grep -q "listening on" "$work/tcpdump.err" || fail "tcpdump did not start: $(cat "$work/tcpdump.err")"

# ---- inject --------------------------------------------------------------------------------
# probe_run NAME INJECTOR DPORT COUNT PAYLOAD MALFORMED CALLS BYTES [PROBE ARGS...]: the probe's
# report must be exactly the counts given (CALLS: system calls that sent; BYTES: IP bytes sent).
probe_run() {
  local name=$1 injector=$2 dport=$3 count=$4 payload=$5 malformed=$6 calls=$7 bytes=$8 out
  shift 8
  out=$(ip netns exec "$ns_tx" "$probe" --injector "$injector" --dport "$dport" --count "$count" \
    --payload "$payload" --malformed "$malformed" "$@") || fail "$name: probe failed: $out"
  local want="injector=$injector sent=$count errors=$malformed malformed=$malformed bytes=$bytes calls=$calls"
  [[ $out == "$want" ]] || fail "$name: unexpected probe report: '$out' (wanted '$want')"
  printf 'inject_test: %s: %s\n' "$name" "$out"
}
v4=(--src "$tx4" --dst "$rx4")
v6=(--src "$tx6" --dst "$rx6")
mixed=(--src "$tx4" --dst "$rx4" --src2 "$tx6" --dst2 "$rx6")
# IP + TCP with the MSS option (24) + payload: 20 + 24 for IPv4, 40 + 24 for IPv6.
probe_run libnet libnet 9101 20 0 3 20 $((20 * 44)) "${v4[@]}"
probe_run raw raw 9102 20 0 3 20 $((20 * 44)) "${v4[@]}"
probe_run raw-batch raw-batch 9103 150 0 5 3 $((150 * 44)) "${v4[@]}" # sendmmsg chunks of 64
probe_run raw-payload raw 9104 10 1000 0 10 $((10 * 1044)) "${v4[@]}"
probe_run libnet6 libnet 9201 20 0 3 20 $((20 * 64)) "${v6[@]}"
probe_run raw6 raw 9202 20 0 3 20 $((20 * 64)) "${v6[@]}"
probe_run raw-batch6 raw-batch 9203 150 0 5 3 $((150 * 64)) "${v6[@]}"
probe_run libnet-batch6 libnet-batch 9204 150 0 0 3 $((150 * 64)) "${v6[@]}"
probe_run raw-payload6 raw 9205 10 1000 0 10 $((10 * 1064)) "${v6[@]}"
# Runs of 10 of each family: 10 runs, 10 sendmmsg calls; runs of 7: 15 calls.
probe_run raw-batch-mixed raw-batch 9206 100 0 3 10 $((50 * 44 + 50 * 64)) "${mixed[@]}" --run 10
probe_run libnet-batch-mixed libnet-batch 9207 100 0 0 15 $((51 * 44 + 49 * 64)) "${mixed[@]}" --run 7
probe_run raw6-listener raw 9208 5 0 0 5 $((5 * 64)) "${v6[@]}"
probe_run libnet6-listener libnet 9209 5 0 0 5 $((5 * 64)) "${v6[@]}"
probe_run libnet-payload libnet 9105 10 1000 0 10 $((10 * 1044)) "${v4[@]}"

# Stop the capture once it holds the last packet sent (the last run's last SYN: port 9105 from
# 40009; everything injected before it crossed the same link first, and tcpdump -U writes each
# packet as it comes) and rx's 10 SYN-ACKs. Signalled earlier it would drop what it had not
# read yet. The deadline only bounds a failure, which the checks below then name.
synacks() { tcpdump -r "$pcap" -n "src host $rx6 and (src port 9208 or src port 9209)" 2>/dev/null | wc -l; }
for _ in $(seq 300); do
  (($(tcpdump -r "$pcap" -n 'tcp and dst port 9105 and src port 40009' 2>/dev/null | wc -l) >= 1)) &&
    (($(synacks) >= 10)) && break
  sleep 0.1
done
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=""

# ---- verify what arrived -------------------------------------------------------------------
decoded="$work/rx.txt"
tcpdump -r "$pcap" -n -vv 2>/dev/null >"$decoded"
# -vv puts the IP header on one line and the TCP header on the next: join them.
joined="$work/rx.joined"
awk '/^[0-9]/ { if (line != "") print line; line = $0; next } { line = line " " $0 } END { if (line != "") print line }' \
  "$decoded" >"$joined"

# check_port NAME DPORT COUNT PAYLOAD [RUN]: the SYNs to DPORT, all IPv4 (tx4 -> rx4) when DPORT
# is 91xx, all IPv6 when 92xx, and with RUN alternating runs of RUN packets, IPv4 first.
check_port() {
  local name=$1 dport=$2 count=$3 payload=$4 run=${5:-0} lines got
  lines=$(grep -E "> ($rx4|$rx6)\.$dport: Flags \[S\]," "$joined" || true)
  got=$(grep -c . <<<"$lines" || true)
  [[ -n $lines ]] || got=0
  [[ $got -eq $count ]] || fail "$name: $got packets arrived on port $dport, expected $count"
  # Every packet: TCP checksum verified correct by tcpdump, IP checksum not flagged bad.
  local correct bad
  correct=$(grep -c "cksum 0x[0-9a-f]* (correct)" <<<"$lines" || true)
  bad=$(grep -Ec "bad cksum|incorrect" <<<"$lines" || true)
  [[ $correct -eq $count && $bad -eq 0 ]] ||
    fail "$name: $correct of $count packets with a correct TCP checksum, $bad flagged bad"
  # Exactly the packets built: SYN, sport 40000+i, seq 1000000*(i+1), IP id i+1 (IPv4; "-" for
  # IPv6), the payload length, the destination. One awk pass lists what arrived as
  # "sport seq id length destination", compared with the list wanted.
  local got_list want_list
  got_list=$(awk '{
      head = $0; sub(/ > .*/, "", head); sport = head; sub(/.*\./, "", sport)
      to = $0; sub(/.* > /, "", to); sub(/\.[0-9]+: .*/, "", to)
      seq = $0; sub(/.* seq /, "", seq); sub(/[^0-9].*/, "", seq)
      id = "-"; if (index($0, " id ")) { id = $0; sub(/.* id /, "", id); sub(/[^0-9].*/, "", id) }
      len = $0; sub(/.* length /, "", len); sub(/[^0-9].*/, "", len)
      print sport, seq, id, len, to
    }' <<<"$lines" | sort)
  want_list=$(for ((i = 0; i < count; i++)); do
    local six=0
    if ((run > 0)); then six=$(((i / run) % 2)); elif ((dport / 100 == 92)); then six=1; fi
    if ((six)); then
      echo "$((40000 + i)) $((1000000 * (i + 1))) - $payload $rx6"
    else
      echo "$((40000 + i)) $((1000000 * (i + 1))) $((i + 1)) $payload $rx4"
    fi
  done | sort)
  if [[ $got_list != "$want_list" ]]; then
    diff <(echo "$want_list") <(echo "$got_list") | head -5 >&2 || true
    fail "$name: the packets on port $dport differ from those built (diff above: < built, > arrived)"
  fi
  printf 'inject_test: %s: %d packets on port %s arrived intact, checksums correct\n' "$name" "$count" "$dport"
}

# The capture must have kept everything, or a missing packet would say nothing about injection.
if grep -E "[1-9][0-9]* packets? dropped by kernel" "$work/tcpdump.err"; then
  fail "tcpdump dropped packets: $(tr '\n' ' ' <"$work/tcpdump.err")"
fi

check_port libnet 9101 20 0
check_port raw 9102 20 0
check_port raw-batch 9103 150 0
check_port raw-payload 9104 10 1000
check_port libnet-payload 9105 10 1000
check_port libnet6 9201 20 0
check_port raw6 9202 20 0
check_port raw-batch6 9203 150 0
check_port libnet-batch6 9204 150 0
check_port raw-payload6 9205 10 1000
check_port raw-batch-mixed 9206 100 0 10
check_port libnet-batch-mixed 9207 100 0 7
check_port raw6-listener 9208 5 0
check_port libnet6-listener 9209 5 0
# Nothing else arrived: the 770 SYNs, rx's SYN-ACKs and tx's kernel's resets of them (the probe
# has no socket for the SYN-ACK) are all the capture holds.
syns=$(grep -c "Flags \[S\]," "$joined" || true)
[[ $syns -eq 770 ]] || fail "$syns SYNs captured in all, expected 770 (malformed ones must not be sent)"
others=$(grep -Evc "Flags \[(S|S\.|R)\]," "$joined" || true)
[[ $others -eq 0 ]] || fail "$others packets captured that the probes did not build: $(grep -Ev "Flags \[(S|S\.|R)\]," "$joined" | head -3)"

# The listener's TCP took every IPv6 SYN it was sent: one SYN-ACK to each source port.
for port in 9208 9209; do
  answered=$(grep -E "$rx6\.$port > $tx6\.[0-9]+: Flags \[S\.\]" "$joined" |
    sed -E 's/.*\.([0-9]+): Flags.*/\1/' | sort -u | tr '\n' ' ')
  [[ $answered == "40000 40001 40002 40003 40004 " ]] ||
    fail "port $port: SYN-ACKs to source ports '$answered', expected 40000-40004"
  printf 'inject_test: port %s: the listener answered every IPv6 SYN with a SYN-ACK\n' "$port"
done

# ---- tcpcopy itself: a capture replayed to an IPv6 target as user nobody -----------------------
# The IPv6 socket opens at start, before -u drops CAP_NET_RAW: the 20 connections of the capture
# (clients from -c 2001:db8::10) reach the listener through either injector, each half open at rx
# (rx's route for the client network leads nowhere; no intercept, -L). tcpcopy is stopped then.
ip -n "$ns_rx" -6 route add 2001:db8::/32 dev "${tag}b"
half_open() {
  ip netns exec "$ns_rx" ss -Htn state syn-recv "( sport = :$1 )" | awk '{print $4}' |
    sed -E 's/.*:([0-9]+)$/\1/' | sort -u | wc -l
}
for run in libnet:9210 raw:9211; do
  injector=${run%:*} port=${run#*:}
  ip netns exec "$ns_tx" "$tcpcopy_bin" --injector "$injector" -u nobody -L --stats-interval 0 \
    -x "80-[$rx6]:$port" -c 2001:db8::10 -i "$fixtures/http_short.pcap" >"$work/tcpcopy-$injector.log" 2>&1 &
  tcpcopy_pid=$!
  for _ in $(seq 100); do
    (($(half_open "$port") >= 20)) && break
    sleep 0.1
  done
  half=$(half_open "$port")
  kill "$tcpcopy_pid" 2>/dev/null || true
  wait "$tcpcopy_pid" 2>/dev/null || true
  tcpcopy_pid=""
  ((half == 20)) || fail "tcpcopy --injector $injector -u nobody: $half of 20 connections reached [$rx6]:$port: $(tail -5 "$work/tcpcopy-$injector.log")"
  grep -q "running as user nobody" "$work/tcpcopy-$injector.log" ||
    fail "tcpcopy --injector $injector did not say it runs as nobody: $(tail -5 "$work/tcpcopy-$injector.log")"
  ! grep -q "cannot send IPv6" "$work/tcpcopy-$injector.log" ||
    fail "tcpcopy --injector $injector: $(grep "cannot send IPv6" "$work/tcpcopy-$injector.log")"
  printf 'inject_test: tcpcopy --injector %s -u nobody: 20 connections to [%s]:%s half open at rx\n' \
    "$injector" "$rx6" "$port"
done

# ---- without CAP_NET_RAW both injectors refuse to start, naming the reason ------------------
if command -v capsh >/dev/null; then
  for injector in libnet raw; do
    set +e
    err=$(ip netns exec "$ns_tx" capsh --drop=cap_net_raw -- -c \
      "exec '$probe' --injector $injector --count 1" 2>&1 >/dev/null)
    rc=$?
    set -e
    [[ $rc -eq 2 ]] || fail "$injector without CAP_NET_RAW: exit $rc, expected 2 ($err)"
    [[ $err == *"Operation not permitted"* ]] ||
      fail "$injector without CAP_NET_RAW: error text lacks the reason: '$err'"
    printf 'inject_test: %s without CAP_NET_RAW refused: %s\n' "$injector" "$err"
  done
else
  fail "capsh (libcap2-bin) not installed"
fi

printf 'inject_test: PASS\n'
