#pragma once
// A bounds-checked view of a UDP header. Locate the IP payload with parseIpLayer (decode.h) and
// check its protocol is kIpProtoUdp first. All fields host order; nothing here throws.

#include <cstdint>
#include <string_view>

#include "tcpcopy/net/types.h"

namespace tcpcopy::net {

inline constexpr std::size_t kUdpHeaderLen = 8;

enum class UdpStatus : std::uint8_t {
    Ok,
    Truncated,  // fewer than 8 bytes present
    BadLength,  // the length field is below 8, or above what the IP layer states
};
std::string_view udpStatusName(UdpStatus status);

struct UdpDatagram {
    Port sport;
    Port dport;
    std::uint16_t length = 0;    // the UDP length field: header plus payload
    std::uint16_t checksum = 0;  // as on the wire (0: not computed by the sender); not verified
    // Payload length as the UDP header states; can exceed payload.size() under snaplen.
    std::uint16_t payloadLength = 0;
    Bytes payload;  // the payload bytes present (view into the input)
};

struct UdpParseResult {
    UdpStatus status = UdpStatus::Truncated;
    UdpDatagram datagram;  // valid only when status == Ok
};

// Parses the UDP header at the start of `ipPayload` (the bytes present) given the upper-layer
// length the IP header states (IpLayer::payloadLength): a length field above it is BadLength.
UdpParseResult parseUdp(Bytes ipPayload, std::uint32_t statedIpPayloadLength);

}  // namespace tcpcopy::net
