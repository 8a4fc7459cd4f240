#pragma once
// Building IPv4/TCP and IPv6/TCP packets for injection, and checksum arithmetic.

#include <cstddef>
#include <cstdint>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::net {

inline constexpr std::size_t kIpv4HeaderLen = 20;
inline constexpr std::size_t kIpv6HeaderLen = 40;  // the fixed header; we write no extension headers
inline constexpr std::size_t kTcpHeaderLen = 20;
inline constexpr std::size_t kMaxTcpOptionsLen = 40;
// Room for the headers of any packet buildIpTcp writes (IPv6 is the larger).
inline constexpr std::size_t kMaxHeadersLen = kIpv6HeaderLen + kTcpHeaderLen + kMaxTcpOptionsLen;
// IP + TCP headers without options, by family: what an MTU loses before the payload.
constexpr std::size_t ipTcpHeadersLen(const IpAddr& addr) {
    return (addr.isV4() ? kIpv4HeaderLen : kIpv6HeaderLen) + kTcpHeaderLen;
}

// One's-complement sum over `data` (RFC 1071), folded to 16 bits, not inverted.
std::uint16_t onesComplementSum(Bytes data, std::uint32_t initial = 0);
// The Internet checksum of `data` (inverted sum), as stored in a header, in host order.
std::uint16_t internetChecksum(Bytes data);
// TCP checksum over the IPv4 pseudo-header and `tcpSegment` (header + payload).
std::uint16_t tcpChecksumV4(Ipv4Addr src, Ipv4Addr dst, Bytes tcpSegment);
// TCP checksum over the IPv6 pseudo-header (RFC 8200 8.1) and `tcpSegment`.
std::uint16_t tcpChecksumV6(const IpAddr& src, const IpAddr& dst, Bytes tcpSegment);
// The one of the two that fits the addresses' family.
std::uint16_t tcpChecksum(const IpAddr& src, const IpAddr& dst, Bytes tcpSegment);
// RFC 1624 eqn. 3: the checksum after a 16-bit field changes from oldValue to newValue.
std::uint16_t checksumUpdate16(std::uint16_t checksum, std::uint16_t oldValue, std::uint16_t newValue);
std::uint16_t checksumUpdate32(std::uint16_t checksum, std::uint32_t oldValue, std::uint32_t newValue);

// Writes an IPv4 header (no IP options, DF set, ttl and id from `seg`), or for IPv6 addresses
// the fixed IPv6 header (hop limit from seg.ttl, no extension headers), and a TCP header with the
// options in `seg.options` (MSS, window scale, SACK-permitted, timestamps, SACK blocks, in the
// usual order, NOP-padded to 4 bytes; `raw` and unknown options are not written), then
// `seg.payload`. IP total length comes from seg.payload.size() (seg.payloadLength is ignored).
// The checksums are computed. Returns the packet length, or 0 when `out` is too small or the
// two addresses are of different families.
std::size_t buildIpTcp(const TcpSegment& seg, MutableBytes out);

// Serialises the modelled options of `options` as buildIpTcp does; returns bytes written
// (a multiple of 4, at most 40), or 0 when none apply or `out` is too small for them.
// MSS, window scale and SACK-permitted are written only when `segmentFlags` has SYN; SACK blocks
// only when it does not (as many as fit beside timestamps: 4 without, 3 with).
std::size_t writeTcpOptions(const TcpOptions& options, std::uint8_t segmentFlags, MutableBytes out);

}  // namespace tcpcopy::net
