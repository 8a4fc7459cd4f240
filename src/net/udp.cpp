#include "tcpcopy/net/udp.h"

#include <algorithm>

#include "tcpcopy/net/wire.h"

namespace tcpcopy::net {

std::string_view udpStatusName(UdpStatus status) {
    switch (status) {
        case UdpStatus::Ok:
            return "ok";
        case UdpStatus::Truncated:
            return "truncated_udp";
        case UdpStatus::BadLength:
            return "bad_udp_length";
    }
    return "unknown";
}

UdpParseResult parseUdp(Bytes ipPayload, std::uint32_t statedIpPayloadLength) {
    UdpParseResult result;
    if (ipPayload.size() < kUdpHeaderLen) return result;  // Truncated
    const std::byte* h = ipPayload.data();
    std::uint16_t length = wire::be16(h + 4);
    if (length < kUdpHeaderLen || length > statedIpPayloadLength) {
        result.status = UdpStatus::BadLength;
        return result;
    }
    UdpDatagram& d = result.datagram;
    d.sport = Port(wire::be16(h));
    d.dport = Port(wire::be16(h + 2));
    d.length = length;
    d.checksum = wire::be16(h + 6);
    d.payloadLength = static_cast<std::uint16_t>(length - kUdpHeaderLen);
    d.payload = ipPayload.subspan(kUdpHeaderLen,
                                  std::min<std::size_t>(d.payloadLength, ipPayload.size() - kUdpHeaderLen));
    result.status = UdpStatus::Ok;
    return result;
}

}  // namespace tcpcopy::net
