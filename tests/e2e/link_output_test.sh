#!/usr/bin/env bash
# Link-layer output (-o DEV): the tc namespace keeps its link to the target but loses its address
# on it, so it has no route to the target at all; tcpcopy still delivers every request of a
# capture by sending whole Ethernet frames out of the link. Cases: the next hop's MAC resolved by
# ARP; taken from a pre-seeded entry of the kernel's neighbour table (RTM_GETNEIGH over netlink)
# with no ARP on the wire; the MACs given in the original's rule form (port@SRC_MAC-IP:port@DST_MAC); a target that
# cannot be resolved is refused with one line naming it.
# IPv6 (the same link, an IPv6 target, no IPv6 route from the tc namespace): SYNs in frames of
# ethertype 0x86DD to a listener on the target, whose TCP must take each one (a SYN-RECV entry per
# SYN; intercept does not capture IPv6 yet, so no handshake completes). inject_probe --injector
# link drives app::openLinkInjector, the code tcpcopy -o runs, for the next hop's MAC from a
# pre-seeded neighbour entry (no solicitation on the wire), resolved by a Neighbor Solicitation,
# and through a gateway of the IPv6 routing table; tcpcopy itself replays a capture with the
# rule's MACs (-x '80@MAC-[IPv6]:PORT@MAC') and refuses an unresolvable target with one line.
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
probe=$build/tests/e2e/inject_tools/inject_probe
[[ -x $probe ]] || lab_die "$probe not built (cmake --build $build --target inject_probe)"

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

# ---- IPv6 -------------------------------------------------------------------------------------
# The lab's IPv6 addresses (lab_up_v6: the target's client network routed to the assistant, which
# drops the answers: the SYN-ACKs leave, the handshakes stay half open for the checks below), less
# tc's on the target link, as for IPv4: no IPv6 route from tc to the target.
lab_up_v6
target6=$LAB6_TARGET_IP
client6=$LAB6_CLIENT_IP
routed6=fd00:198:18:7::2 # on the target, reached from tc through a gateway route
ip -n "$LAB_NS_TC" -6 addr del "$LAB6_TC_IP/64" dev "$LAB_IF_TC_TARGET"
ip -n "$LAB_NS_TARGET" addr add "$routed6/128" dev "$LAB_IF_TARGET_TC" nodad
if lab_ns_exec "$LAB_NS_TC" ip -6 route get "$target6" >/dev/null 2>&1; then
  lab_die "the tc namespace has a route to $target6"
fi
ok "the tc namespace has no IPv6 route to the target"

# The listener: the target's TCP keeps a SYN-RECV entry per SYN it took (checksums right).
lab_bg listener6 "$LAB_NS_TARGET" python3 -c '
import signal, socket
socks = []
for port in (9301, 9302, 9303, 9304):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.bind(("::", port))
    s.listen(64)
    socks.append(s)
