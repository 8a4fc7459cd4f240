// Session engine tests: captured conversations in, a simulated target TCP on a manual clock.

#include "tcpcopy/session/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "conversation.h"

namespace tcpcopy::session::testing {
namespace {

INSTANTIATE_FAMILIES(EngineTest);

TEST_P(EngineTest, ReplaysKeepAliveRequestsInTargetSequenceSpace) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 3));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 1u);
    EXPECT_EQ(target.receivedBy(0), concatRequests(3));
    const auto* conn = target.connections()[0];
    EXPECT_EQ(conn->requests, 3u);
    EXPECT_TRUE(conn->clientFin);
    EXPECT_EQ(engine.stats().sessionsCompleted, 1u);
    EXPECT_EQ(engine.stats().requestsSent, 3u);
    EXPECT_EQ(engine.stats().resetsSent, 0u);
    // Rewritten toward the target: destination from the rule, client address kept.
    EXPECT_EQ(conn->flow.server.toString(), testEndpointText("198.18.1.2", 8080));
    EXPECT_EQ(conn->flow.client.toString(), testEndpointText("192.0.2.10", 40000));
    expectClean();
}

TEST_P(EngineTest, WaitsForTheResponseBeforeSendingTheNextRequest) {
    target.responseDelay = 50ms;  // every target segment, the SYN-ACK too
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 3));
    // The whole capture is in. SYN-ACK at 50 ms, then request 0; its response at 100 ms.
    target.advance(engine, 70ms);
    EXPECT_EQ(target.receivedBy(0), request(0));
    target.advance(engine, 50ms);
    EXPECT_EQ(target.receivedBy(0), request(0) + request(1));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(3));
    EXPECT_EQ(engine.stats().gateTimeouts, 0u);
    expectClean();
}

TEST_P(EngineTest, NoWaitSendsEveryRequestAtOnce) {
    target.responseDelay = 50ms;
    EngineConfig config = httpConfig();
    config.waitForResponse = false;
    Engine engine(config, target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 3));
    target.advance(engine, 70ms);
    EXPECT_EQ(target.receivedBy(0), concatRequests(3));
    endAndFinish(engine);
    expectClean();
}

TEST_P(EngineTest, ShorterResponsesThanCapturedStillReleaseTheNextRequest) {
    target.responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
        auto end = pending.find("\r\n\r\n");
        if (end == std::string::npos) return {0, 0};
        return {120, end + 4};  // the capture had 300
    };
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 4));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(4));
    // Released by silence after a response, not by the long gate timeout.
    EXPECT_EQ(engine.stats().gateTimeouts, 0u);
    EXPECT_LT(target.now, Time(std::chrono::seconds(1000)) + 2s);
    expectClean();
}

TEST_P(EngineTest, SilentTargetReleasesRequestsAfterGateTimeout) {
    target.responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
        auto end = pending.find("\r\n\r\n");
        if (end == std::string::npos) return {0, 0};
        return {0, end + 4};  // consumes, never answers
    };
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 2));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(2));
    EXPECT_GE(engine.stats().gateTimeouts, 1u);
}

TEST_P(EngineTest, SessionCapturedMidStreamGetsAFabricatedHandshake) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.11", 40001, "192.0.2.1", 80);
    auto segs = keepAlive(client, 4);
    // The capture starts with the client's pure ACK after response 0 arrived: no SYN seen.
    std::vector<TcpSegment> tail;
    TcpSegment ack = segs[2];  // data 0 ... use its header as a pure ack carrying ack of response 0
    ack.payload = {};
    ack.payloadLength = 0;
    ack.seq = segs[3].seq;
    ack.ack = segs[3].ack;
    ack.flags = tcpflag::kAck;
    tail.push_back(ack);
    tail.insert(tail.end(), segs.begin() + 3, segs.end());
    feed(engine, tail);
    endAndFinish(engine);
    EXPECT_EQ(engine.stats().sessionsMidstream, 1u);
    EXPECT_EQ(target.receivedBy(0), request(1) + request(2) + request(3));
    expectClean();
}

