// PathRtt: the replay path's round trip, and the retransmission timeouts that follow it.

#include "tcpcopy/session/path_rtt.h"

#include <gtest/gtest.h>

#include "conversation.h"

namespace tcpcopy::session::testing {
namespace {

TEST(PathRtt, FollowsRfc6298) {
    PathRtt rtt;
    EXPECT_EQ(rtt.rto(200ms), 200ms) << "unmeasured: the floor";
    rtt.sample(100ms);
    EXPECT_EQ(rtt.srtt(), 100ms);
    EXPECT_EQ(rtt.rttvar(), 50ms);
    EXPECT_EQ(rtt.rto(10ms), 300ms);  // SRTT + 4 RTTVAR
    rtt.sample(300ms);
    EXPECT_EQ(rtt.rttvar(), (3 * Time(50ms) + Time(200ms)) / 4);
    EXPECT_EQ(rtt.srtt(), (7 * Time(100ms) + Time(300ms)) / 8);
    EXPECT_EQ(rtt.rto(1s), 1s) << "never below the floor";
    for (int i = 0; i < 100; ++i) rtt.sample(100s);
    EXPECT_EQ(rtt.rto(200ms), PathRtt::kMaxRto);
}

TEST_P(EngineTest, RetransmissionTimeoutFollowsASlowPathInsteadOfResendingWhatIsLate) {
    // Every answer takes 600 ms: a fixed 200 ms timeout would resend every request before its
    // acknowledgement arrives. The first sessions measure the path; those after resend nothing.
    target.responseDelay = 600ms;
    Engine engine(httpConfig(), target);
    std::vector<CapturedClient> clients;
    clients.reserve(20);
    std::uint64_t retransmissionsAfterWarmup = 0;
    for (int i = 0; i < 20; ++i) {
        if (i == 5) retransmissionsAfterWarmup = engine.stats().retransmissions;
        clients.emplace_back("192.0.2.10", static_cast<std::uint16_t>(30000 + i), "192.0.2.1", 80);
        feed(engine, keepAlive(clients.back(), 2));
        target.advance(engine, 5s);
        ASSERT_EQ(engine.activeSessions(), 0u) << "session " << i;
    }
    EXPECT_EQ(engine.stats().retransmissions, retransmissionsAfterWarmup)
        << "resent after the path was measured";
    EXPECT_EQ(engine.stats().sessionsCompleted, 20u);
    EXPECT_GE(engine.stats().rttSamples, 20u);
    EXPECT_GE(engine.stats().rttSmoothedUs, 550'000u);
    EXPECT_LE(engine.stats().rttSmoothedUs, 700'000u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(target.receivedBy(static_cast<std::size_t>(i)), concatRequests(2));
    expectClean();
}

}  // namespace
}  // namespace tcpcopy::session::testing
