#pragma once
// Asking a question on a link and waiting for the answer, for -o's next hops: an ARP request
// (next_hop.cpp) or an IPv6 Neighbor Solicitation (ndp.cpp), sent as a whole frame on a packet
// socket bound to DEV, a few tries a second apart.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "tcpcopy/inject/link_injector.h"
#include "tcpcopy/os/result.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::inject {

// A packet socket bound to interface `ifindex` that receives frames of `ethertype` (host order).
// The error is the failing call and the system's text: "packet socket: Operation not permitted".
os::Result<os::UniqueFd> openLinkSocket(unsigned ifindex, std::uint16_t ethertype);

// Sends `request` on `fd` up to `tries` times; after each, reads frames for up to a second until
// `answer` finds the MAC address in one. nullopt when no frame did; the error ("sending: ...")
// when a send failed.
os::Result<std::optional<MacAddress>> askOnLink(
    int fd, std::span<const std::uint8_t> request, int tries,
    const std::function<std::optional<MacAddress>(std::span<const std::uint8_t>)>& answer);

}  // namespace tcpcopy::inject