TEST_P(EngineTest, MidStreamSessionStartsAtTheNextRequestBoundary) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.11", 40001, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck()};
    const std::string r0 = request(0, 2000);
    segs.push_back(client.data(r0.substr(0, 1000), 0));
    segs.push_back(client.data(r0.substr(1000), 0));
    segs.push_back(client.data(request(1), 300));
    segs.push_back(client.data(request(2), 600));
    // The capture begins inside request 0.
    std::vector<TcpSegment> tail(segs.begin() + 3, segs.end());
    feed(engine, tail);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), request(1) + request(2));
    expectClean();
}

TEST_P(EngineTest, OnlyCompleteSessionsSkipsMidStreamCaptures) {
    EngineConfig config = httpConfig();
    config.onlyCompleteSessions = true;
    Engine engine(config, target);
    CapturedClient client("192.0.2.11", 40001, "192.0.2.1", 80);
    auto segs = keepAlive(client, 3);
    feed(engine, std::vector<TcpSegment>(segs.begin() + 2, segs.end()));
    endAndFinish(engine);
    EXPECT_EQ(target.connectionCount(), 0u);
    EXPECT_EQ(engine.stats().sessionsSkippedMidstream, 1u);
}

TEST_P(EngineTest, CaptureRetransmissionsDuplicatesAndOverlapsAreSentOnce) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.12", 40002, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.syn(), client.handshakeAck()};
    const std::string r0 = request(0, 100);
    TcpSegment a = client.data(r0.substr(0, 40), 0);
    TcpSegment b = client.data(r0.substr(40), 0);
    segs.push_back(a);
    segs.push_back(a);  // duplicate
    // An overlapping retransmission: bytes 20.. of the request in one segment.
    TcpSegment overlap = b;
    static const std::string tailBytes = r0.substr(20);
    overlap.seq = a.seq + 20;
    overlap.payload = net::Bytes(reinterpret_cast<const std::byte*>(tailBytes.data()), tailBytes.size());
    overlap.payloadLength = static_cast<std::uint32_t>(tailBytes.size());
    segs.push_back(overlap);
    segs.push_back(b);
    segs.push_back(client.fin(300));
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), r0);
    EXPECT_GE(engine.stats().captureRetransmissions, 3u);
    expectClean();
}

TEST_P(EngineTest, OutOfOrderCaptureIsReassembled) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.13", 40003, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck()};
    const std::string r0 = request(0, 3000);
    TcpSegment a = client.data(r0.substr(0, 1000), 0);
    TcpSegment b = client.data(r0.substr(1000, 1000), 0);
    TcpSegment c = client.data(r0.substr(2000), 0);
    segs.push_back(a);
    segs.push_back(c);
    segs.push_back(b);
    segs.push_back(client.fin(300));
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), r0);
    EXPECT_EQ(engine.stats().captureOutOfOrder, 1u);
    expectClean();
}

TEST_P(EngineTest, LiveCaptureHoleEndsTheSessionInsteadOfHangingIt) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.13", 40003, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck()};
    const std::string r0 = request(0, 3000);
    segs.push_back(client.data(r0.substr(0, 1000), 0));
    client.data(r0.substr(1000, 1000), 0);  // lost by the capture
    segs.push_back(client.data(r0.substr(2000), 0));
    feed(engine, segs);  // live: the input never ends
    target.advance(engine, 5s, 10ms);
    EXPECT_EQ(engine.activeSessions(), 1u);
    target.advance(engine, 2s, 10ms);
    EXPECT_EQ(engine.activeSessions(), 0u);
    EXPECT_EQ(engine.stats().captureGapsSkipped, 1u);
    EXPECT_EQ(target.receivedBy(0), r0.substr(0, 1000));
    EXPECT_TRUE(target.connections()[0]->reset);
}

TEST_P(EngineTest, ResendsSegmentWhenTargetAckStalls) {
    target.dropDataSegments = 1;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.14", 40004, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 2));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(2));
    EXPECT_GE(engine.stats().retransmissions, 1u);
    expectClean();
}

