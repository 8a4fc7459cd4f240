// CompareWiring: the regression diff's collectors created from the capture, bound to the engine's
// sessions, fed with the replayed and the target's segments, finished when sessions end; and the
// join of the tunnel's header and payload callbacks. Synthetic segments, a fake clock.
#include "tcpcopy/app/compare_wiring.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tcpcopy/session/client_map.h"

namespace tcpcopy::app {
namespace {

using namespace std::chrono_literals;
using Time = CompareWiring::Time;

net::Bytes asBytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

const net::Endpoint kOnline{net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)};
const net::Endpoint kTarget{net::Ipv4Addr::fromOctets(198, 18, 1, 3), net::Port(8080)};

// One side of a TCP connection between `client` and `server`: its segments either way.
class Conn {
  public:
    Conn(net::Endpoint client, net::Endpoint server, std::uint32_t clientIsn, std::uint32_t serverIsn)
        : client_(client), server_(server), cseq_(clientIsn), sseq_(serverIsn) {}
    net::TcpSegment syn() { return make(true, cseq_++, net::tcpflag::kSyn, {}); }
    net::TcpSegment synAck() { return make(false, sseq_++, net::tcpflag::kSyn | net::tcpflag::kAck, {}); }
    net::TcpSegment ack() { return make(true, cseq_, net::tcpflag::kAck, {}); }
    net::TcpSegment client(std::string_view text) { return data(true, text); }
    net::TcpSegment server(std::string_view text) { return data(false, text); }
    net::TcpSegment clientFin() { return make(true, cseq_++, net::tcpflag::kFin | net::tcpflag::kAck, {}); }
    net::FlowKey key() const { return {client_, server_}; }

  private:
    net::TcpSegment data(bool fromClient, std::string_view text) {
        std::uint32_t& seq = fromClient ? cseq_ : sseq_;
        auto s = make(fromClient, seq, net::tcpflag::kAck | net::tcpflag::kPsh, text);
        seq += static_cast<std::uint32_t>(text.size());
        return s;
    }
    net::TcpSegment make(bool fromClient, std::uint32_t seq, std::uint8_t flags,
                         std::string_view text) const {
        net::TcpSegment s;
        const net::Endpoint& from = fromClient ? client_ : server_;
        const net::Endpoint& to = fromClient ? server_ : client_;
        s.src = from.addr;
        s.sport = from.port;
        s.dst = to.addr;
        s.dport = to.port;
        s.seq = net::SeqNum(seq);
        s.flags = flags;
        s.payloadLength = static_cast<std::uint32_t>(text.size());
        s.payload = asBytes(text);
        return s;
    }
    net::Endpoint client_, server_;
    std::uint32_t cseq_, sseq_;
};

constexpr std::string_view kGetA = "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n";
constexpr std::string_view kGetB = "GET /b HTTP/1.1\r\nHost: shop\r\n\r\n";
constexpr std::string_view kOkA = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: Mon\r\n\r\nalpha";
constexpr std::string_view kOkB = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nDate: Mon\r\n\r\nbeta";
constexpr std::string_view kOkBChanged = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nDate: Tue\r\n\r\nBETA";

struct Lab {
    explicit Lab(CompareConfig config = defaults())
        : wiring(std::move(config), {session::AddressRule{std::nullopt, net::Port(80), kTarget}}) {}
    static CompareConfig defaults() {
        CompareConfig c;
        c.reportFile = "unused.json";
        return c;
    }
    CompareWiring wiring;
    Time now{0};
    Time tick(Time step = 1ms) { return now += step; }

