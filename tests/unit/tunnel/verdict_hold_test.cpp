#include "tcpcopy/tunnel/verdict_hold.h"

#include <gtest/gtest.h>

#include "tcpcopy/tunnel/route_table.h"

namespace tcpcopy::tunnel {
namespace {

using namespace std::chrono_literals;
using Ids = std::vector<std::uint32_t>;

net::FlowKey flow(std::uint16_t clientPort) {
    return net::FlowKey{{net::Ipv4Addr::fromOctets(192, 0, 2, 1), net::Port(clientPort)},
                        {net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)}};
}

TEST(VerdictHoldTest, ARouteReleasesItsFlowsPacketsInOrder) {
    VerdictHold hold(1000ms, 8);
    VerdictHold::TimePoint now{};
    ASSERT_TRUE(hold.hold(flow(1000), 7, now));
    ASSERT_TRUE(hold.hold(flow(1001), 8, now));
    ASSERT_TRUE(hold.hold(flow(1000), 9, now));
    EXPECT_EQ(hold.release(flow(1000)), (Ids{7, 9}));
    EXPECT_EQ(hold.size(), 1u);
    EXPECT_EQ(hold.release(flow(1000)), Ids{});
    // The released packets do not come back at expiry; the other flow's does.
    Ids expired;
    hold.expire(now + 1000ms, expired);
    EXPECT_EQ(expired, Ids{8});
    EXPECT_EQ(hold.size(), 0u);
}

TEST(VerdictHoldTest, PacketsExpireAfterTheHoldTimeOldestFirst) {
    VerdictHold hold(1000ms, 8);
    VerdictHold::TimePoint now{};
    hold.hold(flow(1000), 1, now);
    hold.hold(flow(1001), 2, now + 400ms);
    hold.hold(flow(1000), 3, now + 800ms);
    Ids expired;
    hold.expire(now + 999ms, expired);
    EXPECT_TRUE(expired.empty());
    hold.expire(now + 1400ms, expired);
    EXPECT_EQ(expired, (Ids{1, 2}));
    EXPECT_EQ(hold.release(flow(1000)), Ids{3});
}

TEST(VerdictHoldTest, AFlowHeldAgainAfterItsReleaseKeepsOnlyTheNewPacket) {
    VerdictHold hold(1000ms, 8);
    VerdictHold::TimePoint now{};
    hold.hold(flow(1000), 1, now);
    EXPECT_EQ(hold.release(flow(1000)), Ids{1});
    hold.hold(flow(1000), 2, now + 500ms);
    Ids expired;
    hold.expire(now + 1000ms, expired);  // the stale entry of packet 1 must not take packet 2
    EXPECT_TRUE(expired.empty());
    EXPECT_EQ(hold.size(), 1u);
    hold.expire(now + 1500ms, expired);
    EXPECT_EQ(expired, Ids{2});
}

TEST(VerdictHoldTest, RefusesBeyondItsBoundAndHandsEverythingBackAtShutdown) {
    VerdictHold hold(1000ms, 2);
    VerdictHold::TimePoint now{};
    EXPECT_TRUE(hold.hold(flow(1000), 1, now));
    EXPECT_TRUE(hold.hold(flow(1001), 2, now));
    EXPECT_FALSE(hold.hold(flow(1002), 3, now));
    Ids all;
    hold.takeAll(all);
    EXPECT_EQ(all, (Ids{1, 2}));
    EXPECT_EQ(hold.size(), 0u);
    EXPECT_TRUE(hold.hold(flow(1002), 3, now));
}

TEST(VerdictHoldTest, ResolveRoutedIgnoresTheSinglePeerFallback) {
    RouteTable table(RouteTableOptions{});
    VerdictHold::TimePoint now{};
    table.peerUp(1);
    EXPECT_EQ(table.resolve(flow(1000), now), 1u);  // the libpcap mode's fallback
    EXPECT_EQ(table.resolveRouted(flow(1000), now), std::nullopt);
    table.addRoute(flow(1000), 1, now);
    EXPECT_EQ(table.resolveRouted(flow(1000), now), 1u);
}

TEST(VerdictHoldTest, TheFallbackCoversOneTcpcopyOverSeveralConnections) {
    RouteTable table(RouteTableOptions{});
    VerdictHold::TimePoint now{};
    table.peerUp(1, "198.18.3.1 a");
    table.peerUp(2, "198.18.3.1 a");  // -C 2: the same tcpcopy
    EXPECT_EQ(table.resolve(flow(1000), now), 1u);
    table.peerUp(3, "198.18.3.1 b");  // another tcpcopy: whose the response is cannot be told
    EXPECT_EQ(table.resolve(flow(1000), now), std::nullopt);
    table.peerDown(3);
    table.peerUp(4);  // no owner: a tcpcopy of its own
    EXPECT_EQ(table.resolve(flow(1000), now), std::nullopt);
}

}  // namespace
}  // namespace tcpcopy::tunnel
