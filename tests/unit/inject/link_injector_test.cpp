#include "tcpcopy/inject/link_injector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "injector_test_support.h"

namespace tcpcopy::inject {
namespace {

using testing::buildSyn;
using testing::expectChildPassed;
using testing::runInPrivateNetns;

// Every frame leaving or entering lo, from their Ethernet header on.
int openFrameReceiver() {
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -1;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// The next frame sent out of lo from `source` (a MAC nobody else on lo uses; lo loops each frame
// back in as well, which is skipped), or empty after the timeout.
std::vector<std::byte> receiveFrom(int fd, const MacAddress& source) {
    for (int attempts = 0; attempts < 100; ++attempts) {
        std::vector<std::byte> frame(2048);
        sockaddr_ll from{};
        socklen_t fromLength = sizeof from;
        const ssize_t n =
            ::recvfrom(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
        if (n < 0) return {};
        if (from.sll_pkttype != PACKET_OUTGOING) continue;
        frame.resize(static_cast<std::size_t>(n));
        if (frame.size() > 14 && std::memcmp(frame.data() + 6, source.data(), 6) == 0) return frame;
    }
    return {};
}

std::vector<std::byte> frameOf(const MacAddress& to, const MacAddress& from, std::uint16_t ethertype,
                               const std::vector<std::byte>& packet) {
    std::vector<std::byte> frame(14 + packet.size());
    std::memcpy(frame.data(), to.data(), 6);
    std::memcpy(frame.data() + 6, from.data(), 6);
    frame[12] = static_cast<std::byte>(ethertype >> 8);
    frame[13] = static_cast<std::byte>(ethertype & 0xff);
    std::copy(packet.begin(), packet.end(), frame.begin() + 14);
    return frame;
}

// One batch of both families out of lo: each frame with its peer's MACs and its family's
// ethertype, the IPv4 header checksum recomputed, the IPv6 packet as given; a destination
// without a peer is refused and named.
TEST(LinkInjector, FramesEachFamilyWithItsEthertypeAndItsPeersMacs) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        const MacAddress source{2, 0, 0, 0, 0, 0x51};
        const MacAddress hop4{2, 0, 0, 0, 0, 0x52};
        const MacAddress hop6{2, 0, 0, 0, 0, 0x53};
        const net::IpAddr to4 = net::Ipv4Addr::fromOctets(198, 18, 1, 2);
        const net::IpAddr to6 = *net::IpAddr::parse("fd00:198:18:1::2");
        auto created = LinkInjector::create("lo", {{to4, source, hop4}, {to6, source, hop6}});
        if (!created) return "create failed: " + created.error();
        LinkInjector& link = *created.value();
        const int rx = openFrameReceiver();
        if (rx < 0) return "receiver socket failed";

        const auto v4 = buildSyn(40000, 80, 10, net::Ipv4Addr::fromOctets(192, 0, 2, 1), to4);
        auto v4ZeroChecksum = v4;
        v4ZeroChecksum[10] = v4ZeroChecksum[11] = std::byte{0};
        const auto v6 = buildSyn(40001, 80, 10, *net::IpAddr::parse("2001:db8::1"), to6);
        const auto stranger = buildSyn(40002, 80, 0, *net::IpAddr::parse("2001:db8::1"),
                                       *net::IpAddr::parse("fd00:198:18:1::9"));
        const std::vector<net::Bytes> batch = {net::Bytes(v6), net::Bytes(stranger),
                                               net::Bytes(v4ZeroChecksum)};
        if (link.sendBatch(batch) != 2) return "sent other than 2 of 3: " + link.lastError();
        if (link.counters().errors != 1 || link.lastError() != "no MAC address for fd00:198:18:1::9") {
            return "the stranger was not refused by name: " + link.lastError();
        }
        if (receiveFrom(rx, source) != frameOf(hop6, source, ETH_P_IPV6, v6)) return "the IPv6 frame differs";
        if (receiveFrom(rx, source) != frameOf(hop4, source, ETH_P_IP, v4)) return "the IPv4 frame differs";
        ::close(rx);
        return {};
    }));
}

}  // namespace
}  // namespace tcpcopy::inject
