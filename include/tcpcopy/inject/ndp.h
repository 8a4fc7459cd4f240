#pragma once
// IPv6 neighbour discovery (RFC 4861) for -o DEV: the Neighbor Solicitation tcpcopy sends on DEV
// when the kernel's neighbour table has no entry for an IPv6 next hop (as it sends an ARP request
// for an IPv4 one), and the Neighbor Advertisement that answers it. Whole Ethernet frames, sent
// and received on an AF_PACKET socket bound to DEV: like -o's frames, they need no route.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "tcpcopy/inject/link_injector.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::inject {

// The largest solicitation frame: Ethernet (14), IPv6 (40), the solicitation (24) and its
// source link-layer address option (8).
inline constexpr std::size_t kNeighbourSolicitationMax = 86;

// Writes the Ethernet frame of a Neighbor Solicitation for `target` from `sourceMac` and
// `sourceIp` to the target's solicited-node multicast group (ff02::1:ffXX:XXXX, MAC
// 33:33:ff:XX:XX:XX), hop limit 255, ICMPv6 checksum computed, and returns its length. From an
// unspecified `sourceIp` (::, when DEV has no IPv6 address) it carries no source link-layer
// option (RFC 4861 4.3) and the target answers to all nodes (ff02::1).
std::size_t buildNeighbourSolicitation(const MacAddress& sourceMac, const net::IpAddr& sourceIp,
                                       const net::IpAddr& target,
                                       std::span<std::uint8_t, kNeighbourSolicitationMax> out);

// The link-layer address a received Ethernet frame advertises for `target`, when the frame is a
// valid Neighbor Advertisement for it (IPv6 without extension headers, hop limit 255, ICMPv6
// type 136 code 0 with a right checksum, every length within the frame): its target link-layer
// address option, else the frame's source address. nullopt for any other frame.
std::optional<MacAddress> parseNeighbourAdvertisement(std::span<const std::uint8_t> frame,
                                                      const net::IpAddr& target);

// Asks for the MAC of `target` on `device`: up to `tries` solicitations, each waiting a second for
// the advertisement, from DEV's link-local address (else another IPv6 address of DEV, else ::).
// nullopt when nobody answered; the error names the device and the system call that failed.
os::Result<std::optional<MacAddress>> solicitNeighbour(const std::string& device, const net::IpAddr& target,
                                                       int tries);

}  // namespace tcpcopy::inject
