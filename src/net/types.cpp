#include "tcpcopy/net/types.h"

#include <array>

namespace tcpcopy::net {

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
    std::uint32_t value = 0;
    std::size_t pos = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (pos >= text.size() || text[pos] != '.') return std::nullopt;
            ++pos;
        }
        std::size_t start = pos;
        std::uint32_t part = 0;
        while (pos < text.size() && pos - start < 3 && text[pos] >= '0' && text[pos] <= '9') {
            part = part * 10 + static_cast<std::uint32_t>(text[pos] - '0');
            ++pos;
        }
        std::size_t digits = pos - start;
        // No digits, more than three, a value above 255, or a leading zero ("010" is octal to
        // inet_aton and decimal to others: refuse the ambiguity, as inet_pton does).
        if (digits == 0 || part > 255 || (digits > 1 && text[start] == '0')) return std::nullopt;
        if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') return std::nullopt;
        value = (value << 8) | part;
    }
    if (pos != text.size()) return std::nullopt;
    return Ipv4Addr(value);
}

std::string Ipv4Addr::toString() const {
    std::array<char, 16> buf{};
    std::size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned octet = (value_ >> shift) & 0xFF;
        if (octet >= 100) buf[n++] = static_cast<char>('0' + octet / 100);
        if (octet >= 10) buf[n++] = static_cast<char>('0' + octet / 10 % 10);
        buf[n++] = static_cast<char>('0' + octet % 10);
        if (shift > 0) buf[n++] = '.';
    }
    return std::string(buf.data(), n);
}

std::string Endpoint::toString() const { return addr.toString() + ':' + std::to_string(port.value()); }

std::string FlowKey::toString() const { return client.toString() + '>' + server.toString(); }

}  // namespace tcpcopy::net
