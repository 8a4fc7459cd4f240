#pragma once
// Where a frame for a target goes when -o DEV sends at the link layer and the -x rule names no
// MAC addresses: DEV's own address as the source, and the next hop's from the kernel's neighbour
// table (an RTM_GETNEIGH dump over rtnetlink, read with libmnl); a missing entry is asked for with
// one ARP request on DEV (a few tries, a second each).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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

// One IPv4 entry of the kernel's neighbour table, as an RTM_NEWNEIGH message carries it.
struct Neighbour {
    net::Ipv4Addr address;             // NDA_DST
    unsigned ifindex = 0;              // ndm_ifindex
    std::uint16_t state = 0;           // ndm_state, NUD_* (host order)
    std::optional<MacAddress> lladdr;  // NDA_LLADDR, when it is 6 bytes long
    // A link-layer address the kernel itself would send to (NUD_VALID: reachable, stale,
    // delay, probe, permanent or noarp), not one still being resolved or that failed.
    bool usable() const;
};

// One netlink message (header included; `message` may hold more after it, which is ignored).
// nullopt unless it is a well-formed RTM_NEWNEIGH for AF_INET with a 4-byte NDA_DST: every
// length is checked against the message's and the span's, nothing is read past either.
std::optional<Neighbour> parseNeighbourMessage(std::span<const std::byte> message);

// How far one datagram of an RTM_GETNEIGH dump took the search for `ip` on `ifindex`.
struct NeighbourScan {
    std::optional<MacAddress> mac;  // a usable entry, once seen
    bool done = false;              // NLMSG_DONE: the dump is over
    std::string error;              // NLMSG_ERROR or a malformed datagram; empty otherwise
};

// Walks the messages of one datagram of the dump (sequence `seq`, from the kernel to `portid`),
// keeping the first usable entry for `ip` on `ifindex` in `scan`.
void scanNeighbourDatagram(std::span<const std::byte> datagram, std::uint32_t seq, std::uint32_t portid,
                           net::Ipv4Addr ip, unsigned ifindex, NeighbourScan& scan);

// Asks the kernel for its IPv4 neighbour table over rtnetlink and returns the usable entry for
// `ip` on `device`, nullopt when there is none; the error names the device and the netlink call.
os::Result<std::optional<MacAddress>> lookupNeighbour(const std::string& device, net::Ipv4Addr ip);

// The MAC of `ip` on `device` and where it came from.
struct ResolvedMac {
    MacAddress mac{};
    bool fromNeighbourTable = false;  // false: an ARP reply on the wire
};

// The MAC of `ip` on `device`: the neighbour table, else ARP requests. The error is one line
// naming the address and the device.
os::Result<ResolvedMac> resolveMac(const std::string& device, net::Ipv4Addr ip);

}  // namespace tcpcopy::inject
