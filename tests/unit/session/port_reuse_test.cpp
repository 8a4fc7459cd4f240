// A client port the capture reuses: the new connection keeps its captured tuple and ISN, waits
// behind the replayed old one if that is still open, and gets through the target's TIME_WAIT the
// way the real client's did (RFC 6191 as Linux applies it, modelled by SimTarget). Remapping
// happens only where a tuple cannot be kept (-n copies).

#include <gtest/gtest.h>

#include <set>

#include "conversation.h"

namespace tcpcopy::session::testing {
namespace {

// One HTTP request with "Connection: close" as a short-lived client makes it: the server answers
// 300 bytes and closes first (so the target keeps TIME_WAIT), then the client closes.
std::vector<TcpSegment> closeShape(CapturedClient& c, int n) {
    return {c.syn(), c.handshakeAck(), c.data(request(n), 0), c.fin(300, /*serverFinSeen=*/true)};
}

class PortReuseTest : public EngineTest {
  protected:
    PortReuseTest() { target.closeAfterResponse = true; }

    // Index in target.sent of the SYN with sequence number `isn`.
    std::size_t synIndex(std::uint32_t isn) const {
        for (std::size_t i = 0; i < target.sent.size(); ++i) {
            const TcpSegment& s = target.sent[i].seg;
            if (s.has(tcpflag::kSyn) && s.seq.value() == isn) return i;
        }
        ADD_FAILURE() << "no SYN with ISN " << isn;
        return target.sent.size();
    }
};

INSTANTIATE_FAMILIES(PortReuseTest);

TEST_P(PortReuseTest, PortReusedAfterTheOldConnectionEndedKeepsItsTupleThroughTimeWait) {
    Engine engine(httpConfig(), target);
    CapturedClient first("192.0.2.21", 40011, "192.0.2.1", 80, 1000);
    CapturedClient second("192.0.2.21", 40011, "192.0.2.1", 80, 900000);
    feed(engine, closeShape(first, 0));
    target.advance(engine, 20ms);
    ASSERT_EQ(engine.activeSessions(), 0u) << "the first connection is over in the replay too";
    ASSERT_EQ(target.connectionCount(), 1u);
    ASSERT_TRUE(target.connections()[0]->timeWait()) << "the target closed first: TIME_WAIT there";

    feed(engine, closeShape(second, 1));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 2u);
    for (const auto* c : target.connections()) EXPECT_EQ(c->flow.client.port.value(), 40011);
    EXPECT_EQ(target.receivedBy(0), request(0));
    EXPECT_EQ(target.receivedBy(1), request(1));
    EXPECT_EQ(target.connections()[1]->clientIsn.value(), 900000u) << "the captured ISN is kept";
    EXPECT_EQ(target.timeWaitRejects, 0u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 2u);
    EXPECT_EQ(engine.stats().portReuses, 0u) << "nothing had to wait";
    EXPECT_EQ(engine.stats().portRemaps, 0u);
    expectClean();
}

TEST_P(PortReuseTest, PortReusedWhileTheOldSessionRunsWaitsForItAndKeepsTheTuple) {
    target.responseDelay = 30ms;  // the replayed first connection is still open when the port comes back
    Engine engine(httpConfig(), target);
    CapturedClient first("192.0.2.21", 40011, "192.0.2.1", 80, 1000);
    CapturedClient second("192.0.2.21", 40011, "192.0.2.1", 80, 900000);
    feed(engine, then(closeShape(first, 0), closeShape(second, 1)));
    EXPECT_EQ(engine.stats().portReuses, 1u);
    EXPECT_EQ(engine.waitingSessions(), 1u);
    endAndFinish(engine);

    ASSERT_EQ(target.connectionCount(), 2u);
    for (const auto* c : target.connections()) EXPECT_EQ(c->flow.client.port.value(), 40011);
    EXPECT_EQ(target.receivedBy(0), request(0));
    EXPECT_EQ(target.receivedBy(1), request(1));
    // Nothing of the first connection follows the second's SYN: it waited for the first to end.
    const std::size_t syn = synIndex(900000);
    for (std::size_t i = syn; i < target.sent.size(); ++i) {
        EXPECT_GE(target.sent[i].seg.seq.value(), 900000u) << "segment " << i << " of the first connection";
    }
    EXPECT_EQ(target.timeWaitRejects, 0u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 2u);
    EXPECT_EQ(engine.stats().sessionsShed, 0u);
    EXPECT_EQ(engine.stats().portRemaps, 0u);
    expectClean();
}

TEST_P(PortReuseTest, ThreeConnectionsOnOnePortQueueInCaptureOrder) {
    target.responseDelay = 30ms;
    Engine engine(httpConfig(), target);
    std::vector<CapturedClient> clients;
    for (std::uint32_t k = 0; k < 3; ++k)
        clients.emplace_back("192.0.2.21", 40011, "192.0.2.1", 80, 1000 + k * 500000);
    std::vector<TcpSegment> segs;
    for (int k = 0; k < 3; ++k) {
        auto s = closeShape(clients[static_cast<std::size_t>(k)], k);
        segs.insert(segs.end(), s.begin(), s.end());
    }
    feed(engine, segs);
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 3u);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(target.receivedBy(static_cast<std::size_t>(k)), request(k));
    EXPECT_LT(synIndex(1000), synIndex(501000));
    EXPECT_LT(synIndex(501000), synIndex(1001000));
    EXPECT_EQ(engine.stats().portReuses, 2u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 3u);
    expectClean();
}

