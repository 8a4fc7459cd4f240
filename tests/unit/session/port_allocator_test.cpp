// PortAllocator: the replay ports of one client address in remapping mode.

#include "tcpcopy/session/port_allocator.h"

#include <gtest/gtest.h>

#include <set>

namespace tcpcopy::session {
namespace {

TEST(PortAllocator, HoldAndReleaseTrackEachPortOnce) {
    PortAllocator ports;
    EXPECT_TRUE(ports.hold(40000));
    EXPECT_FALSE(ports.hold(40000));
    EXPECT_TRUE(ports.held(40000));
    EXPECT_EQ(ports.heldCount(), 1u);
    EXPECT_TRUE(ports.release(40000));
    EXPECT_FALSE(ports.release(40000));
    EXPECT_EQ(ports.heldCount(), 0u);
    EXPECT_TRUE(ports.hold(80));  // a captured port below the floor can be held
}

TEST(PortAllocator, AllocatesRoundRobinSoAReleasedPortIsChosenLast) {
    PortAllocator ports;
    const auto a = ports.allocate();
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, PortAllocator::kFloor);
    ports.release(*a);
    // The port just released is not handed out again until every other free port has been.
    std::set<std::uint16_t> seen;
    for (std::uint32_t i = 0; i < 65536 - PortAllocator::kFloor - 1; ++i) {
        const auto p = ports.allocate();
        ASSERT_TRUE(p);
        EXPECT_NE(*p, *a) << "after " << i << " allocations";
        EXPECT_GE(*p, PortAllocator::kFloor);
        seen.insert(*p);
    }
    EXPECT_EQ(seen.size(), 65536 - PortAllocator::kFloor - 1);
    EXPECT_EQ(ports.allocate(), a) << "the last free port";
    EXPECT_FALSE(ports.allocate()) << "every port above the floor is held";
}

TEST(PortAllocator, SkipsHeldPortsAndFullWordsAndWraps) {
    PortAllocator ports;
    for (std::uint32_t p = PortAllocator::kFloor; p < 20000; ++p) ports.hold(static_cast<std::uint16_t>(p));
    ports.hold(20001);
    EXPECT_EQ(ports.allocate(), 20000);
    EXPECT_EQ(ports.allocate(), 20002);
    for (std::uint32_t p = 20003; p <= 65535; ++p) ports.hold(static_cast<std::uint16_t>(p));
    ports.release(5000);
    EXPECT_EQ(ports.allocate(), 5000) << "wraps to the floor";
    EXPECT_FALSE(ports.allocate());
}

}  // namespace
}  // namespace tcpcopy::session
