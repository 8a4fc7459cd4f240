// WaitingFlows: connections that cannot start yet, with their packets, bounded.

#include "tcpcopy/session/waiting_flows.h"

#include <gtest/gtest.h>

#include <string>

#include "sim_target.h"

namespace tcpcopy::session::testing {
namespace {

using Reason = WaitingFlows::Reason;

TEST(WaitingFlows, KeepsEachFlowsPacketsInOrderWithTheirPayload) {
    WaitingFlows waiting(10, 0);
    CapturedClient c("192.0.2.10", 40000, "192.0.2.1", 80);
    EXPECT_EQ(waiting.add(c.key(), c.syn(), Reason::BehindOldSession), WaitingFlows::AddResult::NewFlow);
    EXPECT_EQ(waiting.add(c.key(), c.data("hello", 0), Reason::ForSlot), WaitingFlows::AddResult::Added);
    EXPECT_FALSE(waiting.anyForSlot()) << "a flow waits for the reason it first had";
    EXPECT_GT(waiting.bytes(), 5u);
    EXPECT_FALSE(waiting.releaseNextForSlot());
    auto packets = waiting.releaseBehind(c.key());
    ASSERT_TRUE(packets);
    ASSERT_EQ(packets->size(), 2u);
    EXPECT_TRUE((*packets)[0].segment.has(net::tcpflag::kSyn));
    const net::Bytes payload = (*packets)[1].segment.payload;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(payload.data()), payload.size()), "hello");
    EXPECT_EQ(waiting.bytes(), 0u);
    EXPECT_TRUE(waiting.empty());
}

TEST(WaitingFlows, FlowsWaitingForASlotLeaveInArrivalOrder) {
    WaitingFlows waiting(10, 0);
    CapturedClient a("192.0.2.10", 40000, "192.0.2.1", 80);
    CapturedClient b("192.0.2.10", 40001, "192.0.2.1", 80);
    waiting.add(b.key(), b.syn(), Reason::ForSlot);
    waiting.add(a.key(), a.syn(), Reason::ForSlot);
    EXPECT_EQ(waiting.forSlot(), 2u);
    auto first = waiting.releaseNextForSlot();
    ASSERT_TRUE(first);
    EXPECT_EQ((*first)[0].segment.sport.value(), 40001);
    auto second = waiting.releaseNextForSlot();
    ASSERT_TRUE(second);
    EXPECT_EQ((*second)[0].segment.sport.value(), 40000);
    EXPECT_FALSE(waiting.anyForSlot());
}

TEST(WaitingFlows, BoundsFlowsAndBytesPerFlow) {
    WaitingFlows waiting(2, 100);
    CapturedClient a("192.0.2.10", 40000, "192.0.2.1", 80);
    CapturedClient b("192.0.2.10", 40001, "192.0.2.1", 80);
    CapturedClient c("192.0.2.10", 40002, "192.0.2.1", 80);
    waiting.add(a.key(), a.syn(), Reason::ForSlot);
    waiting.add(b.key(), b.syn(), Reason::ForSlot);
    EXPECT_EQ(waiting.add(c.key(), c.syn(), Reason::ForSlot), WaitingFlows::AddResult::Refused);
    EXPECT_EQ(waiting.add(a.key(), a.data(std::string(60, 'x'), 0), Reason::ForSlot),
              WaitingFlows::AddResult::Added);
    EXPECT_EQ(waiting.add(a.key(), a.data(std::string(60, 'y'), 0), Reason::ForSlot),
              WaitingFlows::AddResult::FlowDropped);
    EXPECT_FALSE(waiting.contains(a.key()));
    EXPECT_EQ(waiting.size(), 1u);
    auto left = waiting.releaseNextForSlot();
    ASSERT_TRUE(left);
    EXPECT_EQ((*left)[0].segment.sport.value(), 40001);
    EXPECT_EQ(waiting.bytes(), 0u);
}

}  // namespace
}  // namespace tcpcopy::session::testing
