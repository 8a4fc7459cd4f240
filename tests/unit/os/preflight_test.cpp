// The preflight's reading of the kernel's route table (--check).
#include "tcpcopy/os/preflight.h"

#include <gtest/gtest.h>

namespace tcpcopy::os {
namespace {

constexpr const char* kHeader =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

TEST(RouteTable, ParsesTheKernelsHexAddressesInHostOrder) {
    const std::string text = std::string(kHeader) +
                             "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                             "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
    const auto routes = parseRouteTable(text);
    ASSERT_EQ(routes.size(), 2u);
    EXPECT_EQ(routes[0].interface, "eth0");
    EXPECT_EQ(routes[0].destination, 0u);
    EXPECT_EQ(routes[0].mask, 0u);
    EXPECT_EQ(routes[1].destination, 0xC0A80100u);  // 192.168.1.0
    EXPECT_EQ(routes[1].mask, 0xFFFFFF00u);
}

// A line the kernel would never print (or a file that is not the route table) is skipped, not a
// reason to throw out of --check (std::stoul did, on a non-hex or too long field).
TEST(RouteTable, LinesThatDoNotParseAreSkippedNotThrown) {
    const std::string text = std::string(kHeader) +
                             "eth0\tZZZZZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
                             "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\tFFFFFFFFFFFFFFFFFFFF\n"
                             "eth0\t-1\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
                             "short line\n"
                             "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\n";
    std::vector<KernelRoute> routes;
    ASSERT_NO_THROW(routes = parseRouteTable(text));
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0].interface, "lo");
    EXPECT_EQ(routes[0].destination, 0x7F000000u);
    EXPECT_TRUE(parseRouteTable("").empty());
}

// /proc/net/ipv6_route as a namespace with a default route, a link route, local and multicast
// entries and the kernel's unreachable default prints it.
constexpr const char* kIpv6Routes =
    "fd000198001800010000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001 to-target\n"
    "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
    "fd000198001800020000000000000001 00000400 00000001 00000000 00000003 to-assist\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000198001800010000000000000009 00000400 00000003 00000000 00000003     eth0\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000003 00000000 00000001 to-target\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";

TEST(Route6Table, ParsesAddressesLengthsAndFlags) {
    const auto routes = parseRoute6Table(kIpv6Routes);
    ASSERT_EQ(routes.size(), 6u);
    EXPECT_EQ(routes[0].interface, "to-target");
    EXPECT_EQ(routes[0].destination.toString(), "fd00:198:18:1::/64");
    EXPECT_TRUE(routes[0].nextHop.isUnspecified());
    EXPECT_EQ(routes[0].metric, 256u);
    EXPECT_EQ(routes[1].destination.toString(), "2001:db8::/32");
    EXPECT_EQ(routes[1].nextHop.toString(), "fd00:198:18:2::1");
    EXPECT_EQ(routes[2].destination.prefixLength, 0);
    EXPECT_FALSE(routes[2].rejects());
    EXPECT_EQ(routes[3].destination.toString(), "::1/128");
    EXPECT_EQ(routes[4].destination.toString(), "ff00::/8");
    EXPECT_TRUE(routes[5].rejects());  // the kernel's "unreachable" default
    EXPECT_EQ(routes[5].interface, "lo");
}

TEST(Route6Table, LinesThatDoNotParseAreSkippedNotThrown) {
    const std::string text =
        "fd000198001800010000000000000000 81 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"  // length 129
        "fd00019800180001000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"  // 31 digits
        "zz000198001800010000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
        "00000000000000000000ffff00000000 60 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"  // IPv4-mapped
        "short line\n"
        "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 0000000g 00000001 00000000 00000001 eth0\n"
        "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000001 00000001 00000000 00000001 eth1\n";
    std::vector<KernelRoute6> routes;
    ASSERT_NO_THROW(routes = parseRoute6Table(text));
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0].interface, "eth1");
    EXPECT_TRUE(parseRoute6Table("").empty());
}

TEST(IfInet6, ParsesScopeAndFlags) {
    const auto addresses = parseIfInet6(
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
        "fd000198001800030000000000000002 04 40 00 80     eth0\n"
        "20010db8000000000000000000000005 05 40 00 40     eth1\n"  // tentative
        "20010db8000000000000000000000006 05 40 00 c8     eth1\n"  // DAD failed
        "not an address line\n");
    ASSERT_EQ(addresses.size(), 5u);
    EXPECT_EQ(addresses[0].address.toString(), "::1");
    EXPECT_FALSE(addresses[0].global());
    EXPECT_FALSE(addresses[1].global());
    EXPECT_EQ(addresses[2].address.toString(), "fd00:198:18:3::2");
    EXPECT_EQ(addresses[2].interface, "eth0");
    EXPECT_EQ(addresses[2].prefixLength, 64);
    EXPECT_TRUE(addresses[2].global() && addresses[2].usable());
    EXPECT_TRUE(addresses[3].global());
    EXPECT_FALSE(addresses[3].usable());
    EXPECT_FALSE(addresses[4].usable());
}

// Loopback in both families: no packet leaves, the kernel names the source, the interface is lo.
TEST(RouteTo, LoopbackOfEitherFamily) {
    auto v4 = routeTo(*net::IpAddr::parse("127.0.0.1"));
    ASSERT_TRUE(v4) << v4.error();
    EXPECT_EQ(v4.value().source.toString(), "127.0.0.1");
    EXPECT_EQ(v4.value().interface, "lo");
    auto v6 = routeTo(*net::IpAddr::parse("::1"));
    ASSERT_TRUE(v6) << v6.error();
    EXPECT_EQ(v6.value().source.toString(), "::1");
    EXPECT_EQ(v6.value().interface, "lo");
    // Loopback goes over lo even where the main table has a default route elsewhere.
    auto other = routeTo(*net::IpAddr::parse("127.0.0.5"));
    ASSERT_TRUE(other) << other.error();
    EXPECT_EQ(other.value().interface, "lo");
}

}  // namespace
}  // namespace tcpcopy::os
