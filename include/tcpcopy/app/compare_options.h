#pragma once
// tcpcopy's --compare-* options (the regression diff, docs/regression-diff.md): their declarations
// in the option table, so that each is also a config-file key, and their checks once parsed.

#include <string>

#include "tcpcopy/app/compare_wiring.h"
#include "tcpcopy/config/options.h"

namespace tcpcopy::app {

// The payload bytes per response asked of intercept when comparison is on and
// --response-payload is not given: enough for the headers and the start of most bodies.
inline constexpr unsigned kCompareDefaultPayload = 4096;

struct CompareSettings {
    CompareConfig config;
    double sizeTolerance = 0;
    double slowerFactor = 2.0;
    unsigned slowerMarginMs = 20;
    unsigned samples = 3;
    unsigned sampleBytes = 1024;
    unsigned maxSessions = 10000;
};

void declareCompareOptions(config::OptionTable& table, CompareSettings& settings);

// Settles the comparison's configuration: its rules, and the payload it needs. `responsePayload`
// (--response-payload) gets kCompareDefaultPayload when comparison is on and it was not given;
// comparison with --response-payload 0, without an intercept, or of a live capture (which takes
// only the packets coming in: the online server's answers are not in it) is an error. Returns ""
// or the error line naming the flag.
std::string finalizeCompareOptions(CompareSettings& settings, const config::OptionTable& table,
                                   unsigned& responsePayload, bool haveIntercept, bool haveTcpRules,
                                   bool captureFile);

}  // namespace tcpcopy::app
