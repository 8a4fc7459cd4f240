#pragma once
// Logging: one spdlog logger per component tag, a runtime level, and sinks tests can capture.

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tcpcopy::log {

struct Options {
    spdlog::level::level_enum level = spdlog::level::info;
    std::string file;  // empty: stderr
};

// Sets level and destination for every component logger, existing and future.
// Returns an error text (naming the file) when the log file cannot be opened.
std::string configure(const Options& options);
// Reopens the log file (SIGHUP after rotation). No-op when logging to stderr.
void reopen();
// Routes all component loggers to `sink` in addition (tests); pass nullptr to remove.
void setExtraSink(std::shared_ptr<spdlog::sinks::sink> sink);
// Parses a --log-level value (trace, debug, info, warning, error, critical, off). Returns "" or a
// reason phrase for the option table.
std::string parseLevel(std::string_view text, spdlog::level::level_enum& out);
// The logger for a component tag ("tunnel", "session", ...), created on first use.
std::shared_ptr<spdlog::logger> component(std::string_view tag);

// Text a peer sent (a REJECT reason, a HELLO instance id), made safe for one log line: control
// characters, DEL, backslash and bytes above 0x7E become \xNN escapes, and the result is cut to
// `maxBytes` of the input with "...(N bytes)" appended, so a peer can neither forge log lines nor
// flood one.
std::string printable(std::string_view peerText, std::size_t maxBytes = 128);

// Logs a recurring condition at most `perInterval` times per interval: allow() says whether this
// occurrence may be logged; after an allowed one, suppressed() is how many were refused since the
// previous allowed one (to say "and N more").
class Throttle {
  public:
    explicit Throttle(std::chrono::steady_clock::duration interval, std::uint32_t perInterval = 1)
        : interval_(interval), perInterval_(perInterval) {}
    bool allow(std::chrono::steady_clock::time_point now);
    std::uint64_t suppressed() const { return suppressed_; }

  private:
    std::chrono::steady_clock::duration interval_;
    std::uint32_t perInterval_;
    std::chrono::steady_clock::time_point windowEnd_{};
    std::uint32_t used_ = 0;
    std::uint64_t suppressed_ = 0;
    std::uint64_t pending_ = 0;
};

}  // namespace tcpcopy::log
