// The lab-made captures (tests/fixtures/) through the collector and the report: each
// connection's captured server stream is both the online answer and, replayed as the target's,
// the target answer. A target identical to the online server must give no difference; one byte
// changed in one answer must give exactly one; a target whose payload intercept cut to N bytes per
// segment must frame as far as N allows and say why not beyond.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>

#include "helpers.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/diff/collector.h"
#include "tcpcopy/diff/report.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::diff::testing {
namespace {

struct Packet {
    std::vector<std::byte> bytes;  // the frame, owning what seg views
    net::TcpSegment seg;
    Time at{0};
};

std::vector<Packet> load(const std::string& name) {
    auto reader = capture::PcapFileReader::open(std::string(TCPCOPY_FIXTURE_DIR) + "/" + name);
    EXPECT_TRUE(reader) << reader.error();
    std::vector<Packet> out;
    if (!reader) return out;
    while (auto frame = reader.value().next()) {
        Packet p;
        p.bytes.assign(frame->data.begin(), frame->data.end());
        p.at = frame->timestamp;
        out.push_back(std::move(p));
    }
    for (auto& p : out) {
        const auto r = net::decodeFrame(reader.value().linkType(), p.bytes);
        EXPECT_EQ(r.status, net::DecodeStatus::Ok);
        p.seg = r.segment;
    }
    return out;
}

// What the test does to the target's copy of a server segment: cut its payload to `payload`
// bytes; `change` may edit the bytes first (the segment's index among the server's data segments).
struct Target {
    std::size_t payload = std::string_view::npos;
    std::function<void(std::size_t index, std::string& data)> change;
};

Target truncated(std::size_t payload) {
    Target t;
    t.payload = payload;
    return t;
}

// Runs every connection of `name` to server port `port` through a collector and the report.
void run(const std::string& name, std::uint16_t port, DiffReport& report, const Target& target = {},
         Protocol protocol = Protocol::Auto) {
    const std::vector<Packet> packets = load(name);
    ASSERT_FALSE(packets.empty());
    std::map<std::uint16_t, std::unique_ptr<ResponseCollector>> sessions;
    std::vector<std::string> targetData;  // keeps changed payloads alive
    targetData.reserve(packets.size());
    std::size_t serverData = 0;
    std::uint64_t id = 0;
    const Time replayShift = std::chrono::hours(1);
    for (const Packet& p : packets) {
        const bool fromClient = p.seg.dport.value() == port;
        if (!fromClient && p.seg.sport.value() != port) continue;
        const std::uint16_t client = fromClient ? p.seg.sport.value() : p.seg.dport.value();
        auto& c = sessions[client];
        if (!c) {
            CollectorConfig config;
            config.protocol = protocol;
            config.session = id++;
            c = std::make_unique<ResponseCollector>(config, report);
        }
        if (fromClient) {
            c->onCapturedClient(p.seg, p.at);
            c->onReplayed(p.seg, p.at + replayShift);
            continue;
        }
        c->onCapturedServer(p.seg, p.at);
        net::TcpSegment t = p.seg;
        if (t.payloadLength != 0) {
            std::string data(reinterpret_cast<const char*>(t.payload.data()), t.payload.size());
            if (target.change) target.change(serverData, data);
            ++serverData;
            data.resize(std::min(data.size(), target.payload));
            targetData.push_back(std::move(data));
            t.payload = asBytes(targetData.back());
        }
        c->onTarget(t, p.at + replayShift + 1ms);
    }
    for (auto& [port, c] : sessions) c->finish(std::chrono::hours(3));
}

std::uint64_t skipped(const DiffReport& r, Skip s) {
    return r.totals().notCompared[static_cast<std::size_t>(s)];
}

TEST(FixtureDiff, IdenticalHttpTargetsGiveNoDifference) {
    const std::pair<std::string, std::uint64_t> captures[] = {{"http_keepalive.pcap", 30},
                                                              {"http_short.pcap", 20},
                                                              {"http_post_large.pcap", 2},
                                                              {"http_retrans_reorder.pcap", 30}};
    for (const auto& [name, requests] : captures) {
        DiffReport report;
        run(name, 80, report);
        EXPECT_EQ(report.totals().exchanges, requests) << name;
        EXPECT_EQ(report.totals().compared, requests) << name;
        EXPECT_EQ(report.totals().differ, 0u) << name;
        EXPECT_EQ(report.totals().partial, 0u) << name;
        EXPECT_TRUE(report.framingLost().empty()) << name;
        EXPECT_EQ(report.targetLatency().count(), requests) << name;
    }
}

TEST(FixtureDiff, HttpShortCountsHeadsAnd404sPerEndpoint) {
    DiffReport report;
    run("http_short.pcap", 80, report);
    std::map<std::string, std::uint64_t> byKind;
    for (const auto& [kind, counts] : report.statuses()) {
        EXPECT_EQ(counts.first, counts.second) << kind;
        byKind[kind] = counts.first;
    }
    EXPECT_EQ(byKind["404"], 2u);  // GET and HEAD /missing.html
    EXPECT_EQ(byKind["200"], 18u);
    std::uint64_t heads = 0;
    for (const EndpointStats* e : report.endpoints())
        if (e->name.starts_with("HEAD ")) heads += e->exchanges;
    EXPECT_EQ(heads, 10u);
}

TEST(FixtureDiff, OneChangedByteIsExactlyOneDifference) {
    DiffReport report;
    Target target;
    target.change = [](std::size_t index, std::string& data) {
        if (index == 7) data.back() ^= 0x20;  // the last byte of one answer's body
    };
    run("http_keepalive.pcap", 80, report, target);
    EXPECT_EQ(report.totals().compared, 30u);
    EXPECT_EQ(report.totals().differ, 1u);
    EXPECT_EQ(report.totals().categories[static_cast<std::size_t>(Category::Body)], 1u);
    std::uint64_t samples = 0;
    for (const EndpointStats* e : report.endpoints()) samples += e->samples.size();
    EXPECT_EQ(samples, 1u);
}

TEST(FixtureDiff, RedisPipelineIsPairedReplyByReply) {
    DiffReport report;
    run("redis_pipeline.pcap", 6379, report);
    // 420 commands in the golden list, plus redis-benchmark's two CONFIG GET it leaves out.
    EXPECT_EQ(report.totals().exchanges, 422u);
    EXPECT_EQ(report.totals().compared, 422u);
    EXPECT_EQ(report.totals().differ, 0u);
    std::map<std::string, std::uint64_t> commands;
    for (const EndpointStats* e : report.endpoints()) commands[e->name] = e->exchanges;
    EXPECT_EQ(commands["CONFIG GET"], 2u);
    EXPECT_EQ(commands["ECHO"], 1u);

    DiffReport changed;
    Target target;
    target.change = [](std::size_t index, std::string& data) {
        if (index == 3) data[0] = '-';  // the first reply of one pipeline becomes an error
    };
    run("redis_pipeline.pcap", 6379, changed, target);
    EXPECT_EQ(changed.totals().differ, 1u);
    EXPECT_EQ(changed.totals().categories[static_cast<std::size_t>(Category::Type)], 1u);
}

TEST(FixtureDiff, MidstreamCapturesAreCountedNotCompared) {
    DiffReport report;
    run("http_midstream.pcap", 80, report);
    EXPECT_EQ(report.totals().sessions, 3u);
    EXPECT_EQ(report.totals().sessionsMidstream, 3u);
    EXPECT_EQ(report.totals().exchanges, 0u);
}

TEST(FixtureDiff, TruncatedTargetPayloads) {
    {
        // 64 bytes per segment do not hold nginx's response headers: nothing can be framed.
        DiffReport report;
        run("http_keepalive.pcap", 80, report, truncated(64));
        EXPECT_EQ(report.totals().compared, 0u);
        EXPECT_EQ(skipped(report, Skip::TargetFramingLost), 30u);
        EXPECT_EQ(report.framingLost().at("target: payload not captured inside the header"), 3u);
    }
    {
        // An MSS worth of payload holds every segment of the keep-alive capture whole.
        DiffReport report;
        run("http_keepalive.pcap", 80, report, truncated(1448));
        EXPECT_EQ(report.totals().compared, 30u);
        EXPECT_EQ(report.totals().partial, 0u);
    }
    {
        // http_short's answers up to 16 KB came in GSO super-packets, cut to 1448 bytes: those
        // match as far as captured, the rest match whole.
        DiffReport report;
        run("http_short.pcap", 80, report, truncated(1448));
        EXPECT_EQ(report.totals().compared, 20u);
        EXPECT_EQ(report.totals().differ, 0u);
        EXPECT_GT(report.totals().partial, 0u);
        EXPECT_LT(report.totals().partial, 20u);
    }
}

TEST(FixtureDiff, ExplicitGenericFramingPairsByDirectionChanges) {
    DiffReport report;
    run("http_keepalive.pcap", 80, report, {}, Protocol::Generic);
    EXPECT_EQ(report.totals().compared, 30u);
    EXPECT_EQ(report.totals().differ, 0u);
}

}  // namespace
}  // namespace tcpcopy::diff::testing
