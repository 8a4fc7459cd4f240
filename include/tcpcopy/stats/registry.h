#pragma once
// Statistics: the one place a daemon declares its counters. A registry of named uint64 counters
// and gauges owned by the application object (no globals), each declared once with its name,
// help text and unit, and the renderings every output is made from: the JSON report (--report),
// the Prometheus text exposition format (served by stats::MetricsServer, --metrics ADDR:PORT)
// and text lines (the summary, the periodic stats line, systemd's STATUS=) written as templates
// that name the metrics.
//
//     stats::Registry registry("tcpcopy");
//     stats::Counter injected = registry.counter("packets_injected", "IPv4 packets injected");
//     registry.counterFn("inject_errors", "Packets the injector failed to send",
//                        [&] { return injector.counters().errors; });
//     registry.add({"sessions.started", "Sessions replayed", MetricType::Counter, Unit::None, std::nullopt},
//                  [&] { return engine.stats().sessionsStarted; });  // /metrics: sessions_started
//     injected.inc();
//     log->info("{}", stats::renderText(registry, "stats: injected={packets_injected}"));
//
// A name is one or more segments of [a-zA-Z_][a-zA-Z0-9_]* joined by dots; the dots nest the
// JSON report's objects ("sessions.started" is {"sessions": {"started": N}}). Names are unique;
// a bad or repeated name is a programming error and aborts, and so is a template naming a metric
// that does not exist. Metrics keep registration order in every rendering. Single-threaded, like
// the event loop that updates them: handles are plain pointers into the registry, valid while it
// lives.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpcopy::stats {

enum class MetricType { Counter, Gauge };

// What the integer counts. A duration is counted in nanoseconds and shown in seconds (a number
// with a fraction) in the JSON report and on /metrics.
enum class Unit { None, Bytes, Microseconds, Nanoseconds };

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

// One metric's declaration.
struct MetricInfo {
    std::string name;  // dotted path, see above
    std::string help;
    MetricType type = MetricType::Counter;
    Unit unit = Unit::None;
    // Its name on /metrics, before the program prefix and a counter's "_total"; "" keeps it off
    // /metrics (the report and text lines only). std::nullopt: the name, dots made underscores.
    std::optional<std::string> exposedAs;
};

struct Sample {
    std::string_view name;
    std::string_view help;
    MetricType type;
    Unit unit;
    std::string_view exposedName;  // "" when not served on /metrics
    // nullopt when the metric has no value in this run (no live capture, no tunnel): left out of
    // the report, 0 on /metrics and in text lines.
    std::optional<std::uint64_t> value;
};

// Text values a rendering puts beside the metrics (the input's name, "up"/"down"), by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
  public:
    // Reads a metric's current value; nullopt when it has none in this run.
    using ReadFn = std::function<std::optional<std::uint64_t>()>;

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
    // The general form: any declaration, read from elsewhere.
    void add(MetricInfo info, ReadFn read);

    // Current values, in registration order.
    std::vector<Sample> snapshot() const;
    // The current value; nullopt when there is no such metric or it has no value in this run.
    std::optional<std::uint64_t> value(std::string_view name) const;
    // One metric's sample; nullopt when there is no such metric.
    std::optional<Sample> sample(std::string_view name) const;
    const std::string& prefix() const { return prefix_; }

  private:
    struct Entry;
    Entry& add(MetricInfo info);
    const Entry* find(std::string_view name) const;

    std::string prefix_;
    std::vector<std::unique_ptr<Entry>> entries_;
};

// The JSON report: every metric with a value, nested by its dotted name, in registration order,
// after the labels (whose names may be dotted too), pretty-printed with two-space indents and a
// trailing newline: {"input": "x.pcap", "frames": 12, "sessions": {"started": 3}}.
std::string renderJson(const Registry& registry, const Labels& labels = {});
// Prometheus text exposition format 0.0.4 for every metric served on /metrics: per metric
// "# HELP", "# TYPE" and the sample line. Names are "<prefix>_<name>", counters with a "_total"
// suffix. Help text escapes \ and newline.
std::string renderPrometheus(const Registry& registry);
// A text line from a template: "{name}" is the metric's value (0 when it has none), "{name:ms}"
// a microsecond metric in milliseconds with one decimal, "{name:s}" a nanosecond metric in
// seconds with two decimals, and "{label}" a label's text. "{{" and "}}" are literal braces.
std::string renderText(const Registry& registry, std::string_view text, const Labels& labels = {});

}  // namespace tcpcopy::stats
