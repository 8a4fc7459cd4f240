#include "tcpcopy/stats/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace tcpcopy::stats {
namespace {

[[noreturn]] void programmingError(const std::string& what) {
    std::fprintf(stderr, "tcpcopy::stats: %s\n", what.c_str());
    std::abort();
}

bool isValidSegment(std::string_view name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// Segments joined by dots, each a valid segment.
bool isValidName(std::string_view name) {
    for (;;) {
        const std::size_t dot = name.find('.');
        if (!isValidSegment(name.substr(0, dot))) return false;
        if (dot == std::string_view::npos) return true;
        name.remove_prefix(dot + 1);
    }
}

std::string escapeHelp(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

constexpr double kNanosecondsPerSecond = 1e9;
constexpr double kMicrosecondsPerMillisecond = 1e3;

// The JSON value of a sample: a duration in seconds, anything else the integer itself.
nlohmann::ordered_json jsonValue(Unit unit, std::uint64_t value) {
    if (unit == Unit::Nanoseconds) return static_cast<double>(value) / kNanosecondsPerSecond;
    return value;
}

// The object a dotted name lives in (created on the way), and the name's last segment.
std::pair<nlohmann::ordered_json*, std::string> slotFor(nlohmann::ordered_json& root, std::string_view name) {
    nlohmann::ordered_json* node = &root;
    for (std::size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
        node = &(*node)[std::string(name.substr(0, dot))];
        name.remove_prefix(dot + 1);
    }
    return {node, std::string(name)};
}

// "{name}" or "{name:spec}" of a text template, rendered.
std::string renderField(const Registry& registry, std::string_view field, const Labels& labels) {
    const std::size_t colon = field.find(':');
    const std::string_view name = field.substr(0, colon);
    const std::string_view spec = colon == std::string_view::npos ? "" : field.substr(colon + 1);
    if (spec.empty()) {
        for (const auto& [label, text] : labels) {
            if (label == name) return text;
        }
    }
    const std::optional<Sample> sample = registry.sample(name);
    if (!sample) programmingError("a text template names '" + std::string(name) + "', which is not a metric");
    const std::uint64_t value = sample->value.value_or(0);
    if (spec.empty()) return std::to_string(value);
    if (spec == "ms" && sample->unit == Unit::Microseconds) {
        return fmt::format("{:.1f}", static_cast<double>(value) / kMicrosecondsPerMillisecond);
    }
    if (spec == "s" && sample->unit == Unit::Nanoseconds) {
        return fmt::format("{:.2f}", static_cast<double>(value) / kNanosecondsPerSecond);
    }
    programmingError("a text template asks for '" + std::string(field) + "', a format its unit has not");
}

}  // namespace

struct Registry::Entry {
    MetricInfo info;
    std::string exposedName;
    std::uint64_t value = 0;
    ReadFn read;  // set for metrics read from elsewhere

    std::optional<std::uint64_t> current() const { return read ? read() : value; }
    Sample sample() const {
        return Sample{info.name, info.help, info.type, info.unit, exposedName, current()};
    }
};

Registry::Registry(std::string prefix) : prefix_(std::move(prefix)) {
    if (!prefix_.empty() && !isValidSegment(prefix_)) {
        programmingError("bad metric registration: invalid prefix '" + prefix_ + "'");
    }
}

Registry::~Registry() = default;

Registry::Entry& Registry::add(MetricInfo info) {
    if (!isValidName(info.name))
        programmingError("bad metric registration: invalid name '" + info.name + "'");
    if (find(info.name) != nullptr) {
        programmingError("bad metric registration: '" + info.name + "' registered twice");
    }
    auto entry = std::make_unique<Entry>();
    if (info.exposedAs) {
        entry->exposedName = *info.exposedAs;
    } else {
        entry->exposedName = info.name;
        std::replace(entry->exposedName.begin(), entry->exposedName.end(), '.', '_');
    }
    if (!entry->exposedName.empty() && !isValidSegment(entry->exposedName)) {
        programmingError("bad metric registration: invalid /metrics name '" + entry->exposedName + "'");
    }
    entry->info = std::move(info);
    entries_.push_back(std::move(entry));
    return *entries_.back();
}

const Registry::Entry* Registry::find(std::string_view name) const {
    for (const auto& e : entries_) {
        if (e->info.name == name) return e.get();
    }
    return nullptr;
}

Counter Registry::counter(std::string name, std::string help) {
    return Counter(
        &add(MetricInfo{std::move(name), std::move(help), MetricType::Counter, Unit::None, std::nullopt})
             .value);
}

Gauge Registry::gauge(std::string name, std::string help) {
    return Gauge(
        &add(MetricInfo{std::move(name), std::move(help), MetricType::Gauge, Unit::None, std::nullopt})
             .value);
}

void Registry::counterFn(std::string name, std::string help, std::function<std::uint64_t()> read) {
    if (!read) programmingError("bad metric registration: no read function for '" + name + "'");
    add(MetricInfo{std::move(name), std::move(help), MetricType::Counter, Unit::None, std::nullopt},
        [read = std::move(read)]() -> std::optional<std::uint64_t> { return read(); });
}

void Registry::gaugeFn(std::string name, std::string help, std::function<std::uint64_t()> read) {
    if (!read) programmingError("bad metric registration: no read function for '" + name + "'");
    add(MetricInfo{std::move(name), std::move(help), MetricType::Gauge, Unit::None, std::nullopt},
        [read = std::move(read)]() -> std::optional<std::uint64_t> { return read(); });
}

void Registry::add(MetricInfo info, ReadFn read) {
    if (!read) programmingError("bad metric registration: no read function for '" + info.name + "'");
    add(std::move(info)).read = std::move(read);
}

std::vector<Sample> Registry::snapshot() const {
    std::vector<Sample> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e->sample());
    return out;
}

std::optional<std::uint64_t> Registry::value(std::string_view name) const {
    const Entry* e = find(name);
    return e != nullptr ? e->current() : std::nullopt;
}

std::optional<Sample> Registry::sample(std::string_view name) const {
    const Entry* e = find(name);
    if (e == nullptr) return std::nullopt;
    return e->sample();
}

std::string renderJson(const Registry& registry, const Labels& labels) {
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    for (const auto& [name, text] : labels) {
        auto [node, key] = slotFor(json, name);
        (*node)[key] = text;
    }
    for (const Sample& s : registry.snapshot()) {
        if (!s.value) continue;
        auto [node, key] = slotFor(json, s.name);
        (*node)[key] = jsonValue(s.unit, *s.value);
    }
    return json.dump(2) + "\n";
}

std::string renderPrometheus(const Registry& registry) {
    std::string out;
    const std::string prefix = registry.prefix().empty() ? "" : registry.prefix() + "_";
    for (const Sample& s : registry.snapshot()) {
        if (s.exposedName.empty()) continue;
        const bool counter = s.type == MetricType::Counter;
        const std::string name = prefix + std::string(s.exposedName) + (counter ? "_total" : "");
        const std::uint64_t value = s.value.value_or(0);
        const std::string text = s.unit == Unit::Nanoseconds
                                     ? fmt::format("{}", static_cast<double>(value) / kNanosecondsPerSecond)
                                     : std::to_string(value);
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, escapeHelp(s.help), name,
                           counter ? "counter" : "gauge", name, text);
    }
    return out;
}

std::string renderText(const Registry& registry, std::string_view text, const Labels& labels) {
    std::string out;
    out.reserve(text.size() + 64);
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
            out += c;
            i += 2;
            continue;
        }
        if (c == '}') programmingError("a text template has a lone '}': " + std::string(text));
        if (c != '{') {
            out += c;
            ++i;
            continue;
        }
        const std::size_t close = text.find('}', i + 1);
        if (close == std::string_view::npos) {
            programmingError("a text template has an unclosed '{': " + std::string(text));
        }
        out += renderField(registry, text.substr(i + 1, close - i - 1), labels);
        i = close + 1;
    }
    return out;
}

}  // namespace tcpcopy::stats
