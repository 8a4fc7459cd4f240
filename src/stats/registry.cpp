#include "tcpcopy/stats/registry.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace tcpcopy::stats {
namespace {

[[noreturn]] void registrationError(const std::string& what) {
    std::fprintf(stderr, "tcpcopy::stats: bad metric registration: %s\n", what.c_str());
    std::abort();
}

bool isValidName(std::string_view name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
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

}  // namespace

struct Registry::Entry {
    std::string name;
    std::string help;
    MetricType type = MetricType::Counter;
    std::uint64_t value = 0;
    std::function<std::uint64_t()> read;  // set for counterFn/gaugeFn

    std::uint64_t current() const { return read ? read() : value; }
};

Registry::Registry(std::string prefix) : prefix_(std::move(prefix)) {
    if (!prefix_.empty() && !isValidName(prefix_)) {
        registrationError("invalid prefix '" + prefix_ + "'");
    }
}

Registry::~Registry() = default;

Registry::Entry& Registry::add(std::string name, std::string help, MetricType type) {
    if (!isValidName(name)) {
        registrationError("invalid name '" + name + "'");
    }
    for (const auto& e : entries_) {
        if (e->name == name) {
            registrationError("'" + name + "' registered twice");
        }
    }
    auto entry = std::make_unique<Entry>();
    entry->name = std::move(name);
    entry->help = std::move(help);
    entry->type = type;
    entries_.push_back(std::move(entry));
    return *entries_.back();
}

Counter Registry::counter(std::string name, std::string help) {
    return Counter(&add(std::move(name), std::move(help), MetricType::Counter).value);
}

Gauge Registry::gauge(std::string name, std::string help) {
    return Gauge(&add(std::move(name), std::move(help), MetricType::Gauge).value);
}

void Registry::counterFn(std::string name, std::string help, std::function<std::uint64_t()> read) {
    if (!read) {
        registrationError("no read function for '" + name + "'");
    }
    add(std::move(name), std::move(help), MetricType::Counter).read = std::move(read);
}

void Registry::gaugeFn(std::string name, std::string help, std::function<std::uint64_t()> read) {
    if (!read) {
        registrationError("no read function for '" + name + "'");
    }
    add(std::move(name), std::move(help), MetricType::Gauge).read = std::move(read);
}

std::vector<Sample> Registry::snapshot() const {
    std::vector<Sample> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
        out.push_back(Sample{e->name, e->help, e->type, e->current()});
    }
    return out;
}

std::optional<std::uint64_t> Registry::value(std::string_view name) const {
    for (const auto& e : entries_) {
        if (e->name == name) {
            return e->current();
        }
    }
    return std::nullopt;
}

std::string renderSummary(const Registry& registry) {
    std::string out;
    for (const Sample& s : registry.snapshot()) {
        if (!out.empty()) {
            out += ' ';
        }
        out += fmt::format("{}={}", s.name, s.value);
    }
    return out;
}

std::string renderJson(const Registry& registry) {
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    for (const Sample& s : registry.snapshot()) {
        json[std::string(s.name)] = s.value;
    }
    return json.dump(2) + "\n";
}

std::string renderPrometheus(const Registry& registry) {
    std::string out;
    const std::string prefix = registry.prefix().empty() ? "" : registry.prefix() + "_";
    for (const Sample& s : registry.snapshot()) {
        const bool counter = s.type == MetricType::Counter;
        const std::string name = prefix + std::string(s.name) + (counter ? "_total" : "");
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, escapeHelp(s.help), name,
                           counter ? "counter" : "gauge", name, s.value);
    }
    return out;
}

std::string writeJsonReport(const Registry& registry, const std::string& path) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            return fmt::format("{}: cannot write: {}", path, std::strerror(errno));
        }
        out << renderJson(registry);
        out.flush();
        if (!out) {
            const int error = errno;
            std::remove(tmp.c_str());
            return fmt::format("{}: cannot write: {}", path, std::strerror(error));
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        std::remove(tmp.c_str());
        return fmt::format("{}: cannot write: {}", path, std::strerror(error));
    }
    return {};
}

}  // namespace tcpcopy::stats
