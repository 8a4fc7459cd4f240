// EngineOutput: the engine's segments leave in one injector batch per event-loop turn, in order,
// and a full batch does not wait for the end of the turn.
#include "tcpcopy/app/engine_output.h"

#include <gtest/gtest.h>

#include <vector>

#include "tcpcopy/net/decode.h"

namespace tcpcopy::app {
namespace {

net::TcpSegment segment(std::uint16_t sport) {
    net::TcpSegment s;
    s.src = net::Ipv4Addr::fromOctets(192, 0, 2, 10);
    s.dst = net::Ipv4Addr::fromOctets(198, 18, 1, 2);
    s.sport = net::Port(sport);
    s.dport = net::Port(80);
    s.seq = net::SeqNum(1000);
    s.flags = net::tcpflag::kSyn;
    s.window = 65535;
    s.ttl = 64;
    return s;
}

// The client ports of the recorded packets, in the order the injector got them.
std::vector<std::uint16_t> sentPorts(const inject::RecordingInjector& injector) {
    std::vector<std::uint16_t> ports;
    for (const auto& p : injector.packets()) {
        const net::DecodeResult r = net::decodeIpTcp(net::Bytes(p));
        ports.push_back(r.status == net::DecodeStatus::Ok ? r.segment.sport.value() : 0);
    }
    return ports;
}

struct Fixture {
    os::EventBase base = os::EventBase::create().value();
    inject::RecordingInjector injector;

    std::unique_ptr<EngineOutput> output(inject::PacketBatchLimits limits = {}) {
        auto r = EngineOutput::create(base, injector, nullptr, limits);
        EXPECT_TRUE(r) << r.error();
        return std::move(r).value();
    }
    // A one-shot callback due at once, run by the next loop turn.
    os::Event dueNow(std::function<void()> body) {
        os::Event ev = os::Event::timer(base, [body = std::move(body)](short) { body(); }).value();
        ev.add(os::Duration(0));
        return ev;
    }
};

TEST(EngineOutput, SendsWhatOneLoopTurnEmittedInOneBatchInOrder) {
    Fixture f;
    auto out = f.output();
    std::size_t seenInsideTurn = 99;
    // Two callbacks due in the same turn, like a capture read and a tunnel read.
    os::Event capture = f.dueNow([&] {
        for (std::uint16_t p = 1; p <= 3; ++p) out->sendToTarget(segment(p));
        seenInsideTurn = f.injector.packets().size();
    });
    os::Event tunnel = f.dueNow([&] {
        out->sendToTarget(segment(4));
        out->sendToTarget(segment(5));
    });
    ASSERT_TRUE(f.base.runOnce(true));
    EXPECT_EQ(seenInsideTurn, 0u);  // held until the end of the turn
    EXPECT_EQ(f.injector.batches(), std::vector<std::size_t>{5});
    EXPECT_EQ(sentPorts(f.injector), (std::vector<std::uint16_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(out->pending(), 0u);
    EXPECT_EQ(out->batchCounters().flushes, 1u);

    // The next turn's packets are the next batch.
    os::Event tick = f.dueNow([&] { out->sendToTarget(segment(6)); });
    ASSERT_TRUE(f.base.runOnce(true));
    EXPECT_EQ(f.injector.batches(), (std::vector<std::size_t>{5, 1}));
    EXPECT_EQ(f.injector.counters().packets, 6u);
}

TEST(EngineOutput, AFullBatchGoesOutWithoutWaitingForTheTurnToEnd) {
    Fixture f;
    auto out = f.output({.maxPackets = 4, .arenaBytes = 64 << 10});
    std::vector<std::size_t> sentSoFar;
    os::Event pump = f.dueNow([&] {
        for (std::uint16_t p = 1; p <= 10; ++p) {
            out->sendToTarget(segment(p));
            sentSoFar.push_back(f.injector.packets().size());
        }
    });
    ASSERT_TRUE(f.base.runOnce(true));
    EXPECT_EQ(sentSoFar, (std::vector<std::size_t>{0, 0, 0, 4, 4, 4, 4, 8, 8, 8}));
    EXPECT_EQ(f.injector.batches(), (std::vector<std::size_t>{4, 4, 2}));
    EXPECT_EQ(sentPorts(f.injector), (std::vector<std::uint16_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_EQ(out->batchCounters().fullFlushes, 2u);
}

TEST(EngineOutput, ArenaFullFlushesBeforeTheNextPacket) {
    Fixture f;
    // A SYN without options is 40 bytes, but room for the largest headers (80) is reserved each
    // time: 150 bytes take two, and the third finds too little room left.
    auto out = f.output({.maxPackets = 100, .arenaBytes = 150});
    os::Event pump = f.dueNow([&] {
        for (std::uint16_t p = 1; p <= 5; ++p) out->sendToTarget(segment(p));
    });
    ASSERT_TRUE(f.base.runOnce(true));
    EXPECT_EQ(f.injector.batches(), (std::vector<std::size_t>{2, 2, 1}));
    EXPECT_EQ(sentPorts(f.injector), (std::vector<std::uint16_t>{1, 2, 3, 4, 5}));
}

TEST(EngineOutput, SendErrorsAreCountedAndTheRestStillGoes) {
    Fixture f;
    auto out = f.output();
    f.injector.failNext(2);
    os::Event pump = f.dueNow([&] {
        for (std::uint16_t p = 1; p <= 5; ++p) out->sendToTarget(segment(p));
    });
    ASSERT_TRUE(f.base.runOnce(true));
    EXPECT_EQ(f.injector.counters().errors, 2u);
    EXPECT_EQ(f.injector.counters().packets, 3u);
    EXPECT_EQ(sentPorts(f.injector), (std::vector<std::uint16_t>{3, 4, 5}));
}

TEST(EngineOutput, FlushSendsWhatIsQueuedWhenTheLoopStopsEarly) {
    Fixture f;
    auto out = f.output();
    out->sendToTarget(segment(7));  // outside any loop turn: nothing runs the end-of-turn event
    EXPECT_EQ(out->pending(), 1u);
    EXPECT_TRUE(f.injector.packets().empty());
    out->flush();
    EXPECT_EQ(sentPorts(f.injector), std::vector<std::uint16_t>{7});
    ASSERT_TRUE(f.base.runOnce(false));  // the already scheduled flush finds nothing left
    EXPECT_EQ(f.injector.batches(), std::vector<std::size_t>{1});
}

TEST(EngineOutput, DataSegmentsAreBuiltWithTheirPayload) {
    Fixture f;
    auto out = f.output();
    const std::vector<std::byte> payload(1400, std::byte{'d'});
    net::TcpSegment s = segment(9);
    s.flags = net::tcpflag::kAck | net::tcpflag::kPsh;
    s.payload = net::Bytes(payload);
    out->sendToTarget(s);
    out->flush();
    ASSERT_EQ(f.injector.packets().size(), 1u);
    const net::DecodeResult r = net::decodeIpTcp(net::Bytes(f.injector.packets()[0]));
    ASSERT_EQ(r.status, net::DecodeStatus::Ok);
    EXPECT_EQ(r.segment.payload.size(), payload.size());
    EXPECT_EQ(out->buildFailures(), 0u);
}

}  // namespace
}  // namespace tcpcopy::app