signal.pause()'
lab_wait_port "$LAB_NS_TARGET" "::" 9304 15
# half_open PORT : how many client ports have a SYN-RECV entry on PORT at the target.
half_open() {
  lab_ns_exec "$LAB_NS_TARGET" ss -Htn state syn-recv "( sport = :$1 )" | awk '{print $4}' |
    sed -E 's/.*:([0-9]+)$/\1/' | sort -u | wc -l
}
# Neighbor Solicitations the target receives, counted by an nft rule.
lab_ns_exec "$LAB_NS_TARGET" nft add table inet linkout6
lab_ns_exec "$LAB_NS_TARGET" nft add chain inet linkout6 in '{ type filter hook input priority 0; }'
lab_ns_exec "$LAB_NS_TARGET" nft add rule inet linkout6 in meta nfproto ipv6 icmpv6 type nd-neighbor-solicit counter
ns_seen() {
  lab_ns_exec "$LAB_NS_TARGET" nft list chain inet linkout6 in | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# link6_case NAME DST DPORT HOW : 10 SYNs from client6 to DST:DPORT out of the tc link, in one
# sendmmsg; the MAC must come from HOW (the log line), and the target must hold all 10 half open.
link6_case() {
  local name=$1 dst=$2 dport=$3 how=$4 out rc=0
  out=$(lab_ns_exec "$LAB_NS_TC" "$probe" --injector link --device "$LAB_IF_TC_TARGET" --src "$client6" \
    --dst "$dst" --dport "$dport" --count 10 2>"$LAB_DIR/$name.err") || rc=$?
  if ((rc != 0)) || [[ $out != "injector=link sent=10 errors=0 malformed=0 bytes=640 calls=10" ]]; then
    fail "$name: probe exit $rc: $out $(cat "$LAB_DIR/$name.err")"
    return
  fi
  if ! grep -q -- "-o $LAB_IF_TC_TARGET: frames to $dst go from $tc_mac to [0-9a-f:]* ($how)" "$LAB_DIR/$name.err"; then
    fail "$name: no line saying the MAC came from $how: $(cat "$LAB_DIR/$name.err")"
    return
  fi
  local _
  for _ in $(seq 100); do
    (($(half_open "$dport") >= 10)) && break
    sleep 0.1
  done
  if (($(half_open "$dport") == 10)); then
    ok "$name: 10 IPv6 SYNs in frames out of $LAB_IF_TC_TARGET, each taken by the target's TCP ($how)"
  else
    fail "$name: $(half_open "$dport") of 10 SYNs half open at the target"
  fi
}

# A permanent neighbour entry: read over netlink (RTM_GETNEIGH, AF_INET6), no solicitation.
ip -n "$LAB_NS_TC" -6 neigh replace "$target6" lladdr "$target_mac" dev "$LAB_IF_TC_TARGET" nud permanent
ns_before=$(ns_seen)
link6_case neighbour6 "$target6" 9301 "neighbour table"
if (($(ns_seen) == ns_before)); then
  ok "neighbour6: no Neighbor Solicitation at the target"
else
  fail "neighbour6: $(($(ns_seen) - ns_before)) Neighbor Solicitations at the target"
fi
ip -n "$LAB_NS_TC" -6 neigh del "$target6" dev "$LAB_IF_TC_TARGET"

# No entry: tcpcopy's own Neighbor Solicitation on the link finds the target.
ns_before=$(ns_seen)
link6_case ndp6 "$target6" 9302 "NDP"
if (($(ns_seen) > ns_before)); then
  ok "ndp6: resolved by $(($(ns_seen) - ns_before)) Neighbor Solicitation(s) at the target"
else
  fail "ndp6: no Neighbor Solicitation reached the target"
fi

# Through a gateway: tc routes fd00:198:18:7::/64 via the target's link-local address; the
# frames go to the gateway's MAC, resolved by solicitation.
target_ll=$(lab_ns_exec "$LAB_NS_TARGET" ip -6 -o addr show dev "$LAB_IF_TARGET_TC" scope link |
  awk '{print $4}' | cut -d/ -f1)
ip -n "$LAB_NS_TC" -6 route add fd00:198:18:7::/64 via "$target_ll" dev "$LAB_IF_TC_TARGET"
link6_case gateway6 "$routed6" 9303 "NDP for the gateway $target_ll"

# tcpcopy itself, the original's rule form with a bracketed IPv6 target: the capture's 20
# connections (clients from -c) leave as frames with the rule's MACs; once the target holds all
# 20 half open, tcpcopy is stopped (no intercept here answers for IPv6).
lab_bg tcpcopy-rule-macs6 "$LAB_NS_TC" "$tcpcopy_bin" -o "$LAB_IF_TC_TARGET" -L --stats-interval 0 \
  -x "80@$tc_mac-[$target6]:9304@$target_mac" -c "$client6" -i "$fixtures/http_short.pcap"
tc6_pid=$LAB_LAST_PID
for _ in $(seq 100); do
  (($(half_open 9304) >= 20)) && break
  sleep 0.1
done
half=$(half_open 9304)
lab_stop "$tc6_pid" 5
if ((half == 20)) && grep -q -- "-o $LAB_IF_TC_TARGET: frames to $target6 go from $tc_mac to $target_mac (from -x)" \
  "$LAB_DIR/tcpcopy-rule-macs6.log"; then
  ok "rule-macs6: tcpcopy -x '80@MAC-[$target6]:9304@MAC': 20 connections half open at the target, MACs from -x"
else
  fail "rule-macs6: $half of 20 connections half open; $(grep -E "frames to|error" "$LAB_DIR/tcpcopy-rule-macs6.log")"
fi

# Nobody has fd00:198:18:1::99: tcpcopy refuses at start with one line naming it and the device.
rc=0
lab_ns_exec "$LAB_NS_TC" "$tcpcopy_bin" -o "$LAB_IF_TC_TARGET" -x "80-[fd00:198:18:1::99]:80" -c "$client6" -L \
  -i "$fixtures/http_short.pcap" >"$LAB_DIR/unresolved6.out" 2>"$LAB_DIR/unresolved6.err" || rc=$?
if ((rc != 0)) && (($(wc -l <"$LAB_DIR/unresolved6.err") == 1)) &&
  grep -q -- "-o $LAB_IF_TC_TARGET: cannot resolve the MAC address of fd00:198:18:1::99 (no neighbour entry, no answer to 3 neighbour solicitations)" "$LAB_DIR/unresolved6.err"; then
  ok "unresolvable IPv6 target: exit $rc, $(cat "$LAB_DIR/unresolved6.err")"
else
  fail "unresolvable IPv6 target: exit $rc, stderr: $(cat "$LAB_DIR/unresolved6.err")"
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
