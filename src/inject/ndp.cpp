#include "tcpcopy/inject/ndp.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "link_query.h"
#include "tcpcopy/inject/next_hop.h"
#include "tcpcopy/net/builder.h"

namespace tcpcopy::inject {
namespace {

constexpr std::size_t kEthernet = 14;
constexpr std::size_t kIpv6Header = 40;
constexpr std::uint8_t kIcmpv6 = 58;
constexpr std::uint8_t kHopLimit = 255;  // RFC 4861: a neighbour discovery message never crossed a router
constexpr std::uint8_t kSolicitation = 135;
constexpr std::uint8_t kAdvertisement = 136;
constexpr std::size_t kNdMessage = 24;  // type, code, checksum, flags/reserved, target
constexpr std::uint8_t kSourceLinkLayerOption = 1;
constexpr std::uint8_t kTargetLinkLayerOption = 2;
constexpr std::uint16_t kEthertypeIpv6 = 0x86dd;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// The ICMPv6 checksum field's value for `message` (its checksum field zero) between `source`
// and `destination`, or 0 when `message` holds a right checksum: the RFC 8200 8.1 pseudo-header.
std::uint16_t icmpv6Checksum(const std::uint8_t* source, const std::uint8_t* destination,
                             std::span<const std::uint8_t> message) {
    std::array<std::uint8_t, 40 + 1500> buffer{};
    const std::size_t length = std::min(message.size(), buffer.size() - 40);
    std::memcpy(buffer.data(), source, 16);
    std::memcpy(buffer.data() + 16, destination, 16);
    buffer[34] = static_cast<std::uint8_t>(length >> 8);
    buffer[35] = static_cast<std::uint8_t>(length);
    buffer[39] = kIcmpv6;
    std::memcpy(buffer.data() + 40, message.data(), length);
    return net::internetChecksum(std::as_bytes(std::span(buffer.data(), 40 + length)));
}

// DEV's IPv6 address to solicit from: link-local first, else any, else :: (unspecified).
net::IpAddr sourceAddressOf(const std::string& device) {
    net::IpAddr chosen = net::IpAddr::fromOctets(net::IpAddr::Octets{});
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return chosen;
    bool linkLocal = false;
    for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6 || device != a->ifa_name) continue;
        sockaddr_in6 address{};
        std::memcpy(&address, a->ifa_addr, sizeof address);
        const auto* bytes = reinterpret_cast<const std::byte*>(&address.sin6_addr);
        const bool isLinkLocal =
            address.sin6_addr.s6_addr[0] == 0xfe && (address.sin6_addr.s6_addr[1] & 0xc0) == 0x80;
        if (chosen.isUnspecified() || (isLinkLocal && !linkLocal)) {
            chosen = net::IpAddr::fromWire(bytes);
            linkLocal = isLinkLocal;
        }
    }
    ::freeifaddrs(list);
    return chosen;
}

}  // namespace

