// The engine's memory accounting (-m): what its sessions buffer is counted, new sessions are
// shed while the total is over the limit, running ones go on, and the total returns to zero.

#include <gtest/gtest.h>

#include <string>

#include "sim_target.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {
namespace {

std::string bigRequest(int n, std::size_t pad) {
    return "POST /upload/" + std::to_string(n) + " HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(pad, 'p') +
           "\r\n\r\n";
}

class MemoryLimitTest : public ::testing::Test {
  protected:
    void feed(Engine& engine, const TcpSegment& seg) {
        engine.onCaptured(seg, target.now);
        target.run(engine);
    }
    // The stats gauge and the engine's own total always agree.
    static void expectConsistent(const Engine& engine) {
        EXPECT_EQ(engine.stats().bytesBuffered, engine.bytesBuffered());
        EXPECT_GE(engine.stats().bytesBufferedPeak, engine.stats().bytesBuffered);
    }
    SimTarget target;
};

TEST_F(MemoryLimitTest, CountsTheClientStreamUntilTheTargetAcknowledgesIt) {
    target.responseDelay = 50ms;  // the SYN-ACK comes late: captured data waits in the engine
    Engine engine(httpConfig(), target);
    EXPECT_EQ(engine.bytesBuffered(), 0u);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, client.syn());
    const std::size_t overhead = engine.bytesBuffered();
    EXPECT_GT(overhead, 0u) << "a session costs something even before it has data";
    feed(engine, client.handshakeAck());
    feed(engine, client.data(bigRequest(0, 60000), 0));
    EXPECT_GE(engine.bytesBuffered(), overhead + 60000);
    expectConsistent(engine);

    // Established, sent, acknowledged: the large buffer is given back.
    target.advance(engine, 300ms);
    ASSERT_EQ(target.connectionCount(), 1u);
    EXPECT_EQ(target.receivedBy(0), bigRequest(0, 60000));
    EXPECT_LT(engine.bytesBuffered(), overhead + 16 * 1024);
    EXPECT_GE(engine.stats().bytesBufferedPeak, overhead + 60000);

    feed(engine, client.fin(300));
    engine.onInputEnd(target.now);
    ASSERT_TRUE(target.finish(engine));
    EXPECT_EQ(engine.bytesBuffered(), 0u) << "closed sessions leave nothing counted";
    expectConsistent(engine);
}

TEST_F(MemoryLimitTest, CountsOutOfOrderSegmentsUntilTheGapFills) {
    target.synAck = false;  // nothing leaves the engine's buffers
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, client.syn());
    feed(engine, client.handshakeAck());
    const TcpSegment first = client.data(std::string(1000, 'a'), 0);
    const TcpSegment second = client.data(std::string(8000, 'b'), 0);
    const std::size_t before = engine.bytesBuffered();
    feed(engine, second);  // arrives first: held out of order
    EXPECT_EQ(engine.stats().captureOutOfOrder, 1u);
    EXPECT_GE(engine.bytesBuffered(), before + 8000);
    feed(engine, first);
    EXPECT_GE(engine.bytesBuffered(), before + 9000);
    expectConsistent(engine);
}