    // One captured keep-alive connection from `client` answered with kOkA, kOkB, replayed from
    // `replayClient` against a target answering `answerB` to the second request.
    void replayOne(net::Endpoint client, net::Endpoint replayClient, std::string_view answerB,
                   bool endSession = true) {
        Conn cap(client, kOnline, 1000, 5000);
        Conn rep(replayClient, kTarget, 1000, 9000);
        const net::TcpSegment syn = cap.syn();
        wiring.onCaptured(syn, tick());
        wiring.onCaptured(cap.synAck(), tick());
        wiring.onCaptured(cap.ack(), tick());
        wiring.onCaptured(cap.client(kGetA), tick());
        wiring.onCaptured(cap.server(kOkA), tick());
        wiring.onCaptured(cap.client(kGetB), tick());
        wiring.onCaptured(cap.server(kOkB), tick());
        // The engine starts the session only now (as --max-active deferral would).
        wiring.sessionStarted(cap.key(), rep.key(), 0);
        wiring.onReplayed(rep.syn(), tick());
        wiring.onTarget(rep.synAck(), tick());
        wiring.onReplayed(rep.client(kGetA), tick());
        wiring.onTarget(rep.server(kOkA), tick());
        wiring.onReplayed(rep.client(kGetB), tick());
        wiring.onTarget(rep.server(answerB), tick());
        wiring.onCaptured(cap.clientFin(), tick());
        if (!endSession) return;
        wiring.sessionEnded(cap.key(), rep.key());
    }
};

const net::Endpoint kClient1{net::Ipv4Addr::fromOctets(192, 0, 2, 10), net::Port(40000)};
const net::Endpoint kClient2{net::Ipv4Addr::fromOctets(192, 0, 2, 11), net::Port(40001)};
const net::Endpoint kReplay1{net::Ipv4Addr::fromOctets(203, 0, 113, 10), net::Port(40000)};
const net::Endpoint kReplay2{net::Ipv4Addr::fromOctets(203, 0, 113, 11), net::Port(40001)};

TEST(CompareWiring, ComparesEachRequestOfAReplayedSessionWhenItEnds) {
    Lab lab;
    lab.replayOne(kClient1, kReplay1, kOkB);
    // Each exchange is counted once both answers are in; the session finishes only at settle (a
    // payload of the target's may still be on its way after the engine ended the session).
    EXPECT_EQ(lab.wiring.counters().exchanges, 2u);
    EXPECT_EQ(lab.wiring.counters().sessions, 0u);
    EXPECT_EQ(lab.wiring.counters().collectors, 1u);
    EXPECT_EQ(lab.wiring.waiting(), 0u);  // bound: no longer among those waiting
    lab.wiring.settle(lab.tick());
    const CompareCounters& c = lab.wiring.counters();
    EXPECT_EQ(c.sessions, 1u);
    EXPECT_EQ(c.compared, 2u);
    EXPECT_EQ(c.matched, 2u);  // Date differs, and is ignored by default
    EXPECT_EQ(c.mismatched, 0u);
    EXPECT_EQ(c.collectors, 0u);
    EXPECT_EQ(lab.wiring.report().totals().compared, 2u);
}

TEST(CompareWiring, ReportsTheRequestWhoseAnswerChanged) {
    Lab lab;
    lab.replayOne(kClient1, kReplay1, kOkB);
    lab.replayOne(kClient2, kReplay2, kOkBChanged);
    lab.wiring.settle(lab.tick());
    const CompareCounters& c = lab.wiring.counters();
    EXPECT_EQ(c.compared, 4u);
    EXPECT_EQ(c.mismatched, 1u);
    const auto endpoints = lab.wiring.report().endpoints();
    ASSERT_FALSE(endpoints.empty());
    EXPECT_EQ(endpoints.front()->differ, 1u);
    EXPECT_NE(endpoints.front()->name.find("/b"), std::string::npos) << endpoints.front()->name;
    ASSERT_EQ(endpoints.front()->samples.size(), 1u);
    EXPECT_NE(endpoints.front()->samples[0].target.text.find("BETA"), std::string::npos);
}

TEST(CompareWiring, ReplayedConnectionsLeaveNothingBehind) {
    Lab lab;
    for (std::uint16_t i = 0; i < 200; ++i) {
        lab.replayOne({kClient1.addr, net::Port(static_cast<std::uint16_t>(20000 + i))},
                      {kReplay1.addr, net::Port(static_cast<std::uint16_t>(30000 + i))}, kOkB);
        lab.wiring.settle(lab.tick());
    }
    EXPECT_EQ(lab.wiring.counters().sessions, 200u);
    EXPECT_EQ(lab.wiring.counters().matched, 400u);
    EXPECT_EQ(lab.wiring.counters().collectors, 0u);
    EXPECT_EQ(lab.wiring.waiting(), 0u);
}

TEST(CompareWiring, OnlyCopyZeroIsCompared) {
    Lab lab;
    Conn cap(kClient1, kOnline, 1000, 5000);
    Conn copy1(kReplay2, kTarget, 1000, 9000);
    lab.wiring.onCaptured(cap.syn(), lab.tick());
    lab.wiring.sessionStarted(cap.key(), copy1.key(), 1);
    lab.wiring.onTarget(copy1.synAck(), lab.tick());
    EXPECT_EQ(lab.wiring.counters().targetUnknown, 1u);
    lab.wiring.finishAll(lab.tick());
    EXPECT_EQ(lab.wiring.counters().notReplayed, 1u);  // copy 0 never started
    EXPECT_EQ(lab.wiring.counters().sessions, 0u);
}

TEST(CompareWiring, ConnectionsNeverReplayedAreDroppedUnreported) {
    Lab lab;
    Conn cap(kClient1, kOnline, 1000, 5000);
    lab.wiring.onCaptured(cap.syn(), lab.tick());
    lab.wiring.onCaptured(cap.synAck(), lab.tick());
    lab.wiring.onCaptured(cap.client(kGetA), lab.tick());
    // Traffic of no rule, and a bare ACK of an unknown connection, make no collector.
    Conn other({kClient2.addr, net::Port(40002)}, {kOnline.addr, net::Port(443)}, 1, 2);
    lab.wiring.onCaptured(other.syn(), lab.tick());
    Conn late(kClient2, kOnline, 1, 2);
    lab.wiring.onCaptured(late.ack(), lab.tick());
    EXPECT_EQ(lab.wiring.counters().collectors, 1u);
    lab.wiring.finishAll(lab.tick());
    EXPECT_EQ(lab.wiring.counters().notReplayed, 1u);
    EXPECT_EQ(lab.wiring.report().totals().sessions, 0u);
    EXPECT_EQ(lab.wiring.counters().collectors, 0u);
    EXPECT_EQ(lab.wiring.waiting(), 0u);
}

TEST(CompareWiring, ConnectionsSampledOutByMinusRGetNoCollector) {
    CompareWiring wiring(Lab::defaults(), {session::AddressRule{std::nullopt, net::Port(80), kTarget}}, 50);
    unsigned in = 0, out = 0;
    for (std::uint16_t port = 40000; port < 40040; ++port) {
        Conn c({kClient1.addr, net::Port(port)}, kOnline, 1000, 5000);
        wiring.onCaptured(c.syn(), 1ms);
        (session::sampledIn(c.key(), 50) ? in : out)++;
    }
    ASSERT_GT(in, 0u);
    ASSERT_GT(out, 0u);
    EXPECT_EQ(wiring.counters().collectors, in);  // as the engine decides, by the same hash
}

TEST(CompareWiring, AtTheCapTheOldestConnectionNotReplayingGoesFirst) {
    CompareConfig config = Lab::defaults();
    config.maxCollectors = 2;
    Lab lab(config);
    Conn a(kClient1, kOnline, 1000, 5000);
    Conn b(kClient2, kOnline, 2000, 6000);
    Conn c({kClient2.addr, net::Port(40003)}, kOnline, 3000, 7000);
    Conn ra(kReplay1, kTarget, 1000, 9000);
    lab.wiring.onCaptured(a.syn(), lab.tick());
    lab.wiring.onCaptured(b.syn(), lab.tick());
    lab.wiring.sessionStarted(a.key(), ra.key(), 0);  // a replays: b is the one to go
    lab.wiring.onCaptured(c.syn(), lab.tick());
    EXPECT_EQ(lab.wiring.counters().sessionsDropped, 1u);
    EXPECT_EQ(lab.wiring.counters().collectors, 2u);
    EXPECT_EQ(lab.wiring.waiting(), 1u);  // c
    Conn rc(kReplay2, kTarget, 3000, 9000);
    lab.wiring.sessionStarted(c.key(), rc.key(), 0);
    // Both replaying: a new connection is not compared.
    Conn d({kClient1.addr, net::Port(40009)}, kOnline, 4000, 8000);
    lab.wiring.onCaptured(d.syn(), lab.tick());
    EXPECT_EQ(lab.wiring.counters().sessionsDropped, 2u);
    EXPECT_EQ(lab.wiring.counters().collectors, 2u);
    EXPECT_EQ(lab.wiring.waiting(), 0u);
    lab.wiring.finishAll(lab.tick());
    EXPECT_EQ(lab.wiring.counters().sessions, 2u);
    EXPECT_EQ(lab.wiring.counters().collectors, 0u);
}

TEST(CompareWiring, AReusedTupleIsANewConnection) {
    Lab lab;
    lab.replayOne(kClient1, kReplay1, kOkB, /*endSession=*/false);
    // The same client tuple again, another ISN, while the first replay still runs.
    Conn again(kClient1, kOnline, 77777, 5000);
    lab.wiring.onCaptured(again.syn(), lab.tick());
    EXPECT_EQ(lab.wiring.counters().collectors, 2u);
    lab.wiring.sessionEnded(again.key(), {kReplay1, kTarget});
    lab.wiring.settle(lab.tick());
    EXPECT_EQ(lab.wiring.counters().sessions, 1u);
    EXPECT_EQ(lab.wiring.counters().matched, 2u);
    EXPECT_EQ(lab.wiring.counters().collectors, 1u);  // the second incarnation waits for its session
}

TEST(CompareWiring, ParsesTheProtocolOption) {
    CompareConfig c;
    EXPECT_EQ(parseCompareProtocol("redis", c), "");
    EXPECT_EQ(c.protocol, diff::Protocol::Resp);
    EXPECT_EQ(parseCompareProtocol("80=http, 6379=redis", c), "");
    EXPECT_EQ(c.protocolFor(net::Port(80)), diff::Protocol::Http);
    EXPECT_EQ(c.protocolFor(net::Port(6379)), diff::Protocol::Resp);
    EXPECT_EQ(c.protocolFor(net::Port(11211)), diff::Protocol::Auto);
    EXPECT_EQ(parseCompareProtocol("ftp", c), "expects auto, http, redis or generic, got 'ftp'");
    EXPECT_EQ(parseCompareProtocol("80=http,x=redis", c), "expects a port 1-65535 before '=', got 'x'");
    EXPECT_EQ(parseCompareProtocol("80", c), "expects auto, http, redis or generic, got '80'");
}

// The tunnel gives a response's header, then (when granted) its payload: one onTarget with both.
TEST(TargetPayloadJoin, JoinsAHeaderWithItsPayloadAndLetsAHeaderAloneGoWithAGap) {
    Lab lab;
    Conn cap(kClient1, kOnline, 1000, 5000);
    Conn rep(kReplay1, kTarget, 1000, 9000);
    TargetPayloadJoin join(lab.wiring);
    lab.wiring.onCaptured(cap.syn(), lab.tick());
    lab.wiring.onCaptured(cap.synAck(), lab.tick());
    lab.wiring.onCaptured(cap.client(kGetA), lab.tick());
    lab.wiring.onCaptured(cap.server(kOkA), lab.tick());
    lab.wiring.onCaptured(cap.client(kGetB), lab.tick());
    lab.wiring.onCaptured(cap.server(kOkB), lab.tick());
    lab.wiring.sessionStarted(cap.key(), rep.key(), 0);
    lab.wiring.onReplayed(rep.syn(), lab.tick());
    join.onHeader(rep.synAck(), lab.tick());  // no payload: goes on at once
    lab.wiring.onReplayed(rep.client(kGetA), lab.tick());
    net::TcpSegment okA = rep.server(kOkA);
    net::TcpSegment header = okA;
    header.payload = {};
    join.onHeader(header, lab.tick());
    join.onPayload(header, okA.payload, lab.tick());
    lab.wiring.onReplayed(rep.client(kGetB), lab.tick());
    net::TcpSegment okB = rep.server(kOkB);
    okB.payload = {};
    join.onHeader(okB, lab.tick());  // its payload never comes
    join.flush();
    lab.wiring.sessionEnded(cap.key(), rep.key());
    lab.wiring.settle(lab.tick());
    const CompareCounters& c = lab.wiring.counters();
    EXPECT_EQ(c.exchanges, 2u);
    EXPECT_EQ(c.matched, 1u);  // /a: joined
    // /b: the target's bytes are a gap from its status line on: it cannot be framed.
    EXPECT_EQ(c.notCompared, 1u);
    EXPECT_EQ(
        lab.wiring.report().totals().notCompared[static_cast<std::size_t>(diff::Skip::TargetFramingLost)],
        1u);
    EXPECT_EQ(c.targetUnknown, 0u);
}

}  // namespace
}  // namespace tcpcopy::app
