#pragma once
// The progress line an offline replay shows on a terminal.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace tcpcopy::app {

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
