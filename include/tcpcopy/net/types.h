#pragma once
// Host-order strong types for the values packets carry. Wire byte order never leaves the parsers.

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
    Ipv4Addr addr;
    Port port;
    constexpr auto operator<=>(const Endpoint&) const = default;
    std::string toString() const;  // "198.18.0.1:80"
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

struct FlowKeyHash {
    std::size_t operator()(const FlowKey& k) const noexcept {
        std::uint64_t a = (std::uint64_t{k.client.addr.value()} << 16) | k.client.port.value();
        std::uint64_t b = (std::uint64_t{k.server.addr.value()} << 16) | k.server.port.value();
        std::uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x7F4A7C159E3779B9ull + (a << 6) + (a >> 2));
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        return static_cast<std::size_t>(h);
    }
};

}  // namespace tcpcopy::net
