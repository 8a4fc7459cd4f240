#pragma once
// The operations side of a replay: the statistics registry behind --metrics (names documented
// in docs/metrics.md) and the progress line an offline replay shows on a terminal.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/stats/registry.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {

// Where the replay's numbers live; each getter is called when the registry is rendered and must
// stay callable while it lives. `tunnel` may return nullptr (-L without intercept).
struct ReplaySources {
    std::function<const session::EngineStats&()> engine;
    std::function<const inject::InjectCounters&()> injector;
    std::function<const tunnel::TunnelClient*()> tunnel;
    std::function<std::uint64_t()> frames;
    // The live capture's counters; nullopt offline (the capture metrics then stay 0).
    std::function<std::optional<capture::CaptureStats>()> capture;
    // sendBatch calls made by the end-of-turn output batch.
    std::function<std::uint64_t()> injectBatches;
};

// Registers tcpcopy's metrics (prefix "tcpcopy") on `registry`.
void registerReplayMetrics(stats::Registry& registry, ReplaySources sources);

// One progress line, redrawn in place with \r:
//   "replay  42.0% | sessions 3 active, 17 done | 250.0 req/s | ETA 0:12"
// Only for a terminal: enabled() is false when `out` is not a tty.
class ProgressLine {
  public:
    using Clock = std::chrono::steady_clock;

    ProgressLine(std::FILE* out, bool enabled);
    bool enabled() const { return enabled_; }

    // `fraction` of the input read (0..1); sessions and requests so far.
    void update(double fraction, std::uint64_t activeSessions, std::uint64_t doneSessions,
                std::uint64_t requests, Clock::time_point now);
    // Clears the line so later output starts at column 0.
    void clear();

    // The text update() draws, for tests.
    static std::string render(double fraction, std::uint64_t activeSessions, std::uint64_t doneSessions,
                              double requestsPerSecond, std::optional<std::chrono::seconds> eta);

  private:
    std::FILE* out_;
    bool enabled_;
    bool drawn_ = false;
    std::size_t lastWidth_ = 0;
    Clock::time_point start_{};
    bool started_ = false;
};

}  // namespace tcpcopy::app
