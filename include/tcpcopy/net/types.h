#pragma once
// Host-order strong types for the values packets carry. Wire byte order never leaves the parsers.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tcpcopy::net {

using Bytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

// IP protocol numbers (the IPv4 protocol field / IPv6 next header).
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;

// An IPv4 address, stored in host byte order (198.18.0.1 is 0xC6120001).
class Ipv4Addr {
  public:
    constexpr Ipv4Addr() = default;
    constexpr explicit Ipv4Addr(std::uint32_t hostOrder) : value_(hostOrder) {}
    static constexpr Ipv4Addr fromOctets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
        return Ipv4Addr((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d);
    }
    // Dotted quad only ("198.18.0.1"); nullopt for anything else.
    static std::optional<Ipv4Addr> parse(std::string_view text);

    constexpr std::uint32_t value() const { return value_; }
    std::string toString() const;
    constexpr bool isLoopback() const { return (value_ >> 24) == 127; }
    constexpr auto operator<=>(const Ipv4Addr&) const = default;

  private:
    std::uint32_t value_ = 0;
};

// An IPv4 or IPv6 address: 16 bytes in network order, IPv4 held in its IPv4-mapped form
// (::ffff:198.18.0.1, RFC 4291 2.5.5.2), so one flow table, one hash and one comparison serve
// both families. An Ipv4Addr converts to it implicitly.
class IpAddr {
  public:
    using Octets = std::array<std::uint8_t, 16>;

    constexpr IpAddr() : IpAddr(Ipv4Addr(0)) {}  // 0.0.0.0: an unset address is IPv4, as before IPv6
    constexpr IpAddr(Ipv4Addr v4)  // NOLINT(google-explicit-constructor): every IPv4 address is one
        : high_(0), low_(kMappedPrefix | v4.value()) {}
    static constexpr IpAddr fromOctets(const Octets& octets) {
        IpAddr a;
        a.high_ = half(octets, 0);
        a.low_ = half(octets, 8);
        return a;
    }
    // 16 bytes in network order, as an IPv6 header carries them.
    static IpAddr fromWire(const std::byte* sixteen);
    // "198.18.0.1", or an IPv6 address in any RFC 4291 text form ("2001:db8::1"; no brackets, no
    // zone, no prefix); nullopt for anything else. An IPv4-mapped IPv6 text reads as IPv4.
    static std::optional<IpAddr> parse(std::string_view text);

    constexpr bool isV4() const { return high_ == 0 && (low_ >> 32) == 0xFFFF; }
    constexpr bool isV6() const { return !isV4(); }
    // The IPv4 address (meaningful when isV4()).
    constexpr Ipv4Addr v4() const { return Ipv4Addr(static_cast<std::uint32_t>(low_)); }
    constexpr Octets octets() const {
        Octets out{};
        for (int i = 0; i < 8; ++i) {
            out[i] = static_cast<std::uint8_t>(high_ >> (56 - 8 * i));
            out[8 + i] = static_cast<std::uint8_t>(low_ >> (56 - 8 * i));
        }
        return out;
    }
    void toWire(std::byte* sixteen) const;  // the 16 bytes, for an IPv6 header
    // Dotted quad for IPv4; RFC 5952 for IPv6 ("2001:db8::1").
    std::string toString() const;
    constexpr bool isLoopback() const { return isV4() ? v4().isLoopback() : high_ == 0 && low_ == 1; }
    constexpr bool isUnspecified() const { return *this == IpAddr() || (high_ == 0 && low_ == 0); }
    // The address as two 64-bit words, the first 8 bytes and the last 8 (big-endian): what
    // hashing and comparison use, two word operations instead of a 16-byte memcmp.
    constexpr std::uint64_t high() const { return high_; }
    constexpr std::uint64_t low() const { return low_; }
    // Lexicographic byte order, as the 16 wire bytes compare.
    constexpr auto operator<=>(const IpAddr&) const = default;

  private:
    static constexpr std::uint64_t kMappedPrefix = 0xFFFFull << 32;
    static constexpr std::uint64_t half(const Octets& octets, int from) {
        std::uint64_t v = 0;
        for (int i = from; i < from + 8; ++i) v = (v << 8) | octets[i];
        return v;
    }
    std::uint64_t high_;
    std::uint64_t low_;
};

