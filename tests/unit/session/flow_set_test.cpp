// FlowSet: remembered flows, expired in O(expired) and bounded.

#include "tcpcopy/session/flow_set.h"

#include <gtest/gtest.h>

namespace tcpcopy::session {
namespace {

using std::chrono::seconds;

net::FlowKey flow(std::uint16_t port) {
    return net::FlowKey{{net::Ipv4Addr::fromOctets(192, 0, 2, 1), net::Port(port)},
                        {net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)}};
}

TEST(FlowSet, ForgetsFlowsQuietForTheTtlButNotRefreshedOnes) {
    FlowSet set(seconds(10), 100);
    set.touch(flow(1), seconds(0));
    set.touch(flow(2), seconds(1));
    set.touch(flow(3), seconds(2));
    EXPECT_TRUE(set.refresh(flow(1), seconds(9)));
    set.expire(seconds(11));
    EXPECT_TRUE(set.contains(flow(1))) << "refreshed at 9 s";
    EXPECT_FALSE(set.contains(flow(2)));
    EXPECT_TRUE(set.contains(flow(3)));
    set.expire(seconds(20));
    EXPECT_FALSE(set.contains(flow(1)));
    EXPECT_FALSE(set.contains(flow(3)));
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.evicted(), 0u);
}

TEST(FlowSet, WhenFullForgetsTheLeastRecentlySeenAndCountsIt) {
    FlowSet set(seconds(100), 3);
    set.touch(flow(1), seconds(0));
    set.touch(flow(2), seconds(1));
    set.touch(flow(3), seconds(2));
    set.refresh(flow(1), seconds(3));
    set.touch(flow(4), seconds(4));
    EXPECT_EQ(set.size(), 3u);
    EXPECT_TRUE(set.contains(flow(1)));
    EXPECT_FALSE(set.contains(flow(2))) << "seen least recently";
    EXPECT_EQ(set.evicted(), 1u);
}

TEST(FlowSet, ZeroCapacityKeepsNothing) {
    FlowSet set(seconds(1), 0);
    EXPECT_FALSE(set.touch(flow(1), seconds(0)));
    EXPECT_EQ(set.size(), 0u);
}

TEST(FlowSet, StaysBoundedUnderChurn) {
    FlowSet set(seconds(1000), 1000);  // nothing expires: the bound alone holds it
    for (std::uint32_t i = 0; i < 100000; ++i) {
        set.touch(flow(static_cast<std::uint16_t>(i % 3000)), seconds(i / 100));
        if (i % 50 == 0) set.expire(seconds(i / 100));
        ASSERT_LE(set.size(), 1000u);
    }
    EXPECT_GT(set.evicted(), 0u);
}

}  // namespace
}  // namespace tcpcopy::session
