// Resource bounds of the engine: the session count (maxSessions) and the bytes one session may
// buffer (maxSessionBytes); work beyond them is shed and counted, never queued without limit.
#include <gtest/gtest.h>

#include <string>

#include "recorder.h"

namespace tcpcopy::session {
namespace {

using namespace testing;

TEST(EngineBounds, SessionsBeyondMaxSessionsAreShedAndCounted) {
    EngineConfig c = config();
    c.maxSessions = 2;
    Recorder out;
    Engine engine(c, out);
    for (std::uint16_t port = 40000; port < 40005; ++port) {
        engine.onCaptured(clientSegment(port, 1000, tcpflag::kSyn), 1s);
    }
    EXPECT_EQ(engine.activeSessions(), 2u);
    EXPECT_EQ(engine.stats().sessionsShed, 3u);
    EXPECT_EQ(out.routes.size(), 2u);
    // The shed connections' later packets are dropped, not picked up mid-stream.
    engine.onCaptured(clientSegment(40004, 1001, tcpflag::kAck | tcpflag::kPsh, "GET / HTTP/1.1\r\n\r\n"),
                      1100ms);
    EXPECT_EQ(engine.activeSessions(), 2u);
}

TEST(EngineBounds, SessionOverItsByteCapIsResetAndCounted) {
    EngineConfig c = config();
    c.maxSessionBytes = 4096;
    Recorder out;
    Engine engine(c, out);
    engine.onCaptured(clientSegment(40000, 1000, tcpflag::kSyn), 1s);
    engine.onResponse(synAckClosedWindow(40000, 1000), 1010ms);
    ASSERT_EQ(engine.stats().sessionsEstablished, 1u);
    const std::string chunk(1000, 'x');
    std::uint32_t seq = 1001;
    for (int i = 0; i < 4; ++i, seq += 1000) {
        engine.onCaptured(clientSegment(40000, seq, tcpflag::kAck, chunk), 1020ms);
    }
    EXPECT_EQ(engine.stats().sessionsOverBuffer, 0u);  // 4000 bytes: at the cap, not over it
    engine.onCaptured(clientSegment(40000, seq, tcpflag::kAck, chunk), 1030ms);
    EXPECT_EQ(engine.stats().sessionsOverBuffer, 1u);
    EXPECT_EQ(engine.stats().sessionsFailed, 1u);
    EXPECT_EQ(engine.activeSessions(), 0u);
    EXPECT_TRUE(out.routes.empty());
    ASSERT_FALSE(out.sent.empty());
    EXPECT_TRUE(out.sent.back().has(tcpflag::kRst));
}

TEST(EngineBounds, OutOfOrderBacklogCountsTowardTheCap) {
    EngineConfig c = config();
    c.maxSessionBytes = 4096;
    Recorder out;
    Engine engine(c, out);
    engine.onCaptured(clientSegment(40000, 1000, tcpflag::kSyn), 1s);
    engine.onResponse(synAckClosedWindow(40000, 1000), 1010ms);
    const std::string chunk(1000, 'y');
    // A hole at the start of the stream: everything after it waits out of order.
    for (std::uint32_t i = 1; i <= 6 && engine.activeSessions() > 0; ++i) {
        engine.onCaptured(clientSegment(40000, 1001 + i * 1000, tcpflag::kAck, chunk), 1020ms);
    }
    EXPECT_EQ(engine.stats().sessionsOverBuffer, 1u);
    EXPECT_EQ(engine.activeSessions(), 0u);
}

TEST(EngineBounds, NoCapMeansNoLimit) {
    EngineConfig c = config();
    c.maxSessionBytes = 0;
    Recorder out;
    Engine engine(c, out);
    engine.onCaptured(clientSegment(40000, 1000, tcpflag::kSyn), 1s);
    engine.onResponse(synAckClosedWindow(40000, 1000), 1010ms);
    const std::string chunk(60000, 'z');
    std::uint32_t seq = 1001;
    for (int i = 0; i < 5; ++i, seq += 60000)
        engine.onCaptured(clientSegment(40000, seq, tcpflag::kAck, chunk), 1020ms);
    EXPECT_EQ(engine.stats().sessionsOverBuffer, 0u);
    EXPECT_EQ(engine.activeSessions(), 1u);
}

TEST(EngineBounds, RememberedFlowsAreBoundedAndTheForgottenCounted) {
    // -r 1: nearly every connection is sampled out and remembered so its packets are dropped.
    EngineConfig c = config();
    c.samplePercent = 1;
    c.maxSessions = 100;
    Recorder out;
    Engine engine(c, out);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        engine.onCaptured(clientSegment(static_cast<std::uint16_t>(20000 + i), 1000, tcpflag::kSyn), 1s);
    }
    EXPECT_LE(engine.stats().flowsRemembered, 100u);
    EXPECT_GE(engine.stats().flowsForgotten, 1000u - 100u - engine.stats().sessionsStarted);
    EXPECT_GE(engine.bytesBuffered(), engine.stats().flowsRemembered * Engine::kRememberedFlowBytes)
        << "-m counts the flows the engine remembers";
}

TEST(EngineBounds, ConnectionsWaitingForASlotAreBoundedAndCounted) {
    EngineConfig c = config();
    c.maxActiveSessions = 1;
    c.maxSessions = 10;
    Recorder out;
    Engine engine(c, out);
    const std::string request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for (std::uint16_t port = 30000; port < 30100; ++port) {
        engine.onCaptured(clientSegment(port, 1000, tcpflag::kSyn), 1s);
        engine.onCaptured(clientSegment(port, 1001, tcpflag::kAck | tcpflag::kPsh, request), 1s);
    }
    EXPECT_EQ(engine.activeSessions(), 1u);
    EXPECT_LE(engine.waitingSessions(), 10u);
    EXPECT_EQ(engine.stats().sessionsShed, 100u - 1u - engine.waitingSessions());
    // -m counts the waiting connections' packets.
    EXPECT_GE(engine.bytesBuffered(), engine.waitingSessions() * request.size());
}

TEST(EngineBounds, AWaitingConnectionOverItsByteCapIsDroppedAndCounted) {
    EngineConfig c = config();
    c.maxActiveSessions = 1;
    c.maxSessionBytes = 2000;
    Recorder out;
    Engine engine(c, out);
    engine.onCaptured(clientSegment(30000, 1000, tcpflag::kSyn), 1s);
    engine.onCaptured(clientSegment(30001, 1000, tcpflag::kSyn), 1s);  // waits for the slot
    ASSERT_EQ(engine.waitingSessions(), 1u);
    const std::string chunk(1000, 'x');
    std::uint32_t seq = 1001;
    for (int i = 0; i < 3; ++i, seq += 1000) {
        engine.onCaptured(clientSegment(30001, seq, tcpflag::kAck, chunk), 1s);
    }
    EXPECT_EQ(engine.waitingSessions(), 0u);
    EXPECT_EQ(engine.stats().sessionsShed, 1u);
    // Its later packets are dropped, not started as a new mid-stream session.
    engine.onCaptured(clientSegment(30001, seq, tcpflag::kAck, chunk), 1s);
    EXPECT_EQ(engine.waitingSessions(), 0u);
    EXPECT_EQ(engine.stats().sessionsStarted, 1u);
}

}  // namespace
}  // namespace tcpcopy::session
