#include "tcpcopy/inject/next_hop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tcpcopy::inject {
namespace {

net::Ipv4Addr ip(const char* text) { return *net::Ipv4Addr::parse(text); }

TEST(ParseMac, TakesColonsOrDashesInEitherCase) {
    auto mac = parseMac("00:1A:2b:3C:4d:5E");
    ASSERT_TRUE(mac);
    EXPECT_EQ(formatMac(*mac), "00:1a:2b:3c:4d:5e");
    EXPECT_EQ(parseMac("00-1a-2b-3c-4d-5e"), mac);
    EXPECT_FALSE(parseMac("00:1a:2b:3c:4d"));
    EXPECT_FALSE(parseMac("00:1a:2b:3c:4d:5g"));
    EXPECT_FALSE(parseMac("001a:2b:3c:4d:5e:"));
}

// /proc/net/route as Linux prints it on a little-endian machine.
constexpr const char* kRoutes =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "eth1\t000012C6\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

TEST(NextHopFor, TheGatewayOfTheLongestPrefixOnTheDeviceOrTheTargetItself) {
    EXPECT_EQ(nextHopFor(ip("192.168.1.7"), "eth0", kRoutes), ip("192.168.1.7"));  // on the link
    EXPECT_EQ(nextHopFor(ip("10.9.8.7"), "eth0", kRoutes), ip("192.168.1.1"));     // default route
    EXPECT_EQ(nextHopFor(ip("198.18.1.2"), "eth1", kRoutes), ip("198.18.1.2"));
    EXPECT_EQ(nextHopFor(ip("10.9.8.7"), "eth2", kRoutes), ip("10.9.8.7"));  // no route on eth2
}

// /proc/net/ipv6_route as Linux prints it: destination, prefix length, source, its length, next
// hop, metric, refcount, use, flags (RTF_UP 1, RTF_GATEWAY 2, RTF_REJECT 0x200), device.
constexpr const char* kRoutes6 =
    "fd000198001800010000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1\n"
    "fd000198001800010000000000000002 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001     eth1\n"
    "fd000198000000000000000000000000 30 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth1\n"
    "fd000198000000000000000000000000 30 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000009 00000200 00000001 00000000 00000003     eth1\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000007 00000400 00000001 00000000 00000003     eth0\n"
    "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000400 00000001 00000000 00000201     eth1\n"
    "not a route line\n";

TEST(NextHopForIpv6, TheNextHopOfTheLongestPrefixOnTheDeviceOrTheTargetItself) {
    const auto v6 = [](const char* text) { return *net::IpAddr::parse(text); };
    EXPECT_EQ(nextHopForIpv6(v6("fd00:198:18:1::7"), "eth1", kRoutes6),
              v6("fd00:198:18:1::7"));  // on the link
    // A /48 through two gateways: the lower metric's.
    EXPECT_EQ(nextHopForIpv6(v6("fd00:198:0:9::7"), "eth1", kRoutes6), v6("fe80::9"));
    EXPECT_EQ(nextHopForIpv6(v6("2001:db8::5"), "eth0", kRoutes6), v6("fe80::7"));  // the default route
    // A reject route, no route on the device, no table at all: the target itself.
    EXPECT_EQ(nextHopForIpv6(v6("2001:db8::5"), "eth1", kRoutes6), v6("2001:db8::5"));
    EXPECT_EQ(nextHopForIpv6(v6("2001:db8::5"), "eth2", kRoutes6), v6("2001:db8::5"));
    EXPECT_EQ(nextHopForIpv6(v6("2001:db8::5"), "eth0", ""), v6("2001:db8::5"));
}

// Netlink messages as the kernel sends them in an RTM_GETNEIGH dump, built with libmnl.
class NeighbourMessages {
  public:
    // The address's own family and length unless given (a mismatch makes a malformed entry).
    NeighbourMessages& entry(const char* address, int ifindex, std::uint16_t state,
                             std::optional<MacAddress> lladdr, std::uint8_t family = 0,
                             std::uint16_t type = RTM_NEWNEIGH, std::size_t addressLength = 0) {
        const net::IpAddr parsed = *net::IpAddr::parse(address);
        if (family == 0) family = parsed.isV4() ? AF_INET : AF_INET6;
        if (addressLength == 0) addressLength = parsed.isV4() ? 4 : 16;
        nlmsghdr* header = put();
        header->nlmsg_type = type;
        header->nlmsg_flags = NLM_F_MULTI;
        auto* neighbour = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
        neighbour->ndm_family = family;
        neighbour->ndm_ifindex = ifindex;
        neighbour->ndm_state = state;
        std::array<std::byte, 16> destination{};
        if (parsed.isV4()) {
            const std::uint32_t v4 = htonl(parsed.v4().value());
            std::memcpy(destination.data(), &v4, 4);
        } else {
            parsed.toWire(destination.data());
        }
        mnl_attr_put(header, NDA_DST, addressLength, destination.data());
        if (lladdr) mnl_attr_put(header, NDA_LLADDR, lladdr->size(), lladdr->data());
        mnl_attr_put_u32(header, NDA_PROBES, 0);  // an attribute we do not read
        return commit(header);
    }
    NeighbourMessages& done() {
        nlmsghdr* header = put();
        header->nlmsg_type = NLMSG_DONE;
        header->nlmsg_flags = NLM_F_MULTI;
        *static_cast<std::int32_t*>(mnl_nlmsg_put_extra_header(header, sizeof(std::int32_t))) = 0;
        return commit(header);
    }
    NeighbourMessages& error(int code) {
        nlmsghdr* header = put();
        header->nlmsg_type = NLMSG_ERROR;
        auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
        error->error = -code;
        return commit(header);
    }
    std::span<const std::byte> bytes() const { return std::as_bytes(std::span(buffer_)).first(used_); }

