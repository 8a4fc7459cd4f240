#pragma once
// intercept's operations options: --metrics (Prometheus /metrics), --check (preflight) and the
// code behind them. Kept apart from main.cpp so the wiring there stays a few lines.

#include <optional>

#include "intercept_app.h"
#include "tcpcopy/config/options.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::intercept {

struct OpsOptions {
    bool check = false;
};

// Declares --metrics ADDR:PORT (into config.metrics) and --check, group "Operations".
void declareOpsOptions(config::OptionTable& table, InterceptConfig& config, OpsOptions& ops);

// `intercept --check`: what the troubleshooting guide asks to verify by hand on the assistant.
// Prints one line per finding to stdout ("ok: ...", "info: ...", "problem: ... -> fix") and
// returns 0 when nothing is a problem, 1 otherwise.
int runChecks(const InterceptConfig& config);

}  // namespace tcpcopy::intercept
