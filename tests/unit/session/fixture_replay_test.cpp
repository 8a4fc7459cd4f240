// Replays the lab-made fixture captures through the engine against the simulated target and
// checks that every connection's client byte stream arrives exactly as the capture holds it,
// reassembled independently here from the raw capture.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sim_target.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {
namespace {

struct CapturedPacket {
    TcpSegment seg;
    std::vector<std::byte> bytes;  // the frame, owning what seg views
    Time at;
};

std::vector<CapturedPacket> load(const std::string& name) {
    auto reader = capture::PcapFileReader::open(std::string(TCPCOPY_FIXTURE_DIR) + "/" + name);
    EXPECT_TRUE(reader) << reader.error();
    std::vector<CapturedPacket> out;
    if (!reader) return out;
    while (auto frame = reader.value().next()) {
        CapturedPacket p;
        p.bytes.assign(frame->data.begin(), frame->data.end());
        p.at = frame->timestamp;
        out.push_back(std::move(p));
    }
    EXPECT_EQ(reader.value().error(), "");
    for (auto& p : out) {
        auto r = net::decodeFrame(reader.value().linkType(), p.bytes);
        EXPECT_EQ(r.status, net::DecodeStatus::Ok);
        p.seg = r.segment;
    }
    return out;
}

// Client payload per client port, reassembled by sequence number (first copy of each byte).
std::map<std::uint16_t, std::string> clientStreams(const std::vector<CapturedPacket>& packets,
                                                   std::uint16_t serverPort) {
    std::map<std::uint16_t, std::uint32_t> isn;
    std::map<std::uint16_t, std::map<std::uint32_t, std::string>> pieces;
    for (const auto& p : packets) {
        const TcpSegment& s = p.seg;
        if (s.dport.value() != serverPort) continue;
        if (s.has(tcpflag::kSyn)) isn[s.sport.value()] = s.seq.value();
        if (s.payload.empty()) continue;
        const std::uint32_t off = s.seq.value() - isn[s.sport.value()] - 1;
        auto& m = pieces[s.sport.value()];
        if (!m.contains(off))
            m[off] = std::string(reinterpret_cast<const char*>(s.payload.data()), s.payload.size());
    }
    std::map<std::uint16_t, std::string> out;
    for (auto& [port, m] : pieces) {
        std::string stream;
        for (auto& [off, bytes] : m) {
            if (off > stream.size()) break;  // a hole: stop
            if (off + bytes.size() > stream.size()) stream += bytes.substr(stream.size() - off);
        }
        out[port] = stream;
    }
    return out;
}

struct Case {
    const char* file;
    std::uint16_t port;
    double accelerate;
};

class FixtureReplay : public ::testing::TestWithParam<Case> {};

TEST_P(FixtureReplay, EveryConnectionsClientBytesReachTheTargetExactlyOnce) {
    const Case c = GetParam();
    const auto packets = load(c.file);
    ASSERT_FALSE(packets.empty());
    SimTarget target;
    target.responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
        return {pending.empty() ? 0 : 100, pending.size()};
    };
    EngineConfig config;
    config.rules.push_back(
        {std::nullopt, net::Port(c.port), {*net::Ipv4Addr::parse("198.18.1.2"), net::Port(c.port)}});
    Engine engine(config, target);
    const Time start = target.now;
    const Time first = packets.front().at;
    for (const auto& p : packets) {
        const Time due = start + Time(static_cast<std::int64_t>((p.at - first).count() / c.accelerate));
        if (due > target.now) target.advance(engine, due - target.now, 1ms);
        engine.onCaptured(p.seg, target.now);
        target.run(engine);
    }
    engine.onInputEnd(target.now);
    ASSERT_TRUE(target.finish(engine));
    EXPECT_TRUE(target.violations.empty()) << target.violations.front();
    const auto expected = clientStreams(packets, c.port);
    ASSERT_EQ(target.connectionCount(), expected.size());
    for (const auto* conn : target.connections()) {
        const auto it = expected.find(conn->flow.client.port.value());
        ASSERT_NE(it, expected.end());
        EXPECT_EQ(conn->received, it->second) << "connection from port " << it->first;
    }
    EXPECT_EQ(engine.stats().sessionsFailed, 0u);
    EXPECT_EQ(engine.stats().sessionsTimedOut, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Captures, FixtureReplay,
    ::testing::Values(Case{"http_short.pcap", 80, 1}, Case{"http_short.pcap", 80, 1000},
                      Case{"http_keepalive.pcap", 80, 1}, Case{"http_keepalive.pcap", 80, 1000},
                      Case{"http_post_large.pcap", 80, 1}, Case{"http_retrans_reorder.pcap", 80, 1000},
                      Case{"redis_pipeline.pcap", 6379, 1}, Case{"redis_pipeline.pcap", 6379, 1000}));

TEST(FixtureReplayMidstream, StartsEachConnectionAtARequestBoundary) {
    const auto packets = load("http_midstream.pcap");
    SimTarget target;
    Engine engine(httpConfig(), target);
    for (const auto& p : packets) {
        engine.onCaptured(p.seg, target.now);
        target.run(engine);
        target.advance(engine, 2ms, 1ms);
    }
    engine.onInputEnd(target.now);
    ASSERT_TRUE(target.finish(engine));
    ASSERT_EQ(target.connectionCount(), 3u);
    std::size_t requests = 0;
    for (const auto* conn : target.connections()) {
        EXPECT_EQ(conn->received.rfind("GET ", 0), 0u)
            << "starts mid-request: " << conn->received.substr(0, 40);
        requests += conn->requests;
    }
    EXPECT_EQ(requests, 27u);  // the golden list: 30 minus the 3 first requests cut away
    EXPECT_EQ(engine.stats().sessionsMidstream, 3u);
}

}  // namespace
}  // namespace tcpcopy::session::testing