  private:
    static constexpr std::uint32_t kSeq = 7;
    static constexpr std::uint32_t kPortid = 4242;
    nlmsghdr* put() {
        auto* header = mnl_nlmsg_put_header(reinterpret_cast<std::byte*>(buffer_.data()) + used_);
        header->nlmsg_seq = kSeq;
        header->nlmsg_pid = kPortid;
        return header;
    }
    NeighbourMessages& commit(const nlmsghdr* header) {
        used_ += MNL_ALIGN(header->nlmsg_len);
        return *this;
    }
    std::array<std::uint32_t, 1024> buffer_{};
    std::size_t used_ = 0;

  public:
    static NeighbourScan scan(std::span<const std::byte> datagram, const char* address, unsigned ifindex) {
        NeighbourScan result;
        scanNeighbourDatagram(datagram, kSeq, kPortid, *net::IpAddr::parse(address), ifindex, result);
        return result;
    }
};

constexpr MacAddress kMac{0x02, 0x00, 0x00, 0x00, 0x01, 0x02};

TEST(ParseNeighbourMessage, ReadsAddressDeviceStateAndLinkLayerAddress) {
    NeighbourMessages messages;
    messages.entry("198.18.1.2", 5, NUD_REACHABLE, kMac);
    auto neighbour = parseNeighbourMessage(messages.bytes());
    ASSERT_TRUE(neighbour);
    EXPECT_EQ(neighbour->address, ip("198.18.1.2"));
    EXPECT_EQ(neighbour->ifindex, 5u);
    EXPECT_EQ(neighbour->state, NUD_REACHABLE);
    EXPECT_EQ(neighbour->lladdr, kMac);
    EXPECT_TRUE(neighbour->usable());
}

TEST(ParseNeighbourMessage, OnlyResolvedStatesWithAnAddressAreUsable) {
    for (std::uint16_t state : {NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_PERMANENT, NUD_NOARP}) {
        NeighbourMessages messages;
        messages.entry("198.18.1.2", 5, state, kMac);
        EXPECT_TRUE(parseNeighbourMessage(messages.bytes())->usable()) << "state " << state;
    }
    for (std::uint16_t state : {NUD_INCOMPLETE, NUD_FAILED, NUD_NONE}) {
        NeighbourMessages messages;
        messages.entry("198.18.1.2", 5, state, kMac);
        EXPECT_FALSE(parseNeighbourMessage(messages.bytes())->usable()) << "state " << state;
    }
    NeighbourMessages noLladdr;
    noLladdr.entry("198.18.1.2", 5, NUD_REACHABLE, std::nullopt);
    auto neighbour = parseNeighbourMessage(noLladdr.bytes());
    ASSERT_TRUE(neighbour);
    EXPECT_FALSE(neighbour->lladdr);
    EXPECT_FALSE(neighbour->usable());
}

TEST(ParseNeighbourMessage, ReadsAnIpv6Entry) {
    NeighbourMessages messages;
    messages.entry("fd00:198:18:1::2", 5, NUD_STALE, kMac);
    auto neighbour = parseNeighbourMessage(messages.bytes());
    ASSERT_TRUE(neighbour);
    EXPECT_EQ(neighbour->address, *net::IpAddr::parse("fd00:198:18:1::2"));
    EXPECT_EQ(neighbour->ifindex, 5u);
    EXPECT_EQ(neighbour->lladdr, kMac);
    EXPECT_TRUE(neighbour->usable());
}

TEST(ParseNeighbourMessage, RejectsOtherFamiliesTypesAndMalformedMessages) {
    NeighbourMessages ipv6With4Bytes, ipv4With16Bytes, bridge, deleted, shortDestination, good;
    ipv6With4Bytes.entry("198.18.1.2", 5, NUD_REACHABLE, kMac, AF_INET6);
    ipv4With16Bytes.entry("fd00::2", 5, NUD_REACHABLE, kMac, AF_INET);
    bridge.entry("198.18.1.2", 5, NUD_REACHABLE, kMac, AF_BRIDGE);
    deleted.entry("198.18.1.2", 5, NUD_REACHABLE, kMac, AF_INET, RTM_DELNEIGH);
    shortDestination.entry("198.18.1.2", 5, NUD_REACHABLE, kMac, AF_INET, RTM_NEWNEIGH, 2);
    good.entry("198.18.1.2", 5, NUD_REACHABLE, kMac);
    EXPECT_FALSE(parseNeighbourMessage(ipv6With4Bytes.bytes()));
    EXPECT_FALSE(parseNeighbourMessage(ipv4With16Bytes.bytes()));
    EXPECT_FALSE(parseNeighbourMessage(bridge.bytes()));
    EXPECT_FALSE(parseNeighbourMessage(deleted.bytes()));
    EXPECT_FALSE(parseNeighbourMessage(shortDestination.bytes()));
    // Every truncation of a good message: shorter than its nlmsg_len, never read past the span.
    const auto bytes = good.bytes();
    for (std::size_t size = 0; size < bytes.size(); ++size) {
        EXPECT_FALSE(parseNeighbourMessage(bytes.first(size))) << size << " bytes";
    }
    // An attribute whose length runs past the message.
    std::vector<std::byte> overrun(bytes.begin(), bytes.end());
    const std::size_t firstAttribute = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg));
    overrun[firstAttribute] = std::byte{0xf0};
    EXPECT_FALSE(parseNeighbourMessage(overrun));
}

