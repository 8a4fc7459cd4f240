#include "tcpcopy/tunnel/route_table.h"

#include <gtest/gtest.h>

namespace tcpcopy::tunnel {
namespace {

using namespace std::chrono_literals;

net::FlowKey flow(std::uint16_t clientPort) {
    return net::FlowKey{{net::Ipv4Addr::fromOctets(192, 0, 2, 1), net::Port(clientPort)},
                        {net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)}};
}

Buffer header(int tag) { return Buffer(40, static_cast<std::byte>(tag)); }

class RouteTableTest : public ::testing::Test {
  protected:
    RouteTableOptions options() {
        RouteTableOptions o;
        o.maxRoutes = 4;
        o.routeTtl = 10s;
        o.holdTime = 1000ms;
        o.maxHeld = 3;
        return o;
    }
    TimePoint now_{};  // the manual clock
};

TEST_F(RouteTableTest, RoutesResolveToTheirPeer) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.addRoute(flow(1000), 1, now_);
    table.addRoute(flow(1001), 2, now_);
    EXPECT_EQ(table.resolve(flow(1000), now_), 1u);
    EXPECT_EQ(table.resolve(flow(1001), now_), 2u);
    EXPECT_EQ(table.resolve(flow(1002), now_), std::nullopt);
}

TEST_F(RouteTableTest, WithExactlyOnePeerEverythingGoesToIt) {
    RouteTable table(options());
    EXPECT_EQ(table.resolve(flow(1), now_), std::nullopt);
    table.peerUp(9);
    EXPECT_EQ(table.resolve(flow(1), now_), 9u);
    table.peerUp(10);
    EXPECT_EQ(table.resolve(flow(1), now_), std::nullopt);
    table.peerDown(9);
    EXPECT_EQ(table.resolve(flow(1), now_), 10u);
}

TEST_F(RouteTableTest, RoutesAgeOutUnlessTrafficRefreshesThem) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.addRoute(flow(1), 1, now_);
    table.addRoute(flow(2), 1, now_);
    now_ += 6s;
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);  // refreshed at t=6
    now_ += 6s;                                   // t=12: flow(2) is 12 s old, flow(1) 6 s
    table.expire(now_);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);
    EXPECT_EQ(table.resolve(flow(2), now_), std::nullopt);
    EXPECT_EQ(table.counters().routesExpired, 1u);
    now_ += 10s;  // stale route found by resolve itself, before any expire()
    EXPECT_EQ(table.resolve(flow(1), now_), std::nullopt);
    EXPECT_EQ(table.counters().routesExpired, 2u);
}

TEST_F(RouteTableTest, FullTableEvictsTheLeastRecentlyUsed) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    for (std::uint16_t p = 1; p <= 4; ++p) {
        table.addRoute(flow(p), 1, now_);
        now_ += 1ms;
    }
    table.resolve(flow(1), now_);  // flow(2) is now the least recently used
    table.addRoute(flow(5), 2, now_);
    EXPECT_EQ(table.size(), 4u);
    EXPECT_EQ(table.counters().routesEvicted, 1u);
    EXPECT_EQ(table.resolve(flow(2), now_), std::nullopt);
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);
    EXPECT_EQ(table.resolve(flow(5), now_), 2u);
}

TEST_F(RouteTableTest, PeerDownTakesItsRoutesOnly) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.peerUp(3);
    table.addRoute(flow(1), 1, now_);
    table.addRoute(flow(2), 2, now_);
    table.peerDown(1);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.resolve(flow(1), now_), std::nullopt);
    EXPECT_EQ(table.resolve(flow(2), now_), 2u);
}

TEST_F(RouteTableTest, RemoveRouteOnlyByItsOwner) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.addRoute(flow(1), 1, now_);
    table.removeRoute(flow(1), 2);
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);
    table.removeRoute(flow(1), 1);
    EXPECT_EQ(table.resolve(flow(1), now_), std::nullopt);
    EXPECT_EQ(table.counters().routesRemoved, 1u);
}

