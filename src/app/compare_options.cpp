#include "tcpcopy/app/compare_options.h"

namespace tcpcopy::app {
namespace {

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
    return text;
}

}  // namespace

void declareCompareOptions(config::OptionTable& t, CompareSettings& s) {
    CompareConfig& c = s.config;
    t.string('\0', "compare-report", c.reportFile,
             "Compare each replayed response with the captured one and write the regression diff as JSON "
             "(tcpcopy-compare/1) to this file at exit; implies --response-payload 4096")
        .group("Compare")
        .valueName("FILE");
    t.string('\0', "compare-html", c.htmlFile,
             "The same comparison as one self-contained HTML page (summary, mismatches by endpoint with "
             "samples, status codes and latencies online against the target)")
        .group("Compare")
        .valueName("FILE");
    t.custom(
         '\0', "compare-protocol", "PROTO", "auto",
         [&c](std::string_view text) { return parseCompareProtocol(text, c); },
         "How requests and responses are framed: auto, http, redis or generic for every -x rule, or "
         "PORT=PROTO[,PORT=PROTO...] by the rules' online port (others: auto, from the client's first "
         "bytes)")
        .group("Compare");
    t.custom(
         '\0', "compare-headers", "LIST", "",
         [&c](std::string_view text) { return diff::parseHeaderList(text, c.rules.headers); },
         "HTTP headers compared, comma-separated (empty: every header but the ignored ones)")
        .group("Compare");
    t.custom(
         '\0', "compare-ignore-headers", "LIST", joined(diff::defaultIgnoredHeaders()),
         [&c](std::string_view text) { return diff::parseHeaderList(text, c.rules.ignoreHeaders); },
         "HTTP headers never compared, comma-separated (Set-Cookie is compared by cookie names)")
        .group("Compare");
    t.custom(
         '\0', "compare-body", "RULE", "hash",
         [&c](std::string_view text) -> std::string {
             auto rule = diff::parseBodyRule(text);
             if (!rule) return "expects hash, size or none, got '" + std::string(text) + "'";
             c.rules.body = *rule;
             return {};
         },
         "How bodies are compared: hash (equal bytes), size (within --compare-size-tolerance) or none")
        .group("Compare");
    t.number('\0', "compare-size-tolerance", s.sizeTolerance, 0.0, 1000.0,
             "With --compare-body size: the body sizes may differ by this many percent")
        .group("Compare")
        .valueName("PERCENT");
    t.custom(
         '\0', "compare-type-only", "LIST", joined(diff::defaultTypeOnlyCommands()),
         [&c](std::string_view text) { return diff::parseCommandList(text, c.rules.typeOnlyCommands); },
         "Redis commands whose replies are compared by type only (their values differ by nature)")
        .group("Compare");
    t.number('\0', "compare-slower-factor", s.slowerFactor, 1.0, 1000000.0,
             "A request is slower when the target took more than this many times the online time...")
        .group("Compare");
    t.integer('\0', "compare-slower-margin", s.slowerMarginMs, 0u, 3600000u,
              "...and at least this many milliseconds more")
        .group("Compare")
        .valueName("MS");
    t.integer('\0', "compare-samples", s.samples, 0u, 100u,
              "Mismatches kept per endpoint with both responses, as samples")
        .group("Compare");
    t.integer('\0', "compare-sample-bytes", s.sampleBytes, 16u, 65536u,
              "Bytes of each response shown in a sample")
        .group("Compare")
        .valueName("BYTES");
    t.integer('\0', "compare-max-sessions", s.maxSessions, 1u, 10'000'000u,
              "Connections followed for comparison at once; beyond, new ones are not compared (counted)")
        .group("Compare");
}

std::string finalizeCompareOptions(CompareSettings& s, const config::OptionTable& table,
                                   unsigned& responsePayload, bool haveIntercept, bool haveTcpRules,
                                   bool captureFile) {
    CompareConfig& c = s.config;
    c.rules.sizeTolerancePercent = s.sizeTolerance;
    c.rules.slowerFactor = s.slowerFactor;
    c.rules.slowerMargin = std::chrono::milliseconds(s.slowerMarginMs);
    c.limits.samplesPerEndpoint = s.samples;
    c.limits.sampleBytes = s.sampleBytes;
    c.maxCollectors = s.maxSessions;
    if (std::string error = diff::validateRules(c.rules); !error.empty()) return "--compare-*: " + error;
    if (!c.enabled()) return {};
    const std::string flag = c.reportFile.empty() ? "--compare-html" : "--compare-report";
    if (!haveTcpRules) return flag + " compares TCP responses: -x has no TCP rule";
    if (!haveIntercept) return flag + " needs the responses: give intercept (-s), not -L alone";
    if (!captureFile) {
        return flag + " compares with the answers in a capture file (-i FILE): a live capture takes only " +
               "the packets coming in, not the online server's answers";
    }
    if (!table.isSet("response-payload")) {
        responsePayload = kCompareDefaultPayload;
    } else if (responsePayload == 0) {
        return flag + " needs the responses' payload: --response-payload must not be 0";
    }
    return {};
}

}  // namespace tcpcopy::app
