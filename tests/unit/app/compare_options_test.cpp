// The --compare-* options: each flag (and config-file key) lands in the comparison's config, the
// payload it implies, and the refusals.
#include "tcpcopy/app/compare_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tcpcopy::app {
namespace {

using namespace std::chrono_literals;

struct Parsed {
    config::OptionTable table{"tcpcopy", "test"};
    CompareSettings settings;
    unsigned responsePayload = 0;
    config::ParseResult result;
    std::string error;

    explicit Parsed(const std::vector<std::string>& args, bool captureFile = true) {
        table.integer('\0', "response-payload", responsePayload, 0u, 65535u, "payload");
        declareCompareOptions(table, settings);
        result = table.parse(args);
        if (result.outcome == config::Outcome::Run)
            error = finalizeCompareOptions(settings, table, responsePayload, true, true, captureFile);
    }
};

TEST(CompareOptions, OffByDefaultAndNothingImplied) {
    Parsed p({});
    EXPECT_EQ(p.error, "");
    EXPECT_FALSE(p.settings.config.enabled());
    EXPECT_EQ(p.responsePayload, 0u);
    EXPECT_EQ(p.settings.config.rules.body, diff::BodyRule::Hash);
    EXPECT_EQ(p.settings.config.rules.ignoreHeaders, diff::defaultIgnoredHeaders());
}

TEST(CompareOptions, EveryRuleFlagLandsInTheConfig) {
    Parsed p({"--compare-report",         "d.json",
              "--compare-html",           "d.html",
              "--compare-protocol",       "80=http,6379=redis",
              "--compare-headers",        "Content-Type, X-Version",
              "--compare-ignore-headers", "date",
              "--compare-body",           "size",
              "--compare-size-tolerance", "5",
              "--compare-type-only",      "time,info",
              "--compare-slower-factor",  "3",
              "--compare-slower-margin",  "50",
              "--compare-samples",        "7",
              "--compare-sample-bytes",   "300",
              "--compare-max-sessions",   "99"});
    ASSERT_EQ(p.result.outcome, config::Outcome::Run) << p.result.text;
    ASSERT_EQ(p.error, "");
    const CompareConfig& c = p.settings.config;
    EXPECT_EQ(c.reportFile, "d.json");
    EXPECT_EQ(c.htmlFile, "d.html");
    EXPECT_EQ(c.protocolFor(net::Port(6379)), diff::Protocol::Resp);
    EXPECT_EQ(c.rules.headers, (std::vector<std::string>{"content-type", "x-version"}));
    EXPECT_EQ(c.rules.ignoreHeaders, std::vector<std::string>{"date"});
    EXPECT_EQ(c.rules.body, diff::BodyRule::Size);
    EXPECT_EQ(c.rules.sizeTolerancePercent, 5.0);
    EXPECT_EQ(c.rules.typeOnlyCommands, (std::vector<std::string>{"TIME", "INFO"}));
    EXPECT_EQ(c.rules.slowerFactor, 3.0);
    EXPECT_EQ(c.rules.slowerMargin, 50ms);
    EXPECT_EQ(c.limits.samplesPerEndpoint, 7u);
    EXPECT_EQ(c.limits.sampleBytes, 300u);
    EXPECT_EQ(c.maxCollectors, 99u);
    EXPECT_EQ(p.responsePayload, kCompareDefaultPayload);  // implied
}

TEST(CompareOptions, TheRulesComeFromTheConfigFileToo) {
    config::OptionTable table{"tcpcopy", "test"};
    CompareSettings settings;
    declareCompareOptions(table, settings);
    const auto r = table.applyConfigText("compare-body = none\ncompare-ignore-headers =\n", "t.conf");
    ASSERT_EQ(r.outcome, config::Outcome::Run) << r.text;
    EXPECT_EQ(settings.config.rules.body, diff::BodyRule::None);
    EXPECT_TRUE(settings.config.rules.ignoreHeaders.empty());
}

TEST(CompareOptions, AGivenPayloadIsKeptAndZeroIsRefused) {
    EXPECT_EQ(Parsed({"--compare-html", "d.html", "--response-payload", "512"}).responsePayload, 512u);
    EXPECT_EQ(Parsed({"--compare-html", "d.html", "--response-payload", "0"}).error,
              "--compare-html needs the responses' payload: --response-payload must not be 0");
    EXPECT_NE(Parsed({"--compare-report", "d.json"}, false).error.find("a live capture takes only"),
              std::string::npos);
    EXPECT_EQ(Parsed({"--compare-body", "crc"}).result.outcome, config::Outcome::Error);
    EXPECT_EQ(Parsed({"--compare-headers", "a b"}).result.outcome, config::Outcome::Error);
    EXPECT_EQ(Parsed({"--compare-size-tolerance", "2000"}).result.outcome, config::Outcome::Error);
}

}  // namespace
}  // namespace tcpcopy::app
