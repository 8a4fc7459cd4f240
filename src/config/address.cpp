#include "tcpcopy/config/address.h"

#include <algorithm>
#include <charconv>

namespace tcpcopy::config {
namespace {

constexpr std::size_t kMaxEchoedChars = 80;

std::string inText(std::string_view part, std::string_view text) {
    return part.size() == text.size() ? std::string() : " (in " + quote(text) + ")";
}

}  // namespace

std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    const std::size_t n = std::min(text.size(), kMaxEchoedChars);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0f]);
        }
    }
    if (text.size() > n) out += "...";
    return out;
}

std::string quote(std::string_view text) { return "'" + printable(text) + "'"; }

std::string_view familyName(const net::IpAddr& addr) { return addr.isV4() ? "IPv4" : "IPv6"; }

std::vector<std::string_view> splitList(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
        while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
        parts.push_back(part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return parts;
}

std::string parseHostPort(std::string_view text, PortUse use, HostPort& out, std::uint16_t minPort) {
    if (text.empty()) return "empty address";
    std::string_view addrText = text;
    std::optional<std::string_view> portText;
    if (text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return quote(text) + " lacks the closing ']'";
        addrText = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return quote(text) + ": only ':PORT' may follow ']'";
            portText = rest.substr(1);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        // Two colons or more: an IPv6 address, whose port would need brackets.
        const std::size_t colon = text.find(':');
        addrText = text.substr(0, colon);
        portText = text.substr(colon + 1);
    }
    const auto addr = net::IpAddr::parse(addrText);
    if (!addr) return quote(addrText) + " is not an IPv4 or IPv6 address" + inText(addrText, text);
    HostPort parsed{*addr, std::nullopt};
    if (portText) {
        if (use == PortUse::None) return quote(text) + " has a port: give the address alone";
        unsigned value = 0;
        const char* end = portText->data() + portText->size();
        const auto [ptr, ec] = std::from_chars(portText->data(), end, value);
        if (portText->empty() || ec != std::errc() || ptr != end || value < minPort || value > 65535) {
            return quote(*portText) + " is not a port " + std::to_string(minPort) + "..65535" +
                   inText(*portText, text);
        }
        parsed.port = net::Port(static_cast<std::uint16_t>(value));
    } else if (use == PortUse::Required) {
        if (addr->isV6() && text.front() != '[')
            return quote(text) + " reads as an IPv6 address without a port: write [ADDR]:PORT";
        return quote(text) + " lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6";
    }
    out = parsed;
    return {};
}

std::string parseAddress(std::string_view text, net::IpAddr& out) {
    HostPort parsed;
    if (std::string reason = parseHostPort(text, PortUse::None, parsed); !reason.empty()) return reason;
    out = parsed.addr;
    return {};
}

}  // namespace tcpcopy::config
