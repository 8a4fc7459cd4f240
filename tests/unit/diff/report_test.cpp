// DiffReport: counting per endpoint, bounded samples and keys, and the JSON document.

#include "tcpcopy/diff/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "helpers.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

Message frame(Protocol protocol, Role role, std::string_view text) {
    RecordingSink sink;
    auto f = makeFramer(protocol, role, kDefaults, sink);
    feedText(*f, text);
    f->finish(0ns);
    EXPECT_EQ(sink.messages.size(), 1u) << text;
    return sink.messages.empty() ? Message{} : sink.messages[0];
}

Exchange http(std::string_view request, std::string_view online, std::optional<std::string_view> target,
              Time onlineLatency = 1ms, Time targetLatency = 1ms) {
    Exchange e;
    e.protocol = Protocol::Http;
    e.request = frame(Protocol::Http, Role::Requests, request);
    e.online = frame(Protocol::Http, Role::Responses, online);
    if (target) e.target = frame(Protocol::Http, Role::Responses, *target);
    e.onlineLatency = onlineLatency;
    e.targetLatency = targetLatency;
    return e;
}

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
constexpr std::string_view kError =
    "HTTP/1.1 500 Oops\r\nContent-Length: 26\r\n\r\n<script>alert(1)</script>\n";

TEST(DiffReport, CountsPerEndpointAndKeepsAFewSamples) {
    ReportLimits limits;
    limits.samplesPerEndpoint = 2;
    DiffReport report({}, limits);
    for (int i = 0; i < 5; ++i)
        report.add(http("GET /users/" + std::to_string(i) + " HTTP/1.1\r\n\r\n", kOk, kError));
    report.add(http("GET /health HTTP/1.1\r\n\r\n", kOk, kOk, 1ms, 50ms));
    report.add(http("GET /gone HTTP/1.1\r\n\r\n", kOk, std::nullopt));
    Exchange skipped = http("GET /x HTTP/1.1\r\n\r\n", kOk, kOk);
    skipped.skip = Skip::TargetFramingLost;
    report.add(skipped);
    const Totals& t = report.totals();
    EXPECT_EQ(t.exchanges, 8u);
    EXPECT_EQ(t.compared, 7u);
    EXPECT_EQ(t.differ, 6u);
    EXPECT_EQ(t.matched, 1u);
    EXPECT_EQ(t.slower, 1u);
    EXPECT_EQ(t.notCompared[static_cast<std::size_t>(Skip::TargetFramingLost)], 1u);
    EXPECT_EQ(t.categories[static_cast<std::size_t>(Category::Status)], 5u);
    EXPECT_EQ(t.categories[static_cast<std::size_t>(Category::Missing)], 1u);
    const auto endpoints = report.endpoints();
    ASSERT_EQ(endpoints.size(), 4u);
    EXPECT_EQ(endpoints[0]->name, "GET /users/{n}");
    EXPECT_EQ(endpoints[0]->differ, 5u);
    EXPECT_EQ(endpoints[0]->samples.size(), 2u);
    EXPECT_EQ(endpoints[0]->samples[1].request, "GET /users/1 HTTP/1.1");
    EXPECT_EQ(endpoints[1]->name, "GET /gone");
    EXPECT_EQ(endpoints[2]->name, "GET /health");  // then by exchanges, then by name
    EXPECT_EQ(report.statuses().at("200"), (std::pair<std::uint64_t, std::uint64_t>{7, 1}));
    EXPECT_EQ(report.statuses().at("500"), (std::pair<std::uint64_t, std::uint64_t>{0, 5}));
    EXPECT_EQ(report.statuses().at("(none)"), (std::pair<std::uint64_t, std::uint64_t>{0, 1}));
    EXPECT_EQ(report.onlineLatency().count(), 7u);
}

TEST(DiffReport, BoundsEndpointsAndStatusKeys) {
    ReportLimits limits;
    limits.maxEndpoints = 3;
    limits.maxStatusKeys = 2;
    DiffReport report({}, limits);
    const std::string statuses[] = {"201", "202", "203", "204", "205"};
    for (int i = 0; i < 5; ++i) {
        const std::string answer = "HTTP/1.1 " + statuses[i] + " X\r\nContent-Length: 0\r\n\r\n";
        report.add(http("GET /p" + std::to_string(i) + " HTTP/1.1\r\n\r\n", answer, answer));
    }
    EXPECT_EQ(report.endpoints().size(), 4u);  // three, then "(other endpoints)"
    EXPECT_EQ(report.totals().otherEndpoints, 2u);
    EXPECT_EQ(report.statuses().size(), 3u);
    EXPECT_EQ(report.statuses().at("(other)").first, 3u);
}

