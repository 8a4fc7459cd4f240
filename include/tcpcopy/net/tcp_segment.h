#pragma once
// A decoded IPv4/TCP or IPv6/TCP segment: the one form in which packets enter the session engine, whether
// they come from a capture file, a live capture or the intercept tunnel. All fields host order.

#include <array>
#include <cstdint>
#include <optional>

#include "tcpcopy/net/types.h"

namespace tcpcopy::net {

namespace tcpflag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcpflag

// TCP option kinds (RFC 9293, 7323, 2018), and the length each modelled option has on the wire
// (kind and length bytes included), shared by the decoder and the builder.
namespace tcpoption {
inline constexpr std::uint8_t kEol = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
inline constexpr std::uint8_t kMssLength = 4;
inline constexpr std::uint8_t kWindowScaleLength = 3;
inline constexpr std::uint8_t kSackPermittedLength = 2;
inline constexpr std::uint8_t kTimestampsLength = 10;
inline constexpr std::uint8_t kSackBlockLength = 8;  // per block; the option is 2 + 8 * blocks
}  // namespace tcpoption

struct SackBlock {
    SeqNum left;
    SeqNum right;
};

struct TcpTimestamps {
    std::uint32_t value = 0;  // TSval
    std::uint32_t echo = 0;   // TSecr
};

// The TCP options the engine understands. `raw` keeps the whole option area so that options
// this struct does not model (and their order) can be reproduced byte for byte.
struct TcpOptions {
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> windowScale;
    bool sackPermitted = false;
    std::optional<TcpTimestamps> timestamps;
    std::array<SackBlock, 4> sack{};
    std::uint8_t sackCount = 0;
    std::uint8_t unknownCount = 0;  // options of kinds not modelled above
    Bytes raw;                      // the option bytes as on the wire (view into the packet)
};

struct TcpSegment {
    IpAddr src;
    IpAddr dst;
    Port sport;
    Port dport;
    SeqNum seq;
    SeqNum ack;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;  // as on the wire, unscaled
    std::uint16_t ipId = 0;
    std::uint8_t ttl = 0;
    TcpOptions options;
    // Length of the TCP payload as the IP header states it. It can exceed payload.size()
    // when the capture was truncated (snaplen) or intercept stripped the payload.
    std::uint32_t payloadLength = 0;
    Bytes payload;  // the payload bytes present (view into the packet)

    bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
    // Sequence space the segment occupies: payload plus one for SYN and one for FIN.
    std::uint32_t seqLength() const {
        return payloadLength + (has(tcpflag::kSyn) ? 1u : 0u) + (has(tcpflag::kFin) ? 1u : 0u);
    }
    FlowKey clientToServerKey() const { return FlowKey{{src, sport}, {dst, dport}}; }
    FlowKey serverToClientKey() const { return FlowKey{{dst, dport}, {src, sport}}; }
};

}  // namespace tcpcopy::net