TEST(ScanNeighbourDatagram, FindsTheUsableEntryForTheAddressOnTheDevice) {
    NeighbourMessages messages;
    messages
        .entry("198.18.1.2", 4, NUD_REACHABLE, MacAddress{2, 0, 0, 0, 9, 9})  // another device
        .entry("198.18.1.3", 5, NUD_REACHABLE, MacAddress{2, 0, 0, 0, 1, 3})  // another address
        .entry("198.18.1.2", 5, NUD_INCOMPLETE, std::nullopt)                 // being resolved
        .entry("198.18.1.2", 5, NUD_STALE, kMac);
    auto scan = NeighbourMessages::scan(messages.bytes(), "198.18.1.2", 5);
    EXPECT_EQ(scan.mac, kMac);
    EXPECT_FALSE(scan.done);  // no NLMSG_DONE yet: more datagrams follow
    EXPECT_TRUE(scan.error.empty());
    EXPECT_FALSE(NeighbourMessages::scan(messages.bytes(), "198.18.1.9", 5).mac);
}

TEST(ScanNeighbourDatagram, MatchesIpv6EntriesByTheWholeAddress) {
    NeighbourMessages messages;
    messages
        .entry("fd00:198:18:1::2", 4, NUD_REACHABLE, MacAddress{2, 0, 0, 0, 9, 9})   // another device
        .entry("fd00:198:18:2::2", 5, NUD_REACHABLE, MacAddress{2, 0, 0, 0, 1, 3})   // same last 32 bits
        .entry("::ffff:198.18.1.2", 5, NUD_REACHABLE, MacAddress{2, 0, 0, 0, 1, 4})  // IPv4 (mapped)
        .entry("fd00:198:18:1::2", 5, NUD_PERMANENT, kMac)
        .done();
    auto scan = NeighbourMessages::scan(messages.bytes(), "fd00:198:18:1::2", 5);
    EXPECT_TRUE(scan.done);
    EXPECT_EQ(scan.mac, kMac);
    EXPECT_EQ(NeighbourMessages::scan(messages.bytes(), "198.18.1.2", 5).mac, (MacAddress{2, 0, 0, 0, 1, 4}));
}