TEST_P(EngineTest, LostResponseHeadersAreRecoveredByTheTargetsRetransmission) {
    // Intercept loses the SYN-ACK: our SYN is retransmitted and the target answers again.
    target.dropResponseIndexes = {0};
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.14", 40004, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 2));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(2));
    expectClean();
}

TEST_P(EngineTest, SegmentsLargerThanTheMssAreSplit) {
    target.mss = 1000;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.15", 40005, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck()};
    const std::string body = "POST /up HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b');
    segs.push_back(client.data(body, 0));  // a GSO super-packet
    segs.push_back(client.fin(0));
    target.responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
        return pending.size() >= 20000 ? std::pair<std::size_t, std::size_t>{0, pending.size()}
                                       : std::pair<std::size_t, std::size_t>{0, 0};
    };
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), body);
    for (const SentSegment& s : target.sent) EXPECT_LE(s.payload.size(), 1000u - 12u);
    EXPECT_GT(engine.stats().resegmented, 0u);
    expectClean();
}

TEST_P(EngineTest, RespectsTheTargetsWindow) {
    target.window = 2;  // scaled by 7: 256 bytes
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.15", 40005, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck()};
    const std::string body = std::string(5000, 'w') + "\r\n\r\n";
    segs.push_back(client.data(body, 0));
    segs.push_back(client.fin(300));
    feed(engine, segs);
    std::size_t maxFlight = 0;
    for (const SentSegment& s : target.sent) maxFlight = std::max(maxFlight, s.payload.size());
    EXPECT_LE(maxFlight, 256u);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), body);
}

TEST_P(EngineTest, TimestampsEchoTheTargetsTsvalAndNeverGoBackwards) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.16", 40006, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 3));
    target.advance(engine, 100ms);
    endAndFinish(engine);
    bool sawEcho = false;
    for (const SentSegment& s : target.sent) {
        if (s.seg.has(tcpflag::kSyn)) continue;
        ASSERT_TRUE(s.seg.options.timestamps.has_value());
        if (s.seg.options.timestamps->echo >= 1000000u) sawEcho = true;  // target's ms clock
    }
    EXPECT_TRUE(sawEcho);
    expectClean();  // the sim checks monotonic TSval
}

TEST_P(EngineTest, NoTimestampsWhenTheTargetDeclinesThem) {
    target.timestamps = false;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.16", 40006, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 2));
    endAndFinish(engine);
    for (const SentSegment& s : target.sent) {
        if (!s.seg.has(tcpflag::kSyn)) {
            EXPECT_FALSE(s.seg.options.timestamps.has_value());
        }
    }
    EXPECT_EQ(target.receivedBy(0), concatRequests(2));
}

TEST_P(EngineTest, TargetClosingFirstIsAcknowledgedAndTheSessionCompletes) {
    target.closeAfterResponse = true;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.17", 40007, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck(), client.data(request(0), 0)};
    segs.push_back(client.fin(300, /*serverFinSeen=*/true));
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(engine.stats().sessionsCompleted, 1u);
    EXPECT_EQ(engine.stats().resetsSent, 0u);
    expectClean();
}

TEST_P(EngineTest, ClientResetInTheCaptureIsReplayed) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.18", 40008, "192.0.2.1", 80);
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck(), client.data(request(0), 0)};
    segs.push_back(client.rst());
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_TRUE(target.connections()[0]->reset);
    expectClean();
}

