#include "tcpcopy/diff/endpoint.h"

#include "text.h"

namespace tcpcopy::diff {
namespace {

constexpr std::size_t kMaxSegments = 32;
constexpr std::size_t kMaxPath = 200;

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool allOf(std::string_view s, bool (*pred)(char)) {
    if (s.empty()) return false;
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

bool isUuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isHex(s[i])) return false;
    }
    return true;
}

// The placeholder for a variable segment (or stem), or "" when it is a fixed name.
std::string_view placeholder(std::string_view s) {
    if (allOf(s, isDigit)) return "{n}";
    if (isUuid(s)) return "{uuid}";
    if (s.size() >= 8 && allOf(s, isHex)) {
        for (char c : s)
            if (isDigit(c)) return "{hex}";
    }
    return "";
}

std::string segmentTemplate(std::string_view segment) {
    if (const std::string_view p = placeholder(segment); !p.empty()) return std::string(p);
    const std::size_t dot = segment.find('.');
    if (dot != std::string_view::npos && dot > 0) {
        if (const std::string_view p = placeholder(segment.substr(0, dot)); !p.empty()) {
            return std::string(p) + detail::displayLine(segment.substr(dot));
        }
    }
    return detail::displayLine(segment);
}

}  // namespace

std::string pathTemplate(std::string_view target) {
    if (target == "*") return "*";
    if (const std::size_t scheme = target.find("://");
        scheme != std::string_view::npos && !target.starts_with("/")) {
        const std::size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    target = target.substr(0, target.find_first_of("?#"));
    if (target.empty()) return "/";
    std::string out;
    std::size_t segments = 0;
    std::size_t pos = target.front() == '/' ? 1 : 0;
    if (pos == 1) out = "/";
    while (pos <= target.size()) {
        const std::size_t slash = std::min(target.find('/', pos), target.size());
        if (++segments > kMaxSegments) {
            out += "...";
            break;
        }
        out += segmentTemplate(target.substr(pos, slash - pos));
        if (slash == target.size()) break;
        out += '/';
        pos = slash + 1;
    }
    if (out.size() > kMaxPath) {
        out.resize(kMaxPath);
        out += "...";
    }
    return out;
}

std::string endpointKey(Protocol protocol, const Message& request) {
    switch (protocol) {
        case Protocol::Http:
            return detail::displayLine(request.method, 32) + " " + pathTemplate(request.target);
        case Protocol::Resp:
            return request.method.empty() ? std::string("(empty)") : request.method;
        case Protocol::Auto:
        case Protocol::Generic:
            break;
    }
    return request.size() == 0 ? "(greeting)" : "(generic)";
}

}  // namespace tcpcopy::diff