std::size_t buildNeighbourSolicitation(const MacAddress& sourceMac, const net::IpAddr& sourceIp,
                                       const net::IpAddr& target,
                                       std::span<std::uint8_t, kNeighbourSolicitationMax> out) {
    const bool withOption = !sourceIp.isUnspecified();
    const std::size_t icmpLength = kNdMessage + (withOption ? 8 : 0);
    std::fill(out.begin(), out.end(), std::uint8_t{0});
    const auto& t = target.octets();
    // The solicited-node multicast group of the target (RFC 4291 2.7.1) and its MAC (RFC 2464 7).
    std::array<std::uint8_t, 16> group{0xff, 0x02, 0, 0,    0,    0,     0,     0,
                                       0,    0,    0, 0x01, 0xff, t[13], t[14], t[15]};
    std::uint8_t* frame = out.data();
    const std::uint8_t groupMac[6] = {0x33, 0x33, 0xff, t[13], t[14], t[15]};
    std::memcpy(frame, groupMac, 6);
    std::memcpy(frame + 6, sourceMac.data(), 6);
    frame[12] = kEthertypeIpv6 >> 8;
    frame[13] = kEthertypeIpv6 & 0xff;
    std::uint8_t* ip = frame + kEthernet;
    ip[0] = 0x60;
    ip[4] = static_cast<std::uint8_t>(icmpLength >> 8);
    ip[5] = static_cast<std::uint8_t>(icmpLength);
    ip[6] = kIcmpv6;
    ip[7] = kHopLimit;
    sourceIp.toWire(reinterpret_cast<std::byte*>(ip + 8));
    std::memcpy(ip + 24, group.data(), 16);
    std::uint8_t* icmp = ip + kIpv6Header;
    icmp[0] = kSolicitation;
    target.toWire(reinterpret_cast<std::byte*>(icmp + 8));
    if (withOption) {
        icmp[24] = kSourceLinkLayerOption;
        icmp[25] = 1;  // in units of 8 bytes
        std::memcpy(icmp + 26, sourceMac.data(), 6);
    }
    const std::uint16_t sum =
        icmpv6Checksum(ip + 8, ip + 24, std::span<const std::uint8_t>(icmp, icmpLength));
    icmp[2] = static_cast<std::uint8_t>(sum >> 8);
    icmp[3] = static_cast<std::uint8_t>(sum);
    return kEthernet + kIpv6Header + icmpLength;
}

std::optional<MacAddress> parseNeighbourAdvertisement(std::span<const std::uint8_t> frame,
                                                      const net::IpAddr& target) {
    if (frame.size() < kEthernet + kIpv6Header + kNdMessage || be16(frame.data() + 12) != kEthertypeIpv6) {
        return std::nullopt;
    }
    const std::uint8_t* ip = frame.data() + kEthernet;
    const std::size_t icmpLength = be16(ip + 4);
    if ((ip[0] >> 4) != 6 || ip[6] != kIcmpv6 || ip[7] != kHopLimit || icmpLength < kNdMessage ||
        kEthernet + kIpv6Header + icmpLength > frame.size()) {
        return std::nullopt;
    }
    const std::span<const std::uint8_t> icmp(ip + kIpv6Header, icmpLength);
    if (icmp[0] != kAdvertisement || icmp[1] != 0 || icmpv6Checksum(ip + 8, ip + 24, icmp) != 0) {
        return std::nullopt;
    }
    if (net::IpAddr::fromWire(reinterpret_cast<const std::byte*>(icmp.data() + 8)) != target)
        return std::nullopt;
    MacAddress mac{};
    std::memcpy(mac.data(), frame.data() + 6, mac.size());  // the frame's source, unless the option says
    for (std::size_t at = kNdMessage; at + 2 <= icmp.size();) {
        const std::size_t length = std::size_t{icmp[at + 1]} * 8;
        if (length == 0 || at + length > icmp.size()) return std::nullopt;  // RFC 4861 4.6: discard
        if (icmp[at] == kTargetLinkLayerOption && length == 8)
            std::memcpy(mac.data(), &icmp[at + 2], mac.size());
        at += length;
    }
    return mac;
}

os::Result<std::optional<MacAddress>> solicitNeighbour(const std::string& device, const net::IpAddr& target,
                                                       int tries) {
    using R = os::Result<std::optional<MacAddress>>;
    const unsigned ifindex = if_nametoindex(device.c_str());
    if (ifindex == 0) return R::fail("no such device");
    auto own = deviceMac(device);
    if (!own) return R::fail(own.error());
    auto fd = openLinkSocket(ifindex, kEthertypeIpv6);
    if (!fd) return R::fail(fd.error());
    std::array<std::uint8_t, kNeighbourSolicitationMax> request{};
    const std::size_t length =
        buildNeighbourSolicitation(own.value(), sourceAddressOf(device), target, std::span(request));
    return askOnLink(fd.value().get(), std::span<const std::uint8_t>(request.data(), length), tries,
                     [&target](std::span<const std::uint8_t> frame) {
                         return parseNeighbourAdvertisement(frame, target);
                     });
}

}  // namespace tcpcopy::inject
