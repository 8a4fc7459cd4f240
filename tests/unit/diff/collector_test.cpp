// ResponseCollector: pairing each captured request with the online and the target answer, with
// their latencies, from the segments of the capture, the replay and intercept.

#include "tcpcopy/diff/collector.h"

#include <gtest/gtest.h>

#include "helpers.h"
#include "tcpcopy/diff/report.h"

namespace tcpcopy::diff::testing {
namespace {

struct Session {
    explicit Session(CollectorConfig config = {}) : collector(config, sink) {}
    RecordingExchanges sink;
    ResponseCollector collector;
    Connection online{1000, 5000};  // the capture
    Connection replay{1000, 9000};  // the replay: same client ISN (the engine keeps it), the target's own ISN

    void open(Time captured = 0ms, Time replayed = 100ms) {
        collector.onCapturedClient(online.syn(), captured);
        collector.onCapturedServer(online.synAck(), captured + 1ms);
        collector.onReplayed(replay.syn(), replayed);
        collector.onTarget(replay.synAck(), replayed + 1ms);
    }

    // The capture of kGet1, kGet2 and kHead on one connection, 10 ms apart, each answered after
    // `serverTime`.
    void captureKeepAlive(Time serverTime);
};

constexpr std::string_view kGet1 = "GET /items/1 HTTP/1.1\r\nHost: shop\r\n\r\n";
constexpr std::string_view kGet2 = "GET /items/2 HTTP/1.1\r\nHost: shop\r\n\r\n";
constexpr std::string_view kHead = "HEAD /items/3 HTTP/1.1\r\nHost: shop\r\n\r\n";
constexpr std::string_view kOk1 = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nitem 1";
constexpr std::string_view kOk2 = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nitem 2";
constexpr std::string_view kOk2Changed = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nITEM 2";
constexpr std::string_view kHeadOk = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n";

void Session::captureKeepAlive(Time serverTime) {
    const std::string_view requests[] = {kGet1, kGet2, kHead};
    const std::string_view answers[] = {kOk1, kOk2, kHeadOk};
    for (int i = 0; i < 3; ++i) {
        collector.onCapturedClient(online.client(requests[i]), 10ms * (i + 1));
        collector.onCapturedServer(online.server(answers[i]), 10ms * (i + 1) + serverTime);
    }
}

TEST(ResponseCollector, PairsKeepAliveRequestsWithBothAnswersAndTheirLatencies) {
    Session r;
    r.open();
    const std::string_view requests[] = {kGet1, kGet2, kHead};
    const std::string_view answers[] = {kOk1, kOk2, kHeadOk};
    r.captureKeepAlive(5ms);
    EXPECT_TRUE(r.sink.exchanges.empty());  // the target has not answered yet
    for (int i = 0; i < 3; ++i) {
        r.collector.onReplayed(r.replay.client(requests[i]), 110ms + 10ms * i);
        r.collector.onTarget(r.replay.server(answers[i]), 113ms + 10ms * i);
        EXPECT_EQ(r.sink.exchanges.size(),
                  static_cast<std::size_t>(i + 1));  // each as soon as it is complete
    }
    r.collector.finish(200ms);
    EXPECT_EQ(r.collector.protocol(), Protocol::Http);
    ASSERT_EQ(r.sink.exchanges.size(), 3u);
    for (const Exchange& e : r.sink.exchanges) {
        EXPECT_EQ(e.skip, Skip::None);
        ASSERT_TRUE(e.online && e.target);
        EXPECT_EQ(e.onlineLatency, 5ms);
        EXPECT_EQ(e.targetLatency, 3ms);
        EXPECT_EQ(Comparator().compare(e).outcome, Outcome::Match);
    }
    EXPECT_EQ(r.sink.exchanges[2].request.method, "HEAD");
    EXPECT_EQ(r.sink.exchanges[2].target->bodySize, 0u);
    ASSERT_EQ(r.sink.ends.size(), 1u);
    EXPECT_FALSE(r.sink.ends[0].midstream);
}

TEST(ResponseCollector, PipelinedRequestsAreAnsweredInOrderAndADifferenceIsFound) {
    Session r;
    r.open();
    const std::string pipeline = std::string(kGet1) + std::string(kGet2);
    r.collector.onCapturedClient(r.online.client(pipeline), 10ms);
    r.collector.onCapturedServer(r.online.server(std::string(kOk1) + std::string(kOk2)), 12ms);
    r.collector.onReplayed(r.replay.client(pipeline), 110ms);
    r.collector.onTarget(r.replay.server(kOk1), 111ms);
    r.collector.onTarget(r.replay.server(kOk2Changed), 118ms);
    r.collector.finish(200ms);
    DiffReport report;
    for (Exchange& e : r.sink.exchanges) report.add(e);
    EXPECT_EQ(report.totals().compared, 2u);
    EXPECT_EQ(report.totals().differ, 1u);
    ASSERT_EQ(r.sink.exchanges.size(), 2u);
    EXPECT_EQ(r.sink.exchanges[1].targetLatency, 8ms);  // the pipeline's last byte went out at 110 ms
    const auto endpoints = report.endpoints();
    ASSERT_EQ(endpoints.size(), 1u);
    EXPECT_EQ(endpoints[0]->name, "GET /items/{n}");
    ASSERT_EQ(endpoints[0]->samples.size(), 1u);
    EXPECT_EQ(endpoints[0]->samples[0].request, "GET /items/2 HTTP/1.1");
    EXPECT_EQ(endpoints[0]->samples[0].differences,
              (std::vector<std::string>{"body differs at byte 0 (6 bytes -> 6 bytes)"}));
}

TEST(ResponseCollector, TruncatedTargetPayloadsGivePartialMatches) {
    Session r;
    r.open();
    const std::string body(3000, 'b');
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body;
    r.collector.onCapturedClient(r.online.client(kGet1), 10ms);
    r.collector.onCapturedServer(r.online.server(answer), 11ms);
    r.collector.onReplayed(r.replay.client(kGet1), 110ms);
    for (std::size_t pos = 0; pos < answer.size(); pos += 1448) {
        const std::string_view part = std::string_view(answer).substr(pos, 1448);
        r.collector.onTarget(r.replay.server(part, 64), 112ms);  // intercept --payload 64
    }
    r.collector.finish(200ms);
    ASSERT_EQ(r.sink.exchanges.size(), 1u);
    const Verdict v = Comparator().compare(r.sink.exchanges[0]);
    EXPECT_EQ(v.outcome, Outcome::Match);
    EXPECT_TRUE(v.partial);
    EXPECT_EQ(r.sink.exchanges[0].target->bodySize, 3000u);
}

TEST(ResponseCollector, DetectsRespAndPairsPipelinedReplies) {
    Session r;
    r.open();
    const std::string_view commands =
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    r.collector.onCapturedClient(r.online.client(commands.substr(0, 7)), 10ms);  // split mid-command
    r.collector.onCapturedClient(r.online.client(commands.substr(7)), 10ms);
    r.collector.onCapturedServer(r.online.server("+OK\r\n$1\r\nv\r\n+PONG\r\n"), 11ms);
    r.collector.onReplayed(r.replay.client(commands.substr(0, 7)), 110ms);
    r.collector.onReplayed(r.replay.client(commands.substr(7)), 110ms);
    r.collector.onTarget(r.replay.server("+OK\r\n$1\r\nw\r\n"), 111ms);
    r.collector.onTarget(r.replay.server("+PONG\r\n"), 111ms);
    r.collector.finish(200ms);
    EXPECT_EQ(r.collector.protocol(), Protocol::Resp);
    DiffReport report;
    for (Exchange& e : r.sink.exchanges) report.add(e);
    EXPECT_EQ(report.totals().compared, 3u);
    EXPECT_EQ(report.totals().differ, 1u);
    EXPECT_EQ(report.endpoints()[0]->name, "GET");
    EXPECT_EQ(report.endpoints()[0]->samples.at(0).request, "GET k");
}

TEST(ResponseCollector, GenericFramingWithAServerThatSpeaksFirst) {
    Session r;
    r.open();
    r.collector.onCapturedServer(r.online.server("220 hello\r\n"), 2ms);
    r.collector.onCapturedClient(r.online.client("HELO a\r\n"), 3ms);
    r.collector.onCapturedServer(r.online.server("250 ok\r\n"), 4ms);
    r.collector.onCapturedClient(r.online.client("QUIT\r\n"), 5ms);
    r.collector.onCapturedServer(r.online.server("221 bye\r\n"), 6ms);
    r.collector.onTarget(r.replay.server("220 howdy\r\n"), 102ms);
    r.collector.onReplayed(r.replay.client("HELO a\r\n"), 103ms);
    r.collector.onTarget(r.replay.server("250 ok\r\n"), 104ms);
    r.collector.onReplayed(r.replay.client("QUIT\r\n"), 105ms);
    r.collector.finish(200ms);  // the target never said goodbye
    EXPECT_EQ(r.collector.protocol(), Protocol::Generic);
    ASSERT_EQ(r.sink.exchanges.size(), 3u);
    const Comparator c;
    EXPECT_EQ(r.sink.exchanges[0].request.size(), 0u);
    EXPECT_EQ(c.compare(r.sink.exchanges[0]).differences.at(0).detail,
              "bytes differ at byte 5 (11 bytes -> 11 bytes)");
    EXPECT_EQ(c.compare(r.sink.exchanges[1]).outcome, Outcome::Match);
    EXPECT_EQ(r.sink.exchanges[1].targetLatency, 1ms);
    EXPECT_EQ(c.compare(r.sink.exchanges[2]).differences.at(0).category, Category::Missing);
}

TEST(ResponseCollector, TargetThatClosesEarlyAndRequestsNeverReplayed) {
    Session r;
    r.open();
    r.captureKeepAlive(1ms);
    r.collector.onReplayed(r.replay.client(kGet1), 110ms);
    r.collector.onTarget(r.replay.server(std::string_view(kOk1).substr(0, 20)), 111ms);
    r.collector.onTarget(r.replay.serverFin(), 112ms);
    r.collector.finish(200ms);
    ASSERT_EQ(r.sink.exchanges.size(), 3u);
    EXPECT_TRUE(r.sink.exchanges[0].target->cut);
    EXPECT_EQ(r.sink.exchanges[1].skip, Skip::NotReplayed);
    EXPECT_EQ(r.sink.exchanges[2].skip, Skip::NotReplayed);
    EXPECT_EQ(r.sink.lost[2], "");
}

TEST(ResponseCollector, AConnectionCapturedMidstreamIsNotCompared) {
    Session r;
    r.collector.onCapturedClient(r.online.client(kGet1), 10ms);  // no SYN before it
    r.collector.onCapturedServer(r.online.server(kOk1), 11ms);
    r.collector.finish(20ms);
    EXPECT_TRUE(r.sink.exchanges.empty());
    ASSERT_EQ(r.sink.ends.size(), 1u);
    EXPECT_TRUE(r.sink.ends[0].midstream);
}

TEST(ResponseCollector, PairingEndsAtSubscribe) {
    Session r;
    r.open();
    const std::string_view commands =
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n*1\r\n$4\r\nPING\r\n";
    const std::string_view replies =
        "$1\r\nv\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n";
    r.collector.onCapturedClient(r.online.client(commands), 10ms);
    r.collector.onCapturedServer(r.online.server(replies), 11ms);
    r.collector.onReplayed(r.replay.client(commands), 110ms);
    r.collector.onTarget(r.replay.server(replies), 111ms);
    r.collector.finish(200ms);
    ASSERT_EQ(r.sink.exchanges.size(), 3u);
    EXPECT_EQ(r.sink.exchanges[0].skip, Skip::None);
    EXPECT_EQ(r.sink.exchanges[1].skip, Skip::None);
    EXPECT_EQ(r.sink.exchanges[2].skip, Skip::PairingEnded);
}

TEST(ResponseCollector, BoundsTheRequestsWaitingForAnswers) {
    CollectorConfig config;
    config.maxPending = 2;
    Session r(config);
    r.open();
    for (int i = 0; i < 5; ++i) r.collector.onCapturedClient(r.online.client(kGet1), 10ms * (i + 1));
    EXPECT_EQ(r.sink.exchanges.size(), 3u);
    for (const Exchange& e : r.sink.exchanges) EXPECT_EQ(e.skip, Skip::PendingLimit);
    r.collector.finish(100ms);
    ASSERT_EQ(r.sink.exchanges.size(), 5u);
    EXPECT_EQ(r.sink.exchanges[4].skip, Skip::NoOnlineResponse);
}

TEST(ResponseCollector, RetransmissionsAndReorderingDoNotChangeWhatIsPaired) {
    Session r;
    r.open();
    const std::string pipeline = std::string(kGet1) + std::string(kGet2);
    const std::size_t half = kGet1.size() + 5;
    // The capture holds the second part first, then the first part twice.
    r.collector.onCapturedClient(
        r.online.clientAt(static_cast<std::uint32_t>(half), std::string_view(pipeline).substr(half)), 10ms);
    r.collector.onCapturedClient(r.online.clientAt(0, std::string_view(pipeline).substr(0, half)), 11ms);
    r.collector.onCapturedClient(r.online.clientAt(0, std::string_view(pipeline).substr(0, half)), 12ms);
    r.collector.onCapturedServer(r.online.server(kOk1), 13ms);
    r.collector.onCapturedServer(r.online.server(kOk2), 14ms);
    // The replay sends the first part, resends it, then the rest.
    r.collector.onReplayed(r.replay.clientAt(0, std::string_view(pipeline).substr(0, half)), 110ms);
    r.collector.onReplayed(r.replay.clientAt(0, std::string_view(pipeline).substr(0, half)), 150ms);
    r.collector.onReplayed(
        r.replay.clientAt(static_cast<std::uint32_t>(half), std::string_view(pipeline).substr(half)), 160ms);
    r.collector.onTarget(r.replay.server(kOk1), 112ms);
    r.collector.onTarget(r.replay.server(kOk2), 170ms);
    r.collector.finish(200ms);
    ASSERT_EQ(r.sink.exchanges.size(), 2u);
    EXPECT_EQ(r.sink.exchanges[0].targetLatency, 2ms);   // kGet1 was complete at 110 ms
    EXPECT_EQ(r.sink.exchanges[1].targetLatency, 10ms);  // kGet2's last byte went at 160 ms
    EXPECT_EQ(r.sink.exchanges[0].onlineLatency, 2ms);   // in order at 11 ms
    for (const Exchange& e : r.sink.exchanges) EXPECT_EQ(Comparator().compare(e).outcome, Outcome::Match);
}

}  // namespace
}  // namespace tcpcopy::diff::testing
