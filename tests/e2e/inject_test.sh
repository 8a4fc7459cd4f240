#!/usr/bin/env bash
# The injectors, end to end: inject_probe sends hand-built IPv4/TCP SYNs through the libnet
# injector, the raw-socket injector (sendto) and its batch path (sendmmsg) from one network
# namespace; tcpdump in a second namespace, across a veth pair, must see every packet, each with
# a correct IP header checksum and a correct TCP checksum, and none of the malformed ones.
# Without CAP_NET_RAW both injectors must refuse to start with the system's error text.
#
# Usage: inject_test.sh BUILD_DIR   (root; INJECT_PROBE=/path/to/inject_probe overrides the
# probe's location, which is BUILD_DIR/tests/e2e/inject_tools/inject_probe by default)
#
# Network safety: everything is sent inside two namespaces this script creates (198.18.9.0/24,
# no default route, no link out) and deletes on every exit path.
set -euo pipefail

build=${1:-}
probe=${INJECT_PROBE:-$build/tests/e2e/inject_tools/inject_probe}

fail() {
  printf 'inject_test: FAIL: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (network namespaces, raw sockets)"
[[ -x $probe ]] || fail "probe not built: $probe (build target inject_probe; tests/e2e/inject_tools must be added with add_subdirectory)"
command -v tcpdump >/dev/null || fail "tcpdump not installed"

tag="ij$$"
ns_tx="${tag}tx"
ns_rx="${tag}rx"
work=$(mktemp -d "/tmp/inject_test.$$.XXXXXX")
tcpdump_pid=""

cleanup() {
  local rc=$?
  if [[ -n $tcpdump_pid ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
  fi
  ip netns del "$ns_tx" 2>/dev/null || true
  ip netns del "$ns_rx" 2>/dev/null || true
  if [[ -n ${KEEP_WORK:-} ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- lab: tx (198.18.9.1) <-veth-> rx (198.18.9.2), nothing else ------------------------------
ip netns add "$ns_tx"
ip netns add "$ns_rx"
ip link add "${tag}a" netns "$ns_tx" type veth peer name "${tag}b" netns "$ns_rx"
ip -n "$ns_tx" addr add 198.18.9.1/24 dev "${tag}a"
ip -n "$ns_rx" addr add 198.18.9.2/24 dev "${tag}b"
for ns in "$ns_tx" "$ns_rx"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_tx" link set "${tag}a" up
ip -n "$ns_rx" link set "${tag}b" up

# Isolation holds: no default route in either namespace.
for ns in "$ns_tx" "$ns_rx"; do
  if ip -n "$ns" route show default | grep -q .; then
    fail "namespace $ns has a default route"
  fi
done

# ---- capture on the receiving side ----------------------------------------------------------
pcap="$work/rx.pcap"
# A small snaplen (the largest probe packet is 1064 bytes) and a big buffer: in immediate mode
# libpcap gives every frame a snaplen-sized ring slot, and -s 0 would leave room for 8 frames.
ip netns exec "$ns_rx" tcpdump -i "${tag}b" -n -U --immediate-mode -s 1600 -B 8192 -w "$pcap" \
  'tcp and dst host 198.18.9.2' 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break
  sleep 0.05
done
grep -q "listening on" "$work/tcpdump.err" || fail "tcpdump did not start: $(cat "$work/tcpdump.err")"

# ---- inject --------------------------------------------------------------------------------
# probe_run NAME INJECTOR DPORT COUNT PAYLOAD MALFORMED
probe_run() {
  local name=$1 injector=$2 dport=$3 count=$4 payload=$5 malformed=$6 out
  out=$(ip netns exec "$ns_tx" "$probe" --injector "$injector" --src 198.18.9.1 --dst 198.18.9.2 \
    --dport "$dport" --count "$count" --payload "$payload" --malformed "$malformed") ||
    fail "$name: probe failed: $out"
  local want_bytes=$((count * (20 + 24 + payload)))  # IP + TCP with the MSS option + payload
  [[ $out == "injector=$injector sent=$count errors=$malformed malformed=$malformed bytes=$want_bytes" ]] ||
    fail "$name: unexpected probe report: '$out' (wanted sent=$count errors=$malformed bytes=$want_bytes)"
  printf 'inject_test: %s: %s\n' "$name" "$out"
}

probe_run libnet libnet 9101 20 0 3
probe_run raw raw 9102 20 0 3
probe_run raw-batch raw-batch 9103 150 0 5   # more than one sendmmsg chunk of 64
probe_run raw-payload raw 9104 10 1000 0
probe_run libnet-payload libnet 9105 10 1000 0

# Stop the capture once it holds the last packet sent (the last run's last SYN: port 9105 from
# 40009); everything injected before it crossed the same link first, and tcpdump -U writes each
# packet as it comes. Signalled earlier it would drop what it had not read yet. The deadline only
# bounds a failure, which the checks below then name.
for _ in $(seq 300); do
  (($(tcpdump -r "$pcap" -n 'tcp and dst port 9105 and src port 40009' 2>/dev/null | wc -l) >= 1)) && break
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

# check_port NAME DPORT COUNT PAYLOAD
check_port() {
  local name=$1 dport=$2 count=$3 payload=$4 lines got
  lines=$(grep -F "> 198.18.9.2.$dport:" "$joined" || true)
  got=$(grep -c . <<<"$lines" || true)
  [[ -n $lines ]] || got=0
  [[ $got -eq $count ]] || fail "$name: $got packets arrived on port $dport, expected $count"
  # Every packet: TCP checksum verified correct by tcpdump, IP checksum not flagged bad.
  local correct bad
  correct=$(grep -c "cksum 0x[0-9a-f]* (correct)" <<<"$lines" || true)
  bad=$(grep -Ec "bad cksum|incorrect" <<<"$lines" || true)
  [[ $correct -eq $count && $bad -eq 0 ]] ||
    fail "$name: $correct of $count packets with a correct TCP checksum, $bad flagged bad"
  # Exactly the packets built: SYN, sport 40000+i, seq 1000000*(i+1), IP id i+1, the payload
  # length. One awk pass lists what arrived as "sport seq id length", compared with the list wanted.
  local got_list want_list
  got_list=$(awk -v dport="$dport" '
    index($0, "> 198.18.9.2." dport ":") && index($0, "Flags [S],") {
      sport = $0; sub(/.*198\.18\.9\.1\./, "", sport); sub(/ .*/, "", sport)
      seq = $0; sub(/.* seq /, "", seq); sub(/[^0-9].*/, "", seq)
      id = $0; sub(/.* id /, "", id); sub(/[^0-9].*/, "", id)
      len = $0; sub(/.* length /, "", len); sub(/[^0-9].*/, "", len)
      print sport, seq, id, len
    }' "$joined" | sort)
  want_list=$(for ((i = 0; i < count; i++)); do
    echo "$((40000 + i)) $((1000000 * (i + 1))) $((i + 1)) $payload"
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
total=$(grep -c . "$joined")
[[ $total -eq 210 ]] || fail "$total packets captured in all, expected 210 (malformed ones must not be sent)"

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
