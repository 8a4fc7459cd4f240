#include "tcpcopy/inject/next_hop.h"

#include <gtest/gtest.h>

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

TEST(FindNeighbour, OnlyCompleteEntriesOnTheDevice) {
    constexpr const char* kArp =
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "198.18.1.2       0x1         0x2         02:00:00:00:01:02     *        to-target\n"
        "198.18.1.3       0x1         0x0         00:00:00:00:00:00     *        to-target\n"
        "198.18.2.1       0x1         0x2         02:00:00:00:02:01     *        to-assist\n";
    auto mac = findNeighbour(kArp, ip("198.18.1.2"), "to-target");
    ASSERT_TRUE(mac);
    EXPECT_EQ(formatMac(*mac), "02:00:00:00:01:02");
    EXPECT_FALSE(findNeighbour(kArp, ip("198.18.1.3"), "to-target"));  // incomplete
    EXPECT_FALSE(findNeighbour(kArp, ip("198.18.2.1"), "to-target"));  // another device
}

}  // namespace
}  // namespace tcpcopy::inject