TEST_P(EngineTest, RestOfAConnectionTheTargetResetIsNotReplayedAsANewSession) {
    target.resetAfterRequests = 1;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.29", 40019, "192.0.2.1", 80);
    auto segs = keepAlive(client, 3);
    // The first request goes out and is answered with a reset; then the capture goes on.
    feed(engine, std::vector<TcpSegment>(segs.begin(), segs.begin() + 3));
    target.advance(engine, 10ms);
    feed(engine, std::vector<TcpSegment>(segs.begin() + 3, segs.end()));
    target.advance(engine, 10ms);
    EXPECT_EQ(target.connectionCount(), 1u);
    EXPECT_EQ(engine.stats().sessionsResetByTarget, 1u);
    // A new connection on the same client port is replayed again.
    target.resetAfterRequests = 0;
    CapturedClient again("192.0.2.29", 40019, "192.0.2.1", 80, 777777);
    feed(engine, keepAlive(again, 2));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 2u);
    EXPECT_EQ(target.receivedBy(1), concatRequests(2));
    EXPECT_EQ(engine.stats().sessionsStarted, 2u);
    EXPECT_EQ(engine.stats().sessionsMidstream, 0u);
}

TEST_P(EngineTest, SessionLeftOpenByTheCaptureIsResetAtTheEnd) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.19", 40009, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 2, /*close=*/false));
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), concatRequests(2));
    EXPECT_TRUE(target.connections()[0]->reset);
    EXPECT_EQ(engine.stats().sessionsEndedByReplay, 1u);
    expectClean();
}

TEST_P(EngineTest, IdleEstablishedSessionIsResetAfterTheKeepaliveTimeout) {
    EngineConfig config = httpConfig();
    config.keepaliveTimeout = 5s;
    Engine engine(config, target);
    CapturedClient client("192.0.2.26", 40016, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 1, /*close=*/false));  // the capture goes on (live): no input end
    target.advance(engine, 4s, 10ms);
    EXPECT_EQ(engine.activeSessions(), 1u);
    target.advance(engine, 2s, 10ms);
    EXPECT_EQ(engine.activeSessions(), 0u);
    EXPECT_EQ(engine.stats().sessionsTimedOut, 1u);
    EXPECT_TRUE(target.connections()[0]->reset);
}

TEST_P(EngineTest, SessionWithoutProgressIsResetAfterTheSessionTimeout) {
    EngineConfig config = httpConfig();
    config.sessionTimeout = 2s;
    Engine engine(config, target);
    target.dropDataSegments = 1000;  // the target never takes a byte
    CapturedClient client("192.0.2.27", 40017, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 1, /*close=*/false));
    target.advance(engine, 3s, 10ms);
    EXPECT_EQ(engine.activeSessions(), 0u);
    EXPECT_EQ(engine.stats().sessionsTimedOut, 1u);
    EXPECT_GE(engine.stats().retransmissions, 2u);
}

TEST_P(EngineTest, FirstRetransmissionWaitsTheConfiguredRtt) {
    EngineConfig config = httpConfig();
    config.initialRto = 50ms;
    Engine engine(config, target);
    target.dropDataSegments = 1;
    CapturedClient client("192.0.2.28", 40018, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 1));
    target.advance(engine, 40ms, 5ms);
    EXPECT_EQ(engine.stats().retransmissions, 0u);
    target.advance(engine, 20ms, 5ms);
    EXPECT_EQ(engine.stats().retransmissions, 1u);
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), request(0));
}

TEST_P(EngineTest, SilentTargetFailsTheSessionWithNoSynAck) {
    target.synAck = false;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.20", 40010, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 1));
    endAndFinish(engine);
    EXPECT_EQ(engine.stats().sessionsNoSynAck, 1u);
    EXPECT_EQ(engine.stats().sessionsFailed, 1u);
    EXPECT_TRUE(target.routes.empty());
}

TEST_P(EngineTest, CopiesGetDistinctPortsAndEachReceivesEveryRequest) {
    EngineConfig config = httpConfig();
    config.copies = 3;
    Engine engine(config, target);
    // Two captured connections whose ports a naive shift would make collide.
    CapturedClient a("192.0.2.22", 40000, "192.0.2.1", 80, 1000);
    CapturedClient b("192.0.2.22", 40000 + 4099, "192.0.2.1", 80, 2000);
    feed(engine, then(keepAlive(a, 2, false), keepAlive(b, 2, false)));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 6u);
    std::set<std::uint16_t> ports;
    for (const auto* c : target.connections()) {
        EXPECT_EQ(c->received, concatRequests(2));
        ports.insert(c->flow.client.port.value());
    }
    EXPECT_EQ(ports.size(), 6u);
    expectClean();
}

