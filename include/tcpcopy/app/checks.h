#pragma once
// --check, on each side: what docs/troubleshooting.md asks to verify by hand on the tcpcopy host
// and on the assistant. Each prints one line per finding to stdout ("ok: ...", "info: ...",
// "warning: ...", "problem: ... -> fix") and returns 0 when nothing is a problem, 1 otherwise.

#include "tcpcopy/app/intercept_app.h"
#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/os/preflight.h"

namespace tcpcopy::app {

// `tcpcopy --check`: privileges, the input and filter, the route to each target, each intercept
// reachable and answering the tunnel handshake.
int runReplayChecks(const ReplayOptions& options);

// `intercept --check`: privileges, devices and filter, ip_forward and rp_filter, the tunnel port
// and who may connect to it.
// With --nfqueue: the queue rule instead of devices, filter and ip_forward.
int runInterceptChecks(const InterceptConfig& config);

// The NFQUEUE part of `intercept --check` (queue_checks.cpp): a netfilter rule queues to the
// queue, no other program holds it, the pass list parses.
void checkQueue(const InterceptConfig& config, os::Preflight& report);
// True when `ruleset` (the output of `nft list ruleset` or `iptables-save`) has a rule that
// queues packets to `queue`: "queue num N", "queue ... to N", "-j NFQUEUE --queue-num N", or a
// bare "-j NFQUEUE" for queue 0.
bool rulesetQueuesTo(std::string_view ruleset, std::uint16_t queue);

}  // namespace tcpcopy::app
