#pragma once
// --check, on each side: what docs/troubleshooting.md asks to verify by hand on the tcpcopy host
// and on the assistant. Each prints one line per finding to stdout ("ok: ...", "info: ...",
// "warning: ...", "problem: ... -> fix") and returns 0 when nothing is a problem, 1 otherwise.

#include "tcpcopy/app/intercept_app.h"
#include "tcpcopy/app/replay_options.h"

namespace tcpcopy::app {

// `tcpcopy --check`: privileges, the input and filter, the route to each target, each intercept
// reachable and answering the tunnel handshake.
int runReplayChecks(const ReplayOptions& options);

// `intercept --check`: privileges, devices and filter, ip_forward and rp_filter, the tunnel port
// and who may connect to it.
int runInterceptChecks(const InterceptConfig& config);

}  // namespace tcpcopy::app