TEST_P(EngineTest, ObserverSeesEachCopyStartAndEndWithItsCapturedFlow) {
    EngineConfig config = httpConfig();
    config.copies = 2;
    Engine engine(config, target);
    CapturedClient a("192.0.2.23", 41000, "192.0.2.1", 80);
    feed(engine, keepAlive(a, 1, false));
    ASSERT_EQ(target.observed.size(), 2u);
    std::set<unsigned> copies;
    for (const auto& [replay, start] : target.observed) {
        EXPECT_EQ(start.first.client.port.value(), 41000);
        EXPECT_EQ(replay.server, config.rules[0].target);
        copies.insert(start.second);
    }
    EXPECT_EQ(copies, (std::set<unsigned>{0, 1}));
    endAndFinish(engine);
    EXPECT_TRUE(target.observed.empty());
    EXPECT_EQ(target.sessionsEnded, 2u);
    expectClean();
}

TEST_P(EngineTest, SamplingKeepsTheSameSessionsEveryRun) {
    auto run = [](unsigned percent) {
        SimTarget t;
        EngineConfig config = httpConfig();
        config.samplePercent = percent;
        Engine engine(config, t);
        std::vector<CapturedClient> clients;
        for (int i = 0; i < 200; ++i) clients.emplace_back("192.0.2.30", 20000 + i, "192.0.2.1", 80);
        for (auto& c : clients) {
            for (const TcpSegment& s : keepAlive(c, 1)) engine.onCaptured(s, t.now);
            t.run(engine);
        }
        engine.onInputEnd(t.now);
        t.finish(engine);
        std::set<std::uint16_t> ports;
        for (const auto* c : t.connections()) ports.insert(c->flow.client.port.value());
        return ports;
    };
    auto first = run(50);
    auto second = run(50);
    EXPECT_EQ(first, second);
    EXPECT_GT(first.size(), 70u);
    EXPECT_LT(first.size(), 130u);
    EXPECT_EQ(run(100).size(), 200u);
}

TEST_P(EngineTest, GradualRampStartsFewSessionsFirstThenAll) {
    EngineConfig config = httpConfig();
    config.rampDuration = 10s;
    Engine engine(config, target);
    // 400 connections over 20 s: 200 during the ramp, connection i replayed with probability
    // i/200 (the share grows linearly), so about 100 of them; then 200 after it, all replayed.
    std::size_t early = 0;
    for (int i = 0; i < 400; ++i) {
        CapturedClient c("192.0.2.31", static_cast<std::uint16_t>(20000 + i), "192.0.2.1", 80);
        feed(engine, keepAlive(c, 1));
        target.advance(engine, 50ms);
        if (i == 199) early = target.connectionCount();
    }
    endAndFinish(engine);
    EXPECT_GT(early, 60u);  // 99.5 expected, standard deviation about 5.8
    EXPECT_LT(early, 140u);
    EXPECT_EQ(target.connectionCount() - early, 200u);
    EXPECT_EQ(engine.stats().sessionsRampedOut, 400u - target.connectionCount());
}