TEST(NeighbourDumpRequest, AsksForTheWholeTableOfOneFamily) {
    for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
        const std::vector<std::byte> request = neighbourDumpRequest(family, 42);
        ASSERT_EQ(request.size(), NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)));
        nlmsghdr header{};
        std::memcpy(&header, request.data(), sizeof header);
        EXPECT_EQ(header.nlmsg_len, request.size());
        EXPECT_EQ(header.nlmsg_type, RTM_GETNEIGH);
        EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
        EXPECT_EQ(header.nlmsg_seq, 42u);
        ndmsg body{};
        std::memcpy(&body, request.data() + NLMSG_HDRLEN, sizeof body);
        EXPECT_EQ(body.ndm_family, family);
        EXPECT_EQ(body.ndm_ifindex, 0);  // every device: the answer is filtered by DEV's index
        EXPECT_EQ(body.ndm_state, 0);
    }
}

TEST(ScanNeighbourDatagram, StopsAtDoneAndReportsAnErrorMessage) {
    NeighbourMessages end;
    end.entry("198.18.1.2", 5, NUD_PERMANENT, kMac).done();
    auto scan = NeighbourMessages::scan(end.bytes(), "198.18.1.2", 5);
    EXPECT_TRUE(scan.done);
    EXPECT_EQ(scan.mac, kMac);
    EXPECT_TRUE(scan.error.empty());

    NeighbourMessages refused;
    refused.error(EPERM);
    scan = NeighbourMessages::scan(refused.bytes(), "198.18.1.2", 5);
    EXPECT_TRUE(scan.done);
    EXPECT_EQ(scan.error, std::strerror(EPERM));

    NeighbourMessages good;
    good.entry("198.18.1.2", 5, NUD_PERMANENT, kMac);
    scan = NeighbourMessages::scan(good.bytes().first(good.bytes().size() - 4), "198.18.1.2", 5);
    EXPECT_FALSE(scan.mac);  // a datagram cut inside its message
}

// The live dump (needs no privilege): loopback has no neighbour entries for these addresses (it
// may have a NOARP one for ::1, which `ip neigh` shows only with `nud all`).
TEST(LookupNeighbour, AsksTheKernelAndNamesAMissingDevice) {
    auto none = lookupNeighbour("lo", ip("127.0.0.1"));
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none.value());
    auto none6 = lookupNeighbour("lo", *net::IpAddr::parse("fd00:198:18:ffff::99"));
    ASSERT_TRUE(none6) << none6.error();
    EXPECT_FALSE(none6.value());
    auto missing = lookupNeighbour("no-such-dev0", ip("198.18.1.2"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), "-o no-such-dev0: no such device");
}

}  // namespace
}  // namespace tcpcopy::inject
