#include "tcpcopy/log/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace tcpcopy::log {
namespace {

// The logging state is process-wide by nature (spdlog's registry is); it is kept here, behind
// this module's functions, and nothing else in the code base holds mutable globals.
struct State {
    std::mutex mutex;
    std::shared_ptr<spdlog::sinks::dist_sink_mt> dist = std::make_shared<spdlog::sinks::dist_sink_mt>();
    std::shared_ptr<spdlog::sinks::sink> primary = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    std::shared_ptr<spdlog::sinks::sink> extra;
    std::string file;
    spdlog::level::level_enum level = spdlog::level::info;
    std::string pattern =
        "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";  // configure() picks kPattern or kJournalPattern
    // A log write failed (full disk, /dev/full, I/O error) and this was said on stderr; cleared
    // when the file is reopened, so a new episode is reported again.
    std::atomic<bool> writeFailureReported{false};

    State() { dist->add_sink(primary); }
};

State& state() {
    static State s;
    return s;
}

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";
// The journal stamps every line itself: no second timestamp.
constexpr const char* kJournalPattern = "%-5l [%n] %v";

// True when stderr is the journal's stream (JOURNAL_STREAM names stderr's device:inode), as when
// systemd runs the daemon: see systemd.exec(5).
bool stderrIsJournal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    std::uintmax_t dev = 0;
    std::uintmax_t ino = 0;
    if (std::sscanf(stream, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<std::uintmax_t>(st.st_dev) == dev && static_cast<std::uintmax_t>(st.st_ino) == ino;
}

const char* patternFor(const std::string& file) {
    return file.empty() && stderrIsJournal() ? kJournalPattern : kPattern;
}

// A log line that cannot be written must not stop the daemon: say so once on stderr (spdlog's
// default handler repeats itself every second), drop the lines until the file works again.
void onLogWriteError(const std::string& what) {
    State& s = state();
    if (s.writeFailureReported.exchange(true)) return;
    std::fprintf(stderr,
                 "%s: log: cannot write to %s (%s); going on, without the lines that cannot be written\n",
                 program_invocation_short_name, s.file.empty() ? "stderr" : s.file.c_str(), what.c_str());
    std::fflush(stderr);
}

}  // namespace

std::string configure(const Options& options) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    std::shared_ptr<spdlog::sinks::sink> primary;
    if (options.file.empty()) {
        primary = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
        try {
            primary = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, false);
        } catch (const spdlog::spdlog_ex& e) {
            return "cannot open log file " + options.file + ": " + e.what();
        }
    }
    s.dist->remove_sink(s.primary);
    s.primary = primary;
    s.dist->add_sink(s.primary);
    s.file = options.file;
    s.pattern = patternFor(s.file);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_pattern(s.pattern); });
    primary->set_pattern(s.pattern);
    s.level = options.level;
    s.writeFailureReported = false;
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(s.level); });
    return {};
}

void reopen() {
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (s.file.empty()) return;
    try {
        auto fresh = std::make_shared<spdlog::sinks::basic_file_sink_mt>(s.file, false);
        fresh->set_pattern(s.pattern);
        s.dist->remove_sink(s.primary);
        s.primary = fresh;
        s.dist->add_sink(s.primary);
        s.writeFailureReported = false;
    } catch (const spdlog::spdlog_ex&) {
        // Keep logging to the old descriptor rather than losing lines.
    }
}

void setExtraSink(std::shared_ptr<spdlog::sinks::sink> sink) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (s.extra) s.dist->remove_sink(s.extra);
    s.extra = std::move(sink);
    if (s.extra) s.dist->add_sink(s.extra);
}

std::shared_ptr<spdlog::logger> component(std::string_view tag) {
    State& s = state();
    std::string name(tag);
    if (auto existing = spdlog::get(name)) return existing;
    std::lock_guard lock(s.mutex);
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = std::make_shared<spdlog::logger>(name, s.dist);
    logger->set_level(s.level);
    logger->set_pattern(s.pattern);
    // Daemon logs are read while the daemon runs (tail -f, tests): every line goes out at once.
    logger->flush_on(spdlog::level::trace);
    logger->set_error_handler(onLogWriteError);
    spdlog::register_logger(logger);
    return logger;
}

std::string parseLevel(std::string_view text, spdlog::level::level_enum& out) {
    const auto level = spdlog::level::from_str(std::string(text));
    if (level == spdlog::level::off && text != "off") {
        return "must be one of trace, debug, info, warning, error, critical, off";
    }
    out = level;
    return {};
}

std::string printable(std::string_view peerText, std::size_t maxBytes) {
    const std::string_view shown = peerText.substr(0, maxBytes);
    std::string out;
    out.reserve(shown.size() + 16);
    for (const char c : shown) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7E || c == '\\') {
            out += fmt::format("\\x{:02x}", byte);
        } else {
            out += c;
        }
    }
    if (peerText.size() > shown.size()) out += fmt::format("...({} bytes)", peerText.size());
    return out;
}

bool Throttle::allow(std::chrono::steady_clock::time_point now) {
    if (now >= windowEnd_) {
        windowEnd_ = now + interval_;
        used_ = 0;
    }
    if (used_ >= perInterval_) {
        ++pending_;
        return false;
    }
    ++used_;
    suppressed_ = pending_;
    pending_ = 0;
    return true;
}

}  // namespace tcpcopy::log
