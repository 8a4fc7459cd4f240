#include "tcpcopy/diff/compare.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "text.h"

namespace tcpcopy::diff {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool isTokenChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Splits a comma-separated list; every item must be a token.
std::string parseList(std::string_view text, std::vector<std::string>& out, bool upper,
                      std::string_view what) {
    std::vector<std::string> items;
    while (true) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (!item.empty()) {
            for (char c : item) {
                if (!isTokenChar(c) && !(upper && c == ' ')) {
                    return "expects a comma-separated list of " + std::string(what) + ", got '" +
                           detail::displayLine(item, 64) + "'";
                }
            }
            items.push_back(upper ? detail::upperAscii(item) : detail::lowerAscii(item));
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    out = std::move(items);
    return "";
}

std::string sizeText(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

std::string shortValue(std::string_view v) {
    std::string s = detail::displayLine(v, 80);
    if (v.size() > 80) s += "...";
    return s;
}

// Header values by name: repeated headers joined with ", "; Set-Cookie reduced to the sorted
// cookie names (their values are session state).
std::map<std::string, std::string> headerValues(const Message& m) {
    std::map<std::string, std::string> out;
    std::map<std::string, std::vector<std::string>> cookies;
    for (const Header& h : m.headers) {
        if (h.name == "set-cookie") {
            cookies[h.name].push_back(std::string(trim(h.value.substr(0, h.value.find('=')))));
            continue;
        }
        auto [it, fresh] = out.try_emplace(h.name, h.value);
        if (!fresh) it->second += ", " + h.value;
    }
    for (auto& [name, names] : cookies) {
        std::sort(names.begin(), names.end());
        std::string joined;
        for (const auto& n : names) joined += (joined.empty() ? "" : ", ") + n + "=...";
        out[name] = joined;
    }
    return out;
}

}  // namespace

std::string_view bodyRuleName(BodyRule rule) {
    switch (rule) {
        case BodyRule::Hash:
            return "hash";
        case BodyRule::Size:
            return "size";
        case BodyRule::None:
            return "none";
    }
    return "?";
}

std::optional<BodyRule> parseBodyRule(std::string_view text) {
    for (BodyRule r : {BodyRule::Hash, BodyRule::Size, BodyRule::None})
        if (bodyRuleName(r) == text) return r;
    return std::nullopt;
}

std::vector<std::string> defaultIgnoredHeaders() {
    return {"date",
            "server",
            "etag",
            "last-modified",
            "expires",
            "age",
            "x-request-id",
            "x-correlation-id",
            "request-id",
            "x-amzn-trace-id",
            "traceparent",
            "tracestate",
            "x-trace-id",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-runtime",
            "x-response-time",
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive"};
}

std::vector<std::string> defaultTypeOnlyCommands() {
    return {"TIME",        "RANDOMKEY",    "SRANDMEMBER",     "SPOP",        "HRANDFIELD",  "ZRANDMEMBER",
            "INFO",        "LASTSAVE",     "CLIENT ID",       "CLIENT LIST", "CLIENT INFO", "MEMORY USAGE",
            "SLOWLOG GET", "DEBUG OBJECT", "OBJECT IDLETIME", "OBJECT FREQ", "SCAN",        "HELLO"};
}

std::string parseHeaderList(std::string_view text, std::vector<std::string>& out) {
    return parseList(text, out, false, "header names");
}

std::string parseCommandList(std::string_view text, std::vector<std::string>& out) {
    return parseList(text, out, true, "commands");
}

std::string validateRules(const CompareRules& rules) {
    if (!(rules.sizeTolerancePercent >= 0 && rules.sizeTolerancePercent <= 1000)) {
        return "size tolerance must be between 0 and 1000 percent";
    }
    if (!(rules.slowerFactor >= 1 && rules.slowerFactor <= 1e6))
        return "slower factor must be between 1 and 1000000";
    if (rules.slowerMargin.count() < 0) return "slower margin must not be negative";
    return "";
}

std::string_view categoryName(Category category) {
    static constexpr std::string_view kNames[] = {"status", "header", "body",    "size", "type",
                                                  "value",  "bytes",  "missing", "cut"};
    const auto i = static_cast<std::size_t>(category);
    return i < std::size(kNames) ? kNames[i] : "?";
}

std::string_view skipName(Skip skip) {
    static constexpr std::string_view kNames[] = {"none",
                                                  "no_online_response",
                                                  "online_framing_lost",
                                                  "target_framing_lost",
                                                  "request_framing_lost",
                                                  "midstream",
                                                  "pairing_ended",
                                                  "pending_limit",
                                                  "not_replayed"};
    const auto i = static_cast<std::size_t>(skip);
    return i < std::size(kNames) ? kNames[i] : "?";
}

std::size_t firstDifference(std::string_view a, std::string_view b) {
    const std::size_t n = std::min(a.size(), b.size());
    const auto [ia, ib] = std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
    return ia == a.begin() + static_cast<std::ptrdiff_t>(n) ? std::string_view::npos
                                                            : static_cast<std::size_t>(ia - a.begin());
}

Comparator::Comparator(CompareRules rules) : rules_(std::move(rules)) {
    for (auto& h : rules_.headers) h = detail::lowerAscii(h);
    for (auto& h : rules_.ignoreHeaders) h = detail::lowerAscii(h);
    for (auto& c : rules_.typeOnlyCommands) c = detail::upperAscii(c);
    std::sort(rules_.ignoreHeaders.begin(), rules_.ignoreHeaders.end());
}

bool Comparator::ignored(std::string_view header) const {
    return std::binary_search(rules_.ignoreHeaders.begin(), rules_.ignoreHeaders.end(), header);
}

Verdict Comparator::compare(const Exchange& ex) const {
    Verdict v;
    if (ex.skip != Skip::None) {
        v.skip = ex.skip;
        return v;
    }
    if (!ex.online) {
        v.skip = Skip::NoOnlineResponse;
        return v;
    }
    v.outcome = Outcome::Match;
    if (!ex.target ||
        (ex.protocol == Protocol::Generic && ex.target->bodySize == 0 && ex.online->bodySize != 0)) {
        v.differences.push_back({Category::Missing, "no response from the target"});
    } else {
        const Message& online = *ex.online;
        const Message& target = *ex.target;
        if (target.cut && !online.cut) {
            v.differences.push_back({Category::Cut, "the target's response ended after " +
                                                        sizeText(target.size()) +
                                                        " (the connection closed inside it)"});
        }
        switch (ex.protocol) {
            case Protocol::Http:
                compareHttp(online, target, v);
                break;
            case Protocol::Resp:
                compareResp(ex, online, target, v);
                break;
            case Protocol::Auto:
            case Protocol::Generic:
                compareBody(online, target, BodyRule::Hash, Category::Bytes, v);
                break;
        }
        if (ex.onlineLatency && ex.targetLatency) {
            const auto online = static_cast<double>(ex.onlineLatency->count());
            const auto target = static_cast<double>(ex.targetLatency->count());
            v.slower = target > online * rules_.slowerFactor &&
                       *ex.targetLatency - *ex.onlineLatency >= rules_.slowerMargin;
        }
    }
    if (!v.differences.empty()) {
        v.outcome = Outcome::Differ;
        v.partial = false;
    }
    return v;
}

void Comparator::compareHttp(const Message& online, const Message& target, Verdict& v) const {
    if (online.status != target.status) {
        v.differences.push_back({Category::Status, "status " + std::to_string(online.status) + " -> " +
                                                       std::to_string(target.status)});
    }
    compareHeaders(online, target, v);
    compareBody(online, target, rules_.body, Category::Body, v);
}

void Comparator::compareHeaders(const Message& online, const Message& target, Verdict& v) const {
    const auto a = headerValues(online);
    const auto b = headerValues(target);
    const auto check = [&](const std::string& name) {
        const auto ia = a.find(name);
        const auto ib = b.find(name);
        if (ia == a.end() && ib == b.end()) return;
        if (ia != a.end() && ib != b.end() && ia->second == ib->second) return;
        v.differences.push_back(
            {Category::Header, "header " + name + ": " +
                                   (ia == a.end() ? "(absent)" : shortValue(ia->second)) + " -> " +
                                   (ib == b.end() ? "(absent)" : shortValue(ib->second))});
    };
    if (!rules_.headers.empty()) {
        for (const auto& name : rules_.headers) check(name);
        return;
    }
    for (const auto& [name, value] : a)
        if (!ignored(name)) check(name);
    for (const auto& [name, value] : b)
        if (!ignored(name) && !a.contains(name)) check(name);
}

void Comparator::compareResp(const Exchange& ex, const Message& online, const Message& target,
                             Verdict& v) const {
    if (online.kind != target.kind) {
        v.differences.push_back({Category::Type, "reply " + online.kind + " -> " + target.kind});
        return;
    }
    const bool typeOnly = std::find(rules_.typeOnlyCommands.begin(), rules_.typeOnlyCommands.end(),
                                    ex.request.method) != rules_.typeOnlyCommands.end();
    if (!typeOnly) compareBody(online, target, BodyRule::Hash, Category::Value, v);
}

void Comparator::compareBody(const Message& online, const Message& target, BodyRule rule, Category category,
                             Verdict& v) const {
    if (rule == BodyRule::None) return;
    const std::uint64_t a = online.bodySize;
    const std::uint64_t b = target.bodySize;
    const Category sizeCategory = category == Category::Body ? Category::Size : category;
    const std::string sizes = sizeText(a) + " -> " + sizeText(b);
    if (rule == BodyRule::Size) {
        const double allowed = static_cast<double>(a) * rules_.sizeTolerancePercent / 100.0;
        const double delta = std::fabs(static_cast<double>(b) - static_cast<double>(a));
        if (delta > allowed) {
            v.differences.push_back(
                {sizeCategory, "size " + sizes + " (tolerance " +
                                   std::to_string(static_cast<int>(rules_.sizeTolerancePercent)) + "%)"});
        }
        return;
    }
    const std::size_t at = firstDifference(online.bodyPrefix, target.bodyPrefix);
    // "body differs", "value differs", "bytes differ".
    const std::string what = category == Category::Value   ? "value differs"
                             : category == Category::Bytes ? "bytes differ"
                                                           : "body differs";
    if (online.bodyKnown && target.bodyKnown) {
        if (a == b && online.bodyDigest == target.bodyDigest) return;
        if (at != std::string_view::npos) {
            v.differences.push_back({category, what + " at byte " + std::to_string(at) + " (" + sizes + ")"});
        } else if (a != b && std::min(a, b) <= std::min(online.bodyPrefix.size(), target.bodyPrefix.size())) {
            v.differences.push_back(
                {a == b ? category : sizeCategory,
                 what + " at byte " + std::to_string(std::min(a, b)) + " (" + sizes + ")"});
        } else {
            v.differences.push_back(
                {a == b ? category : sizeCategory,
                 what + " after the first " +
                     sizeText(std::min(online.bodyPrefix.size(), target.bodyPrefix.size())) + " (" + sizes +
                     ")"});
        }
        return;
    }
    // Part of a body was not captured: the bytes both sides show, then the sizes.
    if (at != std::string_view::npos) {
        v.differences.push_back({category, what + " at byte " + std::to_string(at) + " (" + sizes + ")"});
    } else if (a != b) {
        v.differences.push_back({sizeCategory, "size " + sizes});
    } else {
        v.partial = true;
    }
}

}  // namespace tcpcopy::diff