// An address prefix of either family ("198.18.0.0/15", "2001:db8::/32"). The length counts in
// the address's own family (0-32 for IPv4, 0-128 for IPv6); an IPv4 prefix holds IPv4 only.
struct IpPrefix {
    IpAddr network;
    std::uint8_t prefixLength = 32;

    // "ADDR" (a whole address) or "ADDR/LEN"; nullopt for anything else.
    static std::optional<IpPrefix> parse(std::string_view text);
    constexpr std::uint8_t maxLength() const { return network.isV4() ? 32 : 128; }
    bool contains(const IpAddr& addr) const;
    std::string toString() const;
};

// A TCP or UDP port in host byte order.
class Port {
  public:
    constexpr Port() = default;
    constexpr explicit Port(std::uint16_t hostOrder) : value_(hostOrder) {}
    constexpr std::uint16_t value() const { return value_; }
    constexpr auto operator<=>(const Port&) const = default;

  private:
    std::uint16_t value_ = 0;
};

// A TCP sequence or acknowledgement number. Ordering uses RFC 1982 serial-number arithmetic
// (a < b when b - a, taken mod 2^32, lies in (0, 2^31)), so it is not a total order and
// deliberately has no operator<; use the named comparisons.
class SeqNum {
  public:
    constexpr SeqNum() = default;
    constexpr explicit SeqNum(std::uint32_t value) : value_(value) {}
    constexpr std::uint32_t value() const { return value_; }

    constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(value_ + n); }
    constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(value_ - n); }
    constexpr SeqNum& operator+=(std::uint32_t n) {
        value_ += n;
        return *this;
    }
    // Signed distance from `from` to this (positive when this is after `from`).
    constexpr std::int32_t distanceFrom(SeqNum from) const {
        return static_cast<std::int32_t>(value_ - from.value_);
    }
    constexpr bool operator==(const SeqNum&) const = default;

  private:
    std::uint32_t value_ = 0;
};

constexpr bool seqLt(SeqNum a, SeqNum b) { return b.distanceFrom(a) > 0; }
constexpr bool seqLe(SeqNum a, SeqNum b) { return b.distanceFrom(a) >= 0; }
constexpr bool seqGt(SeqNum a, SeqNum b) { return seqLt(b, a); }
constexpr bool seqGe(SeqNum a, SeqNum b) { return seqLe(b, a); }
constexpr SeqNum seqMax(SeqNum a, SeqNum b) { return seqLt(a, b) ? b : a; }

// One end of a TCP connection.
struct Endpoint {
    IpAddr addr;
    Port port;
    constexpr auto operator<=>(const Endpoint&) const = default;
    std::string toString() const;  // "198.18.0.1:80", "[2001:db8::1]:80"
};

// A connection as (client, server); the key of the session and route tables.
struct FlowKey {
    Endpoint client;
    Endpoint server;
    constexpr auto operator<=>(const FlowKey&) const = default;
    std::string toString() const;  // "192.0.2.1:40000>198.18.1.2:80"
};

// The final avalanche of MurmurHash3 (fmix64): every input bit moves every output bit. For
// sampling decisions and digests that must spread well, not only hash-table buckets.
constexpr std::uint64_t mix64(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// Hashes an address (both families) with a seed; the low half alone is the IPv4 address.
constexpr std::uint64_t hashAddr(const IpAddr& addr, std::uint64_t seed) {
    return mix64(seed ^ addr.low() ^ mix64(addr.high() + 0x9E3779B97F4A7C15ull));
}

struct IpAddrHash {
    std::size_t operator()(const IpAddr& a) const noexcept {
        return static_cast<std::size_t>(hashAddr(a, 0));
    }
};

struct FlowKeyHash {
    std::size_t operator()(const FlowKey& k) const noexcept {
        const std::uint64_t ports = (std::uint64_t{k.client.port.value()} << 16) | k.server.port.value();
        std::uint64_t h = k.client.addr.low() * 0x9E3779B97F4A7C15ull ^ (k.server.addr.low() + (ports << 32));
        h ^= (k.client.addr.high() ^ (k.server.addr.high() >> 1)) * 0xC2B2AE3D27D4EB4Full;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        return static_cast<std::size_t>(h);
    }
};

}  // namespace tcpcopy::net
