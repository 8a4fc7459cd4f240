#include "tcpcopy/app/progress_line.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace tcpcopy::app {

ProgressLine::ProgressLine(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {}

std::string ProgressLine::render(double fraction, std::uint64_t active, std::uint64_t done, double rate,
                                 std::optional<std::chrono::seconds> eta) {
    std::string etaText = "--:--";
    if (eta) {
        const auto s = eta->count();
        etaText = s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                            : fmt::format("{}:{:02}", s / 60, s % 60);
    }
    return fmt::format("replay {:5.1f}% | sessions {} active, {} done | {:.1f} req/s | ETA {}",
                       std::clamp(fraction, 0.0, 1.0) * 100.0, active, done, rate, etaText);
}

void ProgressLine::update(double fraction, std::uint64_t active, std::uint64_t done, std::uint64_t requests,
                          Clock::time_point now) {
    if (!enabled_) return;
    if (!started_) {
        started_ = true;
        start_ = now;
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(requests) / elapsed : 0.0;
    std::optional<std::chrono::seconds> eta;
    if (fraction > 0.001 && elapsed > 0) {
        eta = std::chrono::seconds(
            static_cast<std::int64_t>(elapsed * (1.0 - std::min(fraction, 1.0)) / fraction));
    }
    const std::string text = render(fraction, active, done, rate, eta);
    // Pad over a longer previous line.
    const std::size_t pad = lastWidth_ > text.size() ? lastWidth_ - text.size() : 0;
    std::fprintf(out_, "\r%s%*s", text.c_str(), static_cast<int>(pad), "");
    std::fflush(out_);
    lastWidth_ = text.size();
    drawn_ = true;
}

void ProgressLine::clear() {
    if (!enabled_ || !drawn_) return;
    std::fprintf(out_, "\r%*s\r", static_cast<int>(lastWidth_), "");
    std::fflush(out_);
    drawn_ = false;
}

}  // namespace tcpcopy::app
