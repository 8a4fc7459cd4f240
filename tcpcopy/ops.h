#pragma once
// tcpcopy's operations options: --metrics (Prometheus /metrics) and --check (preflight), kept
// apart from main.cpp so the wiring there stays a few lines.

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/config/options.h"

namespace tcpcopy::ops {

struct OpsOptions {
    bool check = false;
};

// Declares --metrics ADDR:PORT (into replay.metrics) and --check, group "Operations".
void declareOpsOptions(config::OptionTable& table, app::ReplayOptions& replay, OpsOptions& ops);

// `tcpcopy --check`: what the troubleshooting guide asks to verify by hand on the tcpcopy host.
// Prints one line per finding ("ok: ...", "info: ...", "problem: ... -> fix") to stdout and
// returns 0 when nothing is a problem, 1 otherwise.
int runChecks(const app::ReplayOptions& replay);

}  // namespace tcpcopy::ops
