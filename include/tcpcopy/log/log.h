#pragma once
// Logging: one spdlog logger per component tag, a runtime level, and sinks tests can capture.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

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
// The logger for a component tag ("tunnel", "session", ...), created on first use.
std::shared_ptr<spdlog::logger> component(std::string_view tag);

}  // namespace tcpcopy::log
