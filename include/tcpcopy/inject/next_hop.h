#pragma once
// Where a frame for a target goes when -o DEV sends at the link layer and the -x rule names no
// MAC addresses: DEV's own address as the source, and the next hop's from the kernel's neighbour
// table; a missing entry is asked for with one ARP request on DEV (a few tries, a second each).

#include <optional>
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

// A complete entry for `ip` on `device` in the text of /proc/net/arp, or nullopt.
std::optional<MacAddress> findNeighbour(std::string_view arpTable, net::Ipv4Addr ip,
                                        const std::string& device);

// The MAC of `ip` on `device`: the neighbour table, else ARP requests. The error is one line
// naming the address and the device.
os::Result<MacAddress> resolveMac(const std::string& device, net::Ipv4Addr ip);

}  // namespace tcpcopy::inject
