// The engine scales with work, not with what is open: a tick visits only sessions whose timer is
// due, so idle open sessions cost nothing between their deadlines (EngineStats::timerWakeups
// counts the visits). The per-packet cost at 1k-100k open sessions is measured by
// bench/engine_bench.cpp.

#include <gtest/gtest.h>

#include "conversation.h"

namespace tcpcopy::session::testing {
namespace {

TEST_P(EngineTest, IdleOpenSessionsCostNoTimerWorkUntilTheirDeadline) {
    constexpr int kSessions = 10000;
    Engine engine(httpConfig(), target);
    std::vector<CapturedClient> clients;
    clients.reserve(kSessions);
    for (int i = 0; i < kSessions; ++i) {
        clients.emplace_back("192.0.2.10", static_cast<std::uint16_t>(10000 + i), "192.0.2.1", 80);
        CapturedClient& c = clients.back();
        engine.onCaptured(c.syn(), target.now);
        engine.onCaptured(c.handshakeAck(), target.now);
        engine.onCaptured(c.data(request(i), 0), target.now);
    }
    target.run(engine);
    ASSERT_EQ(engine.activeSessions(), static_cast<std::size_t>(kSessions));
    ASSERT_EQ(engine.stats().requestsSent, static_cast<std::uint64_t>(kSessions));
    const Time idleSince = target.now;

    // Ten seconds of 5 ms ticks over 10,000 open, idle sessions: not one session visited.
    const std::uint64_t before = engine.stats().timerWakeups;
    target.advance(engine, 10s);
    EXPECT_EQ(engine.stats().timerWakeups, before);
    EXPECT_EQ(engine.activeSessions(), static_cast<std::size_t>(kSessions));

    // At the session timeout each one is visited once, and ends.
    target.advance(engine, engine.config().sessionTimeout - (target.now - idleSince) + 10ms);
    EXPECT_EQ(engine.stats().timerWakeups, before + kSessions);
    EXPECT_EQ(engine.stats().sessionsTimedOut, static_cast<std::uint64_t>(kSessions));
    EXPECT_EQ(engine.activeSessions(), 0u);
}

TEST_P(EngineTest, ABusySessionIsVisitedOnlyForItsOwnTimers) {
    target.synAck = false;  // one session retransmits its SYN; 999 others are idle
    Engine engine(httpConfig(), target);
    CapturedClient silent("192.0.2.10", 9999, "192.0.2.1", 80);
    engine.onCaptured(silent.syn(), target.now);
    target.run(engine);  // the target ignores it
    target.synAck = true;
    std::vector<CapturedClient> clients;
    clients.reserve(999);
    for (int i = 0; i < 999; ++i) {
        clients.emplace_back("192.0.2.11", static_cast<std::uint16_t>(10000 + i), "192.0.2.1", 80);
        engine.onCaptured(clients.back().syn(), target.now);
        target.run(engine);
    }
    target.synAck = false;
    target.advance(engine, 30s);
    // The silent session: its SYN retries and its failure; nobody else was visited.
    EXPECT_EQ(engine.stats().sessionsNoSynAck, 1u);
    EXPECT_EQ(engine.stats().timerWakeups, engine.config().maxSynRetries + 1u);
}

}  // namespace
}  // namespace tcpcopy::session::testing
