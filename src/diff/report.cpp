#include "tcpcopy/diff/report.h"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "tcpcopy/diff/endpoint.h"
#include "text.h"

namespace tcpcopy::diff {
namespace {

constexpr std::size_t kRequestLine = 200;
constexpr std::string_view kOtherEndpoints = "(other endpoints)";

// A RESP command as its words ("SET key value"), or "" when `raw` does not start with an array
// of bulk strings.
std::string respWords(std::string_view raw) {
    std::string out;
    std::size_t pos = 0;
    const auto line = [&]() -> std::optional<std::string_view> {
        const std::size_t eol = raw.find("\r\n", pos);
        if (eol == std::string_view::npos) return std::nullopt;
        const std::string_view l = raw.substr(pos, eol - pos);
        pos = eol + 2;
        return l;
    };
    const auto number = [](std::string_view s) -> std::optional<std::size_t> {
        std::size_t n = 0;
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
        return n;
    };
    const auto head = line();
    if (!head || head->size() < 2 || head->front() != '*') return "";
    const auto count = number(head->substr(1));
    if (!count) return "";
    for (std::size_t i = 0; i < *count && out.size() < kRequestLine; ++i) {
        const auto len = line();
        if (!len || len->size() < 2 || len->front() != '$') break;
        const auto n = number(len->substr(1));
        if (!n) break;
        const std::string_view word = raw.substr(pos, *n);
        if (!out.empty()) out += ' ';
        const bool quote = word.empty() || word.find(' ') != std::string_view::npos;
        // Appended piece by piece: "\"" + string + "\"" trips GCC 12's -Wrestrict at -O3.
        if (quote) out += '"';
        out += detail::displayLine(word, 64);
        if (quote) out += '"';
        if (word.size() > 64) out += "...";
        if (word.size() < *n) break;  // the sample ends inside this word
        pos += *n + 2;
    }
    return out;
}

std::string requestText(Protocol protocol, const Message& request) {
    if (protocol == Protocol::Resp) {
        if (std::string words = respWords(request.sample); !words.empty()) return words;
    }
    if (protocol == Protocol::Http) {
        return detail::displayLine(request.sample.substr(0, request.sample.find("\r\n")), kRequestLine);
    }
    return detail::displayLine(request.sample, kRequestLine);
}

SideSample side(const std::optional<Message>& m, const std::optional<Time>& latency, std::size_t bytes) {
    SideSample s;
    if (!m) return s;
    s.present = true;
    s.kind = m->kind;
    s.size = m->size();
    s.latency = latency;
    s.text = detail::displayText(m->sample, bytes);
    s.gaps = m->gaps;
    s.cut = m->cut;
    return s;
}

}  // namespace

DiffReport::DiffReport(CompareRules rules, ReportLimits limits)
    : comparator_(std::move(rules)), limits_(limits) {}

DiffReport::~DiffReport() = default;

void DiffReport::onExchange(Exchange&& exchange) { add(exchange); }

void DiffReport::onSessionEnd(const SessionEnd& end) {
    ++totals_.sessions;
    if (end.midstream) ++totals_.sessionsMidstream;
    totals_.unsolicited += end.unsolicited;
    const auto note = [&](std::string_view side, std::string_view reason) {
        if (reason.empty()) return;
        std::string key = std::string(side) + ": " + std::string(reason);
        if (!lost_.contains(key) && lost_.size() >= limits_.maxLostReasons)
            key = std::string(side) + ": (other)";
        ++lost_[key];
    };
    note("requests", end.requestFramingLost);
    note("online", end.onlineFramingLost);
    note("target", end.targetFramingLost);
}

EndpointStats& DiffReport::endpointFor(const Exchange& ex) {
    std::string name = endpointKey(ex.protocol, ex.request);
    std::string key = std::string(protocolName(ex.protocol)) + " " + name;
    auto it = endpoints_.find(key);
    if (it == endpoints_.end()) {
        if (endpoints_.size() >= limits_.maxEndpoints) {
            ++totals_.otherEndpoints;
            name = std::string(kOtherEndpoints);
            key = "* " + name;
            it = endpoints_.find(key);
        }
        if (it == endpoints_.end()) {
            auto stats = std::make_unique<EndpointStats>();
            stats->protocol = name == kOtherEndpoints ? Protocol::Auto : ex.protocol;
            stats->name = std::move(name);
            it = endpoints_.emplace(std::move(key), std::move(stats)).first;
        }
    }
    return *it->second;
}

void DiffReport::countStatus(const std::string& online, const std::string& target) {
    const auto slot = [&](const std::string& key) -> std::pair<std::uint64_t, std::uint64_t>& {
        if (statuses_.contains(key) || statuses_.size() < limits_.maxStatusKeys) return statuses_[key];
        return statuses_["(other)"];
    };
    ++slot(online).first;
    ++slot(target).second;
}

Verdict DiffReport::add(const Exchange& ex) {
    Verdict v = comparator_.compare(ex);
    EndpointStats& ep = endpointFor(ex);
    ++ep.exchanges;
    ++totals_.exchanges;
    if (v.outcome == Outcome::NotCompared) {
        ++ep.notCompared;
        ++totals_.notCompared[static_cast<std::size_t>(v.skip)];
        return v;
    }
    ++totals_.compared;
    countStatus(ex.online->kind.empty() ? "(empty)" : ex.online->kind,
                ex.target && !ex.target->kind.empty() ? ex.target->kind : "(none)");
    if (ex.onlineLatency && ex.targetLatency) {
        online_.add(*ex.onlineLatency);
        target_.add(*ex.targetLatency);
        ep.online.add(*ex.onlineLatency);
        ep.target.add(*ex.targetLatency);
    }
    if (v.slower) {
        ++ep.slower;
        ++totals_.slower;
    }
    if (v.outcome == Outcome::Match) {
        ++ep.matched;
        ++totals_.matched;
        if (v.partial) {
            ++ep.partial;
            ++totals_.partial;
        }
        return v;
    }
    ++ep.differ;
    ++totals_.differ;
    std::array<bool, kCategoryCount> seen{};
    for (const Difference& d : v.differences) seen[static_cast<std::size_t>(d.category)] = true;
    for (std::size_t i = 0; i < kCategoryCount; ++i) {
        ep.categories[i] += seen[i] ? 1 : 0;
        totals_.categories[i] += seen[i] ? 1 : 0;
    }
    if (ep.samples.size() < limits_.samplesPerEndpoint) ep.samples.push_back(makeSample(ex, v));
    return v;
}

Sample DiffReport::makeSample(const Exchange& ex, const Verdict& v) const {
    Sample s;
    s.session = ex.session;
    s.index = ex.index;
    s.request = requestText(ex.protocol, ex.request);
    for (const Difference& d : v.differences) s.differences.push_back(d.detail);
    s.online = side(ex.online, ex.onlineLatency, limits_.sampleBytes);
    s.target = side(ex.target, ex.targetLatency, limits_.sampleBytes);
    return s;
}

std::vector<const EndpointStats*> DiffReport::endpoints() const {
    std::vector<const EndpointStats*> out;
    out.reserve(endpoints_.size());
    for (const auto& [key, stats] : endpoints_) out.push_back(stats.get());
    std::sort(out.begin(), out.end(), [](const EndpointStats* a, const EndpointStats* b) {
        return std::tuple(b->differ, b->exchanges, a->protocol, a->name) <
               std::tuple(a->differ, a->exchanges, b->protocol, b->name);
    });
    return out;
}

}  // namespace tcpcopy::diff