TEST(DiffReport, SessionEndsAndFramingLossesAreCounted) {
    ReportLimits limits;
    limits.maxLostReasons = 2;
    DiffReport report({}, limits);
    ExchangeSink::SessionEnd end;
    end.midstream = true;
    report.onSessionEnd(end);
    end = {};
    end.unsolicited = 2;
    end.onlineFramingLost = "a";
    report.onSessionEnd(end);
    end = {};
    end.targetFramingLost = "b";
    report.onSessionEnd(end);
    end.targetFramingLost = "c";
    report.onSessionEnd(end);
    EXPECT_EQ(report.totals().sessions, 4u);
    EXPECT_EQ(report.totals().sessionsMidstream, 1u);
    EXPECT_EQ(report.totals().unsolicited, 2u);
    EXPECT_EQ(report.framingLost(), (std::map<std::string, std::uint64_t>{
                                        {"online: a", 1}, {"target: b", 1}, {"target: (other)", 1}}));
}

TEST(DiffReport, JsonDocumentHasTheDocumentedShape) {
    DiffReport report;
    report.add(http("GET /users/1 HTTP/1.1\r\n\r\n", kOk, kError, 2ms, 3ms));
    report.add(http("GET /users/2 HTTP/1.1\r\n\r\n", kOk, kOk, 2ms, 3ms));
    report.onSessionEnd({});
    ReportInfo info;
    info.facts = {{"capture", "prod.pcap"}, {"target", "198.18.1.2:80"}, {"bad", std::string("\xff\xfe", 2)}};
    const std::string text = report.toJson(info);
    EXPECT_EQ(text, report.toJson(info));  // stable
    const auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["schema"], "tcpcopy-compare/1");
    EXPECT_EQ(j["run"]["capture"], "prod.pcap");
    EXPECT_EQ(j["summary"]["compared"], 2);
    EXPECT_EQ(j["summary"]["differ"], 1);
    EXPECT_EQ(j["summary"]["sessions"], 1);
    EXPECT_EQ(j["summary"]["not_compared"].size(), kSkipCount - 1);
    EXPECT_EQ(j["summary"]["not_compared"]["target_framing_lost"], 0);
    EXPECT_EQ(j["summary"]["differences"]["status"], 1);
    EXPECT_EQ(j["summary"]["differences"].size(), kCategoryCount);
    EXPECT_EQ(j["rules"]["body"], "hash");
    EXPECT_EQ(j["status"][0]["kind"], "200");
    EXPECT_EQ(j["status"][0]["online"], 2);
    EXPECT_EQ(j["status"][0]["target"], 1);
    EXPECT_EQ(j["latency"]["online"]["count"], 2);
    EXPECT_EQ(j["latency"]["online"]["max_us"], 2000.0);
    EXPECT_EQ(j["latency"]["target"]["p50_us"], 3000.0);
    ASSERT_EQ(j["endpoints"].size(), 1u);
    const auto& e = j["endpoints"][0];
    EXPECT_EQ(e["protocol"], "http");
    EXPECT_EQ(e["endpoint"], "GET /users/{n}");
    EXPECT_EQ(e["exchanges"], 2);
    EXPECT_EQ(e["differ"], 1);
    ASSERT_EQ(e["samples"].size(), 1u);
    const auto& s = e["samples"][0];
    EXPECT_EQ(s["request"], "GET /users/1 HTTP/1.1");
    EXPECT_EQ(s["differences"][0], "status 200 -> 500");
    EXPECT_EQ(s["online"]["kind"], "200");
    EXPECT_EQ(s["online"]["latency_us"], 2000.0);
    EXPECT_EQ(s["target"]["size"], kError.size());
    EXPECT_EQ(s["target"]["text"], "HTTP/1.1 500 Oops\nContent-Length: 26\n\n<script>alert(1)</script>\n");
    EXPECT_EQ(s["target"]["gaps"], false);
}

TEST(Histogram, BucketsAreAtMostAQuarterWideAndQuantilesBounded) {
    LatencyHistogram h;
    for (int i = 1; i <= 100; ++i) h.add(std::chrono::microseconds(i * 10));
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.max(), 1000us);
    const auto p50 = h.quantile(0.5);
    EXPECT_GE(p50, 500us);
    EXPECT_LE(p50, 625us);
    EXPECT_EQ(h.quantile(1.0), 1000us);
    EXPECT_EQ(LatencyHistogram::bucketOf(0ns), 0u);
    EXPECT_EQ(LatencyHistogram::bucketOf(std::chrono::hours(1)), LatencyHistogram::kBuckets - 1);
    for (std::size_t i = 1; i + 1 < LatencyHistogram::kBuckets; ++i) {
        const auto lower = LatencyHistogram::upperBound(i - 1);
        const auto upper = LatencyHistogram::upperBound(i);
        EXPECT_LE(static_cast<double>(upper.count()), static_cast<double>(lower.count()) * 1.25 + 1) << i;
        EXPECT_EQ(LatencyHistogram::bucketOf(lower), i) << i;
        EXPECT_EQ(LatencyHistogram::bucketOf(upper - 1ns), i) << i;
    }
}

}  // namespace
}  // namespace tcpcopy::diff::testing