TEST_P(PortReuseTest, LowerIsnOnATimeWaitTupleGetsInWithTheNextSynsNewerTimestamp) {
    Engine engine(httpConfig(), target);
    // The second connection's ISN is below where the first ended: only a newer timestamp lets the
    // target accept it (the real client's clock had moved on; ours moves on during the SYN's RTO).
    CapturedClient first("192.0.2.21", 40011, "192.0.2.1", 80, 5000000);
    CapturedClient second("192.0.2.21", 40011, "192.0.2.1", 80, 1000);
    feed(engine, closeShape(first, 0));
    ASSERT_EQ(engine.activeSessions(), 0u);
    feed(engine, closeShape(second, 1));
    EXPECT_EQ(target.timeWaitRejects, 1u) << "same millisecond, lower ISN: refused with an ACK";
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 2u);
    EXPECT_EQ(target.receivedBy(1), request(1));
    EXPECT_EQ(target.timeWaitRejects, 1u);
    EXPECT_GE(engine.stats().retransmissions, 1u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 2u);
    expectClean();
}

TEST_P(PortReuseTest, CopiesOfAReusedPortKeepTheirMappedTuples) {
    EngineConfig config = httpConfig();
    config.copies = 2;
    target.responseDelay = 30ms;
    Engine engine(config, target);
    CapturedClient first("192.0.2.21", 40011, "192.0.2.1", 80, 1000);
    CapturedClient second("192.0.2.21", 40011, "192.0.2.1", 80, 900000);
    feed(engine, then(closeShape(first, 0), closeShape(second, 1)));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 4u);
    std::set<std::uint16_t> ports;
    for (const auto* c : target.connections()) ports.insert(c->flow.client.port.value());
    EXPECT_EQ(ports.size(), 2u) << "each copy's incarnations share that copy's tuple";
    EXPECT_EQ(engine.stats().portRemaps, 0u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 4u);
    expectClean();
}

TEST_P(PortReuseTest, ACopyWhoseMappedPortIsTakenIsRemappedToAFreeOne) {
    EngineConfig config = httpConfig();
    config.copies = 2;
    target.closeAfterResponse = false;
    Engine engine(config, target);
    // Copy 1 of A maps to port 40000 + 4099, which copy 0 of B holds.
    CapturedClient b("192.0.2.22", 40000 + 4099, "192.0.2.1", 80, 2000);
    CapturedClient a("192.0.2.22", 40000, "192.0.2.1", 80, 1000);
    feed(engine, then(keepAlive(b, 2, false), keepAlive(a, 2, false)));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 4u);
    std::set<std::uint16_t> ports;
    for (const auto* c : target.connections()) {
        EXPECT_EQ(c->received, concatRequests(2));
        ports.insert(c->flow.client.port.value());
    }
    EXPECT_EQ(ports.size(), 4u);
    EXPECT_EQ(engine.stats().portRemaps, 1u);
    expectClean();
}

}  // namespace
}  // namespace tcpcopy::session::testing
