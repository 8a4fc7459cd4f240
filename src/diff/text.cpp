#include "text.h"

#include <cstdint>

namespace tcpcopy::diff::detail {
namespace {

// Length of the valid UTF-8 sequence of 2..4 bytes starting at s[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8Sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
    const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
    const std::uint8_t c = b(0);
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;
        if (c == 0xED && b(1) > 0x9F) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;
        if (c == 0xF4 && b(1) > 0x8F) return 0;
        return 4;
    }
    return 0;
}

std::string render(std::string_view raw, std::size_t maxBytes, bool oneLine) {
    static constexpr char kHex[] = "0123456789abcdef";
    const std::string_view s = raw.substr(0, std::min(maxBytes, raw.size()));
    std::string out;
    out.reserve(s.size() + 8);
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<std::uint8_t>(s[i]);
        if (c == '\r' && !oneLine && i + 1 < s.size() && s[i + 1] == '\n') {
            ++i;
            continue;
        }
        if ((c >= 0x20 && c < 0x7F) || (!oneLine && (c == '\n' || c == '\t'))) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        if (oneLine && (c == '\r' || c == '\n' || c == '\t')) {
            out += c == '\r' ? "\\r" : c == '\n' ? "\\n" : "\\t";
            ++i;
            continue;
        }
        if (const std::size_t n = c >= 0x80 ? utf8Sequence(s, i) : 0; n != 0) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        ++i;
    }
    return out;
}

}  // namespace

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string upperAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

std::string displayText(std::string_view raw, std::size_t maxBytes) { return render(raw, maxBytes, false); }

std::string displayLine(std::string_view raw, std::size_t maxBytes) { return render(raw, maxBytes, true); }

std::string htmlEscape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace tcpcopy::diff::detail
