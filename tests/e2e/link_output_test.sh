#!/usr/bin/env bash
# Link-layer output (-o DEV): the tc namespace keeps its link to the target but loses its address
# on it, so it has no route to the target at all; tcpcopy still delivers every request of a
# capture by sending whole Ethernet frames out of the link. Cases: the next hop's MAC resolved by
# ARP; taken from a pre-seeded entry of the kernel's neighbour table (RTM_GETNEIGH over netlink)
# with no ARP on the wire; the MACs given in the original's rule form (port@SRC_MAC-IP:port@DST_MAC); a target that
# cannot be resolved is refused with one line naming it.
# Usage: link_output_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)

lab_init linkout
lab_up
e2e_begin link_output_test
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
nginx_log=$LAB_NGINX_ACCESS_LOG
lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" -F "tcp and src port 80" \
  -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" --allow "$LAB_TUNNEL_ALLOW"
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15

# No address, hence no route, towards the target from the tc namespace.
ip -n "$LAB_NS_TC" addr del "$LAB_TC_IP/24" dev "$LAB_IF_TC_TARGET"
if lab_ns_exec "$LAB_NS_TC" ip route get "$LAB_TARGET_IP" >/dev/null 2>&1; then
  lab_die "the tc namespace still has a route to $LAB_TARGET_IP"
fi
ok "the tc namespace has no route to the target"

# link_case NAME RULE : replay http_short.pcap with -o, expect exactly its requests.
link_case() {
  local name=$1 rule=$2
  : >"$nginx_log"
  run_tcpcopy "$name" -o "$LAB_IF_TC_TARGET" -x "$rule" -i "$fixtures/http_short.pcap"
  lab_nginx_settle "$nginx_log"
  lab_requests_nginx "$nginx_log" >"$LAB_DIR/$name.got"
  LC_ALL=C sort "$fixtures/http_short.requests.txt" >"$LAB_DIR/$name.golden"
  if ((tc_rc != 0)); then
    fail "$name: tcpcopy exited $tc_rc"
    tcpcopy_summary "$name" >&2
  elif diff -u "$LAB_DIR/$name.golden" "$LAB_DIR/$name.got" >"$LAB_DIR/$name.diff"; then
    ok "$name: $(wc -l <"$LAB_DIR/$name.golden") requests, exactly as captured"
  else
    fail "$name: the target's requests differ from the capture's"
    head -20 "$LAB_DIR/$name.diff" >&2
  fi
}

# The ARP packets the target namespace receives, counted by an nft rule of the arp family.
lab_ns_exec "$LAB_NS_TARGET" nft -f - <<'EOF'
table arp linkout {
  chain in { type filter hook input priority 0; counter; }
}
EOF
arp_seen() {
  lab_ns_exec "$LAB_NS_TARGET" nft list chain arp linkout in | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

arp_before=$(arp_seen)
link_case resolved "80-$LAB_TARGET_IP:80"
arp_resolved=$(($(arp_seen) - arp_before))
if grep -q "frames to $LAB_TARGET_IP go from .* (ARP)" "$LAB_DIR/tcpcopy-resolved.log" && ((arp_resolved >= 1)); then
  ok "resolved: the target's MAC came from ARP on $LAB_IF_TC_TARGET ($arp_resolved ARP packets at the target)"
else
  fail "resolved: no line saying the MAC came from ARP, or no ARP at the target ($arp_resolved)"
fi

tc_mac=$(lab_ns_exec "$LAB_NS_TC" cat "/sys/class/net/$LAB_IF_TC_TARGET/address")
target_mac=$(lab_ns_exec "$LAB_NS_TARGET" cat "/sys/class/net/$LAB_IF_TARGET_TC/address")

# A permanent neighbour entry for the target: read over netlink, no ARP request on the wire.
ip -n "$LAB_NS_TC" neigh replace "$LAB_TARGET_IP" lladdr "$target_mac" dev "$LAB_IF_TC_TARGET" nud permanent
arp_before=$(arp_seen)
link_case neighbour "80-$LAB_TARGET_IP:80"
arp_neighbour=$(($(arp_seen) - arp_before))
if grep -q "frames to $LAB_TARGET_IP go from $tc_mac to $target_mac (neighbour table)" \
  "$LAB_DIR/tcpcopy-neighbour.log" && ((arp_neighbour == 0)); then
  ok "neighbour: the target's MAC came from the neighbour table, no ARP at the target"
else
  fail "neighbour: not taken from the neighbour table, or $arp_neighbour ARP packets at the target"
  grep "frames to" "$LAB_DIR/tcpcopy-neighbour.log" >&2 || true
fi
ip -n "$LAB_NS_TC" neigh del "$LAB_TARGET_IP" dev "$LAB_IF_TC_TARGET"

link_case rule-macs "80@$tc_mac-$LAB_TARGET_IP:80@$target_mac"
if grep -q "frames to $LAB_TARGET_IP go from $tc_mac to $target_mac (from -x)" "$LAB_DIR/tcpcopy-rule-macs.log"; then
  ok "rule-macs: the frames use the MACs of the -x rule"
else
  fail "rule-macs: tcpcopy did not take the MACs of the -x rule"
fi

# Nobody has 198.18.1.99: refused at start with one line naming it and the device.
rc=0
lab_ns_exec "$LAB_NS_TC" "$tcpcopy_bin" -o "$LAB_IF_TC_TARGET" -x "80-198.18.1.99:80" -L \
  -i "$fixtures/http_short.pcap" >"$LAB_DIR/unresolved.out" 2>"$LAB_DIR/unresolved.err" || rc=$?
if ((rc != 0)) && (($(wc -l <"$LAB_DIR/unresolved.err") == 1)) &&
  grep -q -- "-o $LAB_IF_TC_TARGET: cannot resolve the MAC address of 198.18.1.99" "$LAB_DIR/unresolved.err"; then
  ok "unresolvable target: exit $rc, $(cat "$LAB_DIR/unresolved.err")"
else
  fail "unresolvable target: exit $rc, stderr: $(cat "$LAB_DIR/unresolved.err")"
fi

# A malformed MAC in a rule is a usage error naming it.
rc=0
"$tcpcopy_bin" -o lo -x "80@00:11:22-$LAB_TARGET_IP:80" -L -i "$fixtures/http_short.pcap" \
  >/dev/null 2>"$LAB_DIR/badmac.err" || rc=$?
if ((rc == 2)) && grep -q "bad MAC address '00:11:22-198.18." "$LAB_DIR/badmac.err"; then
  ok "malformed MAC: exit 2, $(head -1 "$LAB_DIR/badmac.err")"
else
  fail "malformed MAC: exit $rc, stderr: $(cat "$LAB_DIR/badmac.err")"
fi

e2e_end