TEST_F(MemoryLimitTest, ShedsNewSessionsWhileOverTheLimitAndResumesBelowIt) {
    target.synAck = false;  // a silent target: session A keeps its data until it gives up
    EngineConfig config = httpConfig();
    config.memoryLimitBytes = 32 * 1024;
    Engine engine(config, target);

    CapturedClient a("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, a.syn());
    feed(engine, a.handshakeAck());
    feed(engine, a.data(bigRequest(0, 40000), 0));
    ASSERT_GE(engine.bytesBuffered(), config.memoryLimitBytes);

    CapturedClient b("192.0.2.11", 40001, "192.0.2.1", 80);
    feed(engine, b.syn());
    feed(engine, b.handshakeAck());
    feed(engine, b.data(bigRequest(1, 10), 0));
    EXPECT_EQ(engine.stats().sessionsCaptured, 2u);
    EXPECT_EQ(engine.stats().sessionsStarted, 1u);
    EXPECT_EQ(engine.stats().sessionsShed, 1u);
    EXPECT_EQ(engine.activeSessions(), 1u);
    for (const SentSegment& s : target.sent) {
        EXPECT_EQ(s.seg.sport.value(), 40000) << "nothing of the shed session reaches the target";
    }

    // A gets no SYN-ACK and fails; its memory is released. What remains counted is the two flows
    // the engine remembers so as to drop the rest of their packets (B shed, A failed).
    target.advance(engine, 40s, 50ms);
    EXPECT_EQ(engine.stats().sessionsFailed, 1u);
    EXPECT_EQ(engine.activeSessions(), 0u);
    EXPECT_EQ(engine.stats().flowsRemembered, 2u);
    EXPECT_EQ(engine.bytesBuffered(), 2 * Engine::kRememberedFlowBytes);

    // The shed connection is not picked up mid-stream later on.
    feed(engine, b.data(bigRequest(2, 10), 300));
    EXPECT_EQ(engine.stats().sessionsStarted, 1u);

    // Below the limit again: a new connection is replayed in full.
    target.synAck = true;
    CapturedClient c("192.0.2.12", 40002, "192.0.2.1", 80);
    feed(engine, c.syn());
    feed(engine, c.handshakeAck());
    feed(engine, c.data(bigRequest(3, 10), 0));
    feed(engine, c.fin(300));
    engine.onInputEnd(target.now);
    ASSERT_TRUE(target.finish(engine));
    EXPECT_EQ(engine.stats().sessionsStarted, 2u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 1u);
    EXPECT_EQ(engine.stats().sessionsShed, 1u);
    EXPECT_EQ(engine.bytesBuffered(), 0u);
    expectConsistent(engine);
}

TEST_F(MemoryLimitTest, ShedsEachCopyThatWouldStartOverTheLimit) {
    target.synAck = false;
    EngineConfig config = httpConfig();
    config.copies = 2;
    config.memoryLimitBytes = 20 * 1024;
    Engine engine(config, target);
    CapturedClient a("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, a.syn());
    EXPECT_EQ(engine.stats().sessionsStarted, 2u);
    feed(engine, a.handshakeAck());
    feed(engine, a.data(bigRequest(0, 12000), 0));  // both copies buffer it: over the limit
    ASSERT_GE(engine.bytesBuffered(), config.memoryLimitBytes);
    CapturedClient b("192.0.2.11", 40001, "192.0.2.1", 80);
    feed(engine, b.syn());
    EXPECT_EQ(engine.stats().sessionsStarted, 2u);
    EXPECT_EQ(engine.stats().sessionsShed, 2u) << "one per copy";
}

TEST_F(MemoryLimitTest, WithoutALimitNothingIsShed) {
    target.synAck = false;
    Engine engine(httpConfig(), target);
    for (int i = 0; i < 20; ++i) {
        CapturedClient c("192.0.2.10", static_cast<std::uint16_t>(41000 + i), "192.0.2.1", 80);
        feed(engine, c.syn());
        feed(engine, c.handshakeAck());
        feed(engine, c.data(bigRequest(i, 40000), 0));
    }
    EXPECT_EQ(engine.stats().sessionsStarted, 20u);
    EXPECT_EQ(engine.stats().sessionsShed, 0u);
    EXPECT_GE(engine.bytesBuffered(), 20u * 40000u);
    expectConsistent(engine);
}

TEST_F(MemoryLimitTest, AbortAllResetsAndCountsOpenSessions) {
    target.closeAfterResponse = false;
    Engine engine(httpConfig(), target);
    CapturedClient c("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, c.syn());
    feed(engine, c.handshakeAck());
    feed(engine, c.data(bigRequest(0, 10), 0));
    ASSERT_EQ(engine.stats().sessionsEstablished, 1u);
    engine.abortAll(target.now);
    target.run(engine);
    EXPECT_EQ(engine.stats().sessionsAborted, 1u);
    EXPECT_EQ(engine.stats().resetsSent, 1u);
    EXPECT_EQ(engine.activeSessions(), 0u);
    // The aborted flow is remembered (its later packets are not a new session); nothing else.
    EXPECT_EQ(engine.bytesBuffered(), engine.stats().flowsRemembered * Engine::kRememberedFlowBytes);
    ASSERT_EQ(target.connectionCount(), 1u);
    EXPECT_TRUE(target.connections()[0]->reset);
    EXPECT_TRUE(target.routes.empty());
}

}  // namespace
}  // namespace tcpcopy::session::testing
