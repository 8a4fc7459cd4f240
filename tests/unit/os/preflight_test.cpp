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

}  // namespace
}  // namespace tcpcopy::os
