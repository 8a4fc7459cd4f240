#pragma once
// Where a frame for a target goes when -o DEV sends at the link layer and the -x rule names no
// MAC addresses: DEV's own address as the source, and the next hop's from the kernel's neighbour
// table (an RTM_GETNEIGH dump over rtnetlink, read with libmnl, of the target's family); a
// missing entry is asked for on DEV, a few tries a second apart: an ARP request for IPv4, a
// Neighbor Solicitation for IPv6 (ndp.h).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/inject/link_injector.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::inject {

// DEV's hardware address. Errors name the device.
os::Result<MacAddress> deviceMac(const std::string& device);

// The next hop towards `target` through `device`: the gateway of the longest /proc/net/route
// prefix on that device that has one, otherwise the target itself (on the link, or no route at
// all: with -o the tcpcopy host need not route to the target).
net::Ipv4Addr nextHopFor(net::Ipv4Addr target, const std::string& device, std::string_view routeTable);
// The same for an IPv6 target from /proc/net/ipv6_route (`routeTable`: its text): the next hop of
// the longest matching prefix on `device` (the lowest metric among equals) that is up and not a
// reject route, otherwise the target itself.
net::IpAddr nextHopForIpv6(const net::IpAddr& target, const std::string& device, std::string_view routeTable);

// One entry of the kernel's neighbour table (IPv4 or IPv6), as an RTM_NEWNEIGH message carries it.
struct Neighbour {
    net::IpAddr address;               // NDA_DST
    unsigned ifindex = 0;              // ndm_ifindex
    std::uint16_t state = 0;           // ndm_state, NUD_* (host order)
    std::optional<MacAddress> lladdr;  // NDA_LLADDR, when it is 6 bytes long
    // A link-layer address the kernel itself would send to (NUD_VALID: reachable, stale,
    // delay, probe, permanent or noarp), not one still being resolved or that failed.
    bool usable() const;
};

// One netlink message (header included; `message` may hold more after it, which is ignored).
// nullopt unless it is a well-formed RTM_NEWNEIGH for AF_INET with a 4-byte NDA_DST or AF_INET6
// with a 16-byte one: every length is checked against the message's and the span's, nothing is
// read past either.
std::optional<Neighbour> parseNeighbourMessage(std::span<const std::byte> message);

// The RTM_GETNEIGH dump request (NLM_F_REQUEST | NLM_F_DUMP, sequence `seq`) for the neighbour
// table of `family` (AF_INET or AF_INET6), as sent to the kernel.
std::vector<std::byte> neighbourDumpRequest(std::uint8_t family, std::uint32_t seq);

// How far one datagram of an RTM_GETNEIGH dump took the search for `ip` on `ifindex`.
struct NeighbourScan {
    std::optional<MacAddress> mac;  // a usable entry, once seen
    bool done = false;              // NLMSG_DONE: the dump is over
    std::string error;              // NLMSG_ERROR or a malformed datagram; empty otherwise
};

// Walks the messages of one datagram of the dump (sequence `seq`, from the kernel to `portid`),
// keeping the first usable entry for `ip` on `ifindex` in `scan`.
void scanNeighbourDatagram(std::span<const std::byte> datagram, std::uint32_t seq, std::uint32_t portid,
                           const net::IpAddr& ip, unsigned ifindex, NeighbourScan& scan);

// Asks the kernel for its neighbour table of `ip`'s family over rtnetlink and returns the usable
// entry for `ip` on `device`, nullopt when there is none; the error names the device and the
// netlink call.
os::Result<std::optional<MacAddress>> lookupNeighbour(const std::string& device, const net::IpAddr& ip);

// The MAC of `ip` on `device` and where it came from.
struct ResolvedMac {
    MacAddress mac{};
    bool fromNeighbourTable = false;  // false: an answer on the wire (ARP reply, Neighbor Advertisement)
};

// The MAC of `ip` on `device`: the neighbour table, else ARP requests (IPv4) or Neighbor
// Solicitations (IPv6). The error is one line naming the address and the device.
os::Result<ResolvedMac> resolveMac(const std::string& device, const net::IpAddr& ip);

}  // namespace tcpcopy::inject
