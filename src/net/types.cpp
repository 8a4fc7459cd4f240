#include "tcpcopy/net/types.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

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

IpAddr IpAddr::fromWire(const std::byte* sixteen) {
    Octets octets{};
    std::memcpy(octets.data(), sixteen, octets.size());
    return fromOctets(octets);
}

void IpAddr::toWire(std::byte* sixteen) const {
    const Octets bytes = octets();
    std::memcpy(sixteen, bytes.data(), bytes.size());
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
    if (auto v4 = Ipv4Addr::parse(text)) return IpAddr(*v4);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find(':') == std::string_view::npos) {
        return std::nullopt;
    }
    std::array<char, INET6_ADDRSTRLEN> buf{};
    std::memcpy(buf.data(), text.data(), text.size());
    Octets octets{};
    if (inet_pton(AF_INET6, buf.data(), octets.data()) != 1) return std::nullopt;
    return fromOctets(octets);
}

std::string IpAddr::toString() const {
    if (isV4()) return v4().toString();
    std::array<char, INET6_ADDRSTRLEN> buf{};
    const Octets bytes = octets();
    if (inet_ntop(AF_INET6, bytes.data(), buf.data(), buf.size()) == nullptr) return "?";
    return std::string(buf.data());
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    IpPrefix prefix;
    std::string_view addr = text;
    const std::size_t slash = text.find('/');
    if (slash != std::string_view::npos) addr = text.substr(0, slash);
    const auto network = IpAddr::parse(addr);
    if (!network) return std::nullopt;
    prefix.network = *network;
    prefix.prefixLength = prefix.maxLength();
    if (slash == std::string_view::npos) return prefix;
    const std::string_view length = text.substr(slash + 1);
    if (length.empty() || length.size() > 3) return std::nullopt;
    unsigned value = 0;
    for (char c : length) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > prefix.maxLength()) return std::nullopt;
    prefix.prefixLength = static_cast<std::uint8_t>(value);
    return prefix;
}

bool IpPrefix::contains(const IpAddr& addr) const {
    if (addr.isV4() != network.isV4()) return false;
    // In the 128-bit (IPv4-mapped) form an IPv4 prefix is 96 bits longer.
    const unsigned bits = prefixLength + (network.isV4() ? 96u : 0u);
    const IpAddr::Octets a = addr.octets();
    const IpAddr::Octets n = network.octets();
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned covered = bits > i * 8 ? std::min(bits - i * 8, 8u) : 0u;
        if (covered == 0) break;
        const auto mask = static_cast<std::uint8_t>(0xFF00u >> covered);
        if ((a[i] & mask) != (n[i] & mask)) return false;
    }
    return true;
}

std::string IpPrefix::toString() const { return network.toString() + "/" + std::to_string(prefixLength); }

std::string Endpoint::toString() const {
    if (addr.isV4()) return addr.toString() + ':' + std::to_string(port.value());
    return '[' + addr.toString() + "]:" + std::to_string(port.value());
}

std::string FlowKey::toString() const { return client.toString() + '>' + server.toString(); }

}  // namespace tcpcopy::net
