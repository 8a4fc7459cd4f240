#pragma once
// tcpcopy's counters, each declared once (src/app/replay_metrics.cpp: name, help, unit, and its
// name on /metrics when it is served there), and every text made from them: the summary at exit,
// the periodic stats line and systemd's STATUS=. The JSON report (--report) is the registry
// rendered (stats::renderJson) and /metrics its Prometheus rendering; docs/metrics.md lists
// what /metrics serves.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tcpcopy/app/compare_wiring.h"
#include "tcpcopy/app/udp_copy.h"
#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/stats/registry.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {

// What the replay counts itself: the frames the input handed over, by what decoding made of them,
// and the tunnel's response headers that did not decode.
struct FrameCounters {
    std::uint64_t frames = 0;
    std::uint64_t notTcp = 0;
    std::uint64_t ipv6 = 0;
    std::uint64_t ipv6ExtensionHeaders = 0;  // frames whose IPv6 extension headers were skipped
    std::uint64_t fragments = 0;
    std::uint64_t malformed = 0;
    std::uint64_t responsesMalformed = 0;
    // --response-payload: responses whose payload reached the replay, and those payload bytes (what
    // the regression diff will reassemble; nothing is kept yet).
    std::uint64_t payloadResponses = 0;
    std::uint64_t payloadBytes = 0;

    // Counts one decoded frame by its status.
    void count(const net::DecodeResult& decoded);
};

// Where the replay's numbers live; each getter is called when the registry is rendered and must
// stay callable while it lives.
struct ReplaySources {
    std::function<const session::EngineStats&()> engine;
    std::function<const inject::InjectCounters&()> injector;
    // nullptr: no tunnel (-L without intercept); its counters then have no value.
    std::function<const tunnel::TunnelClient*()> tunnel;
    std::function<const FrameCounters&()> frames;
    // The live capture's counters; nullopt offline (its counters then have no value).
    std::function<std::optional<capture::CaptureStats>()> capture;
    // sendBatch calls made by the end-of-turn output batch.
    std::function<std::uint64_t()> injectBatches;
    // Capture time cut out by -I, every pass.
    std::function<std::chrono::nanoseconds()> idleSkipped;
    // Time since tcpcopy started.
    std::function<std::chrono::nanoseconds()> elapsed;
    std::uint64_t memoryLimitBytes = 0;  // -m
    // -x udp: the copier's counters and those of the injector that sends its packets; nullptr
    // without UDP rules (the udp.* counters then have no value).
    std::function<const UdpCopyStats*()> udp;
    std::function<const inject::InjectCounters*()> udpInjector;
    // --compare-*: the regression diff's counters; nullptr (or unset) when comparison is off (the
    // responses.* counters then have no value).
    std::function<const CompareCounters*()> compare;
};

// Declares every counter of tcpcopy on `registry` (prefix "tcpcopy").
void registerReplayMetrics(stats::Registry& registry, const ReplaySources& sources);

// The summary printed at exit. `live` adds the capture's line, `tunnel` the tunnel's, `udp` the
// UDP copy's, `payloads` (with a tunnel and --response-payload) the response payloads',
// `hooks` (--protocol) the protocol hooks' and `compare` (--compare-*) "responses: N compared, M
// differ". Labels: "capture.backend".
std::string renderReplaySummary(const stats::Registry& registry, const stats::Labels& labels, bool live,
                                bool tunnel, bool udp = false, bool payloads = false, bool hooks = false,
                                bool compare = false);
// The periodic "stats: ..." log line. Labels: "tunnel" (up, down or none).
std::string renderReplayStatsLine(const stats::Registry& registry, const stats::Labels& labels);
// systemd's STATUS= line.
std::string renderReplayStatus(const stats::Registry& registry);

}  // namespace tcpcopy::app