TEST_P(EngineTest, MaxActiveMakesABurstWaitForFreeSlotsAndLosesNothing) {
    target.responseDelay = 20ms;
    EngineConfig config = httpConfig();
    config.maxActiveSessions = 2;
    Engine engine(config, target);
    std::vector<CapturedClient> clients;
    for (int i = 0; i < 6; ++i)
        clients.emplace_back("192.0.2.32", static_cast<std::uint16_t>(21000 + i), "192.0.2.1", 80);
    // All six connections arrive at once, interleaved packet by packet.
    std::vector<std::vector<TcpSegment>> convs;
    for (auto& c : clients) convs.push_back(keepAlive(c, 2));
    for (std::size_t k = 0; k < convs[0].size(); ++k) {
        for (auto& conv : convs) engine.onCaptured(conv[k], target.now);
    }
    EXPECT_EQ(engine.activeSessions(), 2u);
    EXPECT_EQ(engine.waitingSessions(), 4u);
    engine.onInputEnd(target.now);
    std::size_t most = 0;
    for (int step = 0; step < 2000 && !engine.finished(); ++step) {
        target.advance(engine, 5ms);
        most = std::max(most, engine.activeSessions());
    }
    ASSERT_TRUE(engine.finished());
    EXPECT_LE(most, 2u);
    ASSERT_EQ(target.connectionCount(), 6u);
    for (const auto* c : target.connections()) EXPECT_EQ(c->received, concatRequests(2));
    EXPECT_EQ(engine.stats().sessionsDeferred, 4u);
    EXPECT_EQ(engine.stats().sessionsCompleted, 6u);
    EXPECT_EQ(engine.bytesBuffered(), 0u);
    expectClean();
}

TEST_P(EngineTest, ClientPoolAddressesReplaceCapturedClients) {
    EngineConfig config = httpConfig();
    config.clientPool = {testAddr("203.0.113.5"), testAddr("203.0.113.6")};
    Engine engine(config, target);
    for (int i = 0; i < 10; ++i) {
        CapturedClient c(("192.0.2." + std::to_string(40 + i)).c_str(), 30000, "192.0.2.1", 80);
        feed(engine, keepAlive(c, 1));
    }
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 10u);
    for (const auto* c : target.connections()) {
        const std::string a = c->flow.client.addr.toString();
        EXPECT_TRUE(a == testAddrText("203.0.113.5") || a == testAddrText("203.0.113.6")) << a;
    }
    expectClean();
}

TEST_P(EngineTest, LoopbackClientsAreRewrittenToTheGivenAddress) {
    EngineConfig config = httpConfig();
    config.loopbackRewrite = testAddr("198.51.100.9");
    Engine engine(config, target);
    CapturedClient local("127.0.0.1", 40100, "127.0.0.1", 80);
    CapturedClient remote("192.0.2.50", 40101, "192.0.2.1", 80);
    feed(engine, keepAlive(local, 1));
    feed(engine, keepAlive(remote, 1));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 2u);
    std::set<std::string> clients;
    for (const auto* c : target.connections()) clients.insert(c->flow.client.addr.toString());
    EXPECT_EQ(clients, (std::set<std::string>{testAddrText("198.51.100.9"), testAddrText("192.0.2.50")}));
    expectClean();
}

TEST_P(EngineTest, ServerFirstProtocolWaitsForTheGreeting) {
    target.greeting = 40;
    target.responseDelay = 20ms;
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.23", 40013, "192.0.2.1", 80);
    // The client spoke only after the 40-byte greeting.
    std::vector<TcpSegment> segs{client.syn(), client.handshakeAck(), client.data(request(0), 40),
                                 client.fin(340)};
    feed(engine, segs);
    target.advance(engine, 10ms);
    EXPECT_TRUE(target.receivedBy(0).empty());
    endAndFinish(engine);
    EXPECT_EQ(target.receivedBy(0), request(0));
}

TEST_P(EngineTest, PacketsForOtherPortsAreIgnored) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.24", 40014, "192.0.2.1", 8443);
    feed(engine, keepAlive(client, 1));
    endAndFinish(engine);
    EXPECT_EQ(target.connectionCount(), 0u);
    EXPECT_EQ(engine.stats().packetsIgnored, engine.stats().packetsIn);
}

TEST_P(EngineTest, AbortResetsOpenSessions) {
    Engine engine(httpConfig(), target);
    CapturedClient client("192.0.2.25", 40015, "192.0.2.1", 80);
    feed(engine, keepAlive(client, 1, false));
    engine.abortAll(target.now);
    target.run(engine);
    EXPECT_TRUE(target.connections()[0]->reset);
    EXPECT_EQ(engine.activeSessions(), 0u);
}

}  // namespace
}  // namespace tcpcopy::session::testing
