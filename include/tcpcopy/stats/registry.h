#pragma once
// Statistics: a registry of named uint64 counters and gauges owned by the application object
// (no globals), and renderers for the periodic log line, the JSON report (--report FILE) and
// the Prometheus text exposition format (served by stats::MetricsServer, --metrics ADDR:PORT).
//
//     stats::Registry registry("tcpcopy");
//     stats::Counter injected = registry.counter("packets_injected", "IPv4 packets injected");
//     stats::Gauge sessions = registry.gauge("sessions_active", "Sessions being replayed");
//     registry.counterFn("inject_errors", "Packets the injector failed to send",
//                        [&] { return injector.counters().errors; });
//     injected.inc();
//     log->info("{}", stats::renderSummary(registry));  // packets_injected=1 sessions_active=0 ...
//
// Names match [a-zA-Z_][a-zA-Z0-9_]* and are unique; a bad or repeated name is a programming
// error and aborts. Metrics keep registration order in every rendering. Single-threaded, like
// the event loop that updates them: handles are plain pointers into the registry, valid while
// it lives.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpcopy::stats {

enum class MetricType { Counter, Gauge };

// A monotonically increasing count. Cheap to copy; points into its Registry.
class Counter {
  public:
    void inc(std::uint64_t n = 1) { *value_ += n; }
    std::uint64_t value() const { return *value_; }

  private:
    friend class Registry;
    explicit Counter(std::uint64_t* value) : value_(value) {}
    std::uint64_t* value_;
};

// A value that goes up and down (sessions open, bytes queued). sub() saturates at zero.
class Gauge {
  public:
    void set(std::uint64_t v) { *value_ = v; }
    void add(std::uint64_t n = 1) { *value_ += n; }
    void sub(std::uint64_t n = 1) { *value_ = *value_ >= n ? *value_ - n : 0; }
    std::uint64_t value() const { return *value_; }

  private:
    friend class Registry;
    explicit Gauge(std::uint64_t* value) : value_(value) {}
    std::uint64_t* value_;
};

struct Sample {
    std::string_view name;
    std::string_view help;
    MetricType type;
    std::uint64_t value;
};

class Registry {
  public:
    // `prefix` names the program ("tcpcopy", "intercept"); Prometheus names get "<prefix>_".
    explicit Registry(std::string prefix);
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;
    ~Registry();

    Counter counter(std::string name, std::string help);
    Gauge gauge(std::string name, std::string help);
    // Metrics whose value is read from elsewhere (a module's own counters, a table's size) each
    // time the registry is rendered. `read` must stay callable while the registry lives.
    void counterFn(std::string name, std::string help, std::function<std::uint64_t()> read);
    void gaugeFn(std::string name, std::string help, std::function<std::uint64_t()> read);

    // Current values, in registration order.
    std::vector<Sample> snapshot() const;
    std::optional<std::uint64_t> value(std::string_view name) const;
    const std::string& prefix() const { return prefix_; }

  private:
    struct Entry;
    Entry& add(std::string name, std::string help, MetricType type);

    std::string prefix_;
    std::vector<std::unique_ptr<Entry>> entries_;
};

// "packets_injected=12 sessions_active=3" (no trailing newline).
std::string renderSummary(const Registry& registry);
// A JSON object of name to value in registration order, pretty-printed with two-space indents
// and a trailing newline: {"packets_injected": 12, ...}.
std::string renderJson(const Registry& registry);
// Prometheus text exposition format 0.0.4: per metric "# HELP", "# TYPE" and the sample line.
// Names are "<prefix>_<name>", counters with a "_total" suffix. Help text escapes \ and newline.
std::string renderPrometheus(const Registry& registry);

// Writes renderJson() to `path` atomically (a temporary file beside it, then rename).
// Returns "" on success, otherwise "PATH: reason".
std::string writeJsonReport(const Registry& registry, const std::string& path);

}  // namespace tcpcopy::stats