TEST_F(RouteTableTest, HeldResponsesAreDeliveredInOrderWhenTheRouteArrives) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    EXPECT_TRUE(table.hold(flow(7), header(1), now_));
    now_ += 100ms;
    EXPECT_TRUE(table.hold(flow(7), header(2), now_));
    EXPECT_TRUE(table.hold(flow(8), header(3), now_));
    now_ += 500ms;
    std::vector<Buffer> delivered = table.addRoute(flow(7), 2, now_);
    ASSERT_EQ(delivered.size(), 2u);
    EXPECT_EQ(delivered[0], header(1));
    EXPECT_EQ(delivered[1], header(2));
    EXPECT_EQ(table.heldCount(), 1u);
    EXPECT_EQ(table.counters().heldDelivered, 2u);
    // The stale queue entries of flow(7) must not expire anything of a new hold for flow(7).
    EXPECT_TRUE(table.hold(flow(7), header(4), now_));
    now_ += 500ms;  // t=1100: the first two entries are past holdTime but were delivered
    table.expire(now_);
    EXPECT_EQ(table.counters().heldExpired, 1u);  // flow(8), held at t=100
    EXPECT_EQ(table.heldCount(), 1u);
}

TEST_F(RouteTableTest, HeldResponsesAreDroppedAfterHoldTime) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.hold(flow(7), header(1), now_);
    now_ += 999ms;
    table.expire(now_);
    EXPECT_EQ(table.heldCount(), 1u);
    now_ += 1ms;
    table.expire(now_);
    EXPECT_EQ(table.heldCount(), 0u);
    EXPECT_EQ(table.counters().heldExpired, 1u);
    EXPECT_TRUE(table.addRoute(flow(7), 1, now_).empty());
}

TEST_F(RouteTableTest, HoldingQueueIsBounded) {
    RouteTable table(options());
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(table.hold(flow(1), header(i), now_));
    EXPECT_FALSE(table.hold(flow(2), header(9), now_));
    EXPECT_EQ(table.counters().heldOverflow, 1u);
    EXPECT_EQ(table.heldCount(), 3u);
    now_ += 2s;  // a full queue makes room by expiring old entries first
    EXPECT_TRUE(table.hold(flow(2), header(9), now_));
    EXPECT_EQ(table.heldCount(), 1u);
    EXPECT_EQ(table.counters().heldExpired, 3u);
}

// Another connection of the same tcpcopy (-C, or its reconnect racing the old connection's
// close) may move a route; it is the same owner.
TEST_F(RouteTableTest, AnotherConnectionOfTheSameTcpcopyMovesARoute) {
    RouteTable table(options());
    table.peerUp(1, "198.18.3.1 tcpcopy pid 7");
    table.peerUp(2, "198.18.3.1 tcpcopy pid 7");
    table.addRoute(flow(1), 1, now_);
    table.addRoute(flow(1), 2, now_);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.resolve(flow(1), now_), 2u);
    EXPECT_EQ(table.counters().conflicts, 0u);
}

// A route one tcpcopy owns cannot be taken by another peer, which would then receive the target's
// responses (sequence numbers included) for a flow that is not its own.
TEST_F(RouteTableTest, AnotherPeerCannotTakeARouteOver) {
    RouteTable table(options());
    table.peerUp(1, "198.18.3.1 tcpcopy pid 7");
    table.peerUp(2, "198.18.3.9 intruder");
    table.peerUp(3);  // no owner name: a tcpcopy of its own
    ASSERT_TRUE(table.hold(flow(1), header(1), now_));
    EXPECT_EQ(table.addRoute(flow(1), 1, now_).size(), 1u);
    std::vector<Buffer> deliver;
    EXPECT_FALSE(table.addRoute(flow(1), 2, now_, deliver));
    EXPECT_FALSE(table.addRoute(flow(1), 3, now_, deliver));
    EXPECT_TRUE(deliver.empty());
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);
    EXPECT_EQ(table.counters().conflicts, 2u);
    EXPECT_EQ(table.counters().routesAdded, 1u);
    // The intruder cannot remove it either; once its owner is gone the flow is free again.
    table.removeRoute(flow(1), 2);
    EXPECT_EQ(table.resolve(flow(1), now_), 1u);
    table.peerDown(1);
    EXPECT_TRUE(table.addRoute(flow(1), 2, now_, deliver));
    EXPECT_EQ(table.resolve(flow(1), now_), 2u);
}

// A route whose TTL ran out belongs to nobody, even before expire() swept it.
TEST_F(RouteTableTest, AnExpiredRouteMayBeTakenByAnotherPeer) {
    RouteTable table(options());
    table.peerUp(1);
    table.peerUp(2);
    table.addRoute(flow(1), 1, now_);
    std::vector<Buffer> deliver;
    EXPECT_TRUE(table.addRoute(flow(1), 2, now_ + 10s, deliver));
    EXPECT_EQ(table.resolve(flow(1), now_ + 10s), 2u);
}

}  // namespace
}  // namespace tcpcopy::tunnel
