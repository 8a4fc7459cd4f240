#pragma once
// Decoding captured frames into TcpSegment. Every length is checked; nothing here throws and a
// short or malformed frame yields a status, never a read past the end.

#include <cstdint>
#include <optional>
#include <string_view>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::net {

// Link layers we decode. Values are ours, not DLT numbers.
enum class LinkType : std::uint8_t {
    Ethernet,   // DLT_EN10MB, with 802.1Q / 802.1ad (QinQ) tags skipped
    LinuxSll,   // DLT_LINUX_SLL (Linux "any" device, v1)
    LinuxSll2,  // DLT_LINUX_SLL2
    RawIp,      // DLT_RAW / LINKTYPE_RAW: starts with the IP header (v4 or v6)
    Ipv4,       // LINKTYPE_IPV4
    Ipv6,       // LINKTYPE_IPV6
    Null,       // DLT_NULL: 4-byte address family in host order of the capturing machine
    Loop,       // DLT_LOOP: 4-byte address family in network order
};

// Maps a libpcap DLT value to a LinkType; nullopt for link types we cannot decode.
std::optional<LinkType> linkTypeFromDlt(int dlt);
std::string_view linkTypeName(LinkType type);

enum class DecodeStatus : std::uint8_t {
    Ok,
    TruncatedLink,     // frame shorter than its link header
    NotIp,             // link payload is not IPv4/IPv6 (ARP, LLDP, ...)
    TruncatedIp,       // shorter than the IP header, or header length field impossible
    BadIpHeader,       // version/IHL/total-length inconsistent
    Ipv6,              // a valid IPv6 packet (the engine is IPv4-only for now)
    Fragment,          // an IPv4 fragment (recognised and counted, not reassembled)
    NotTcp,            // IP payload is not TCP
    TruncatedTcp,      // shorter than the TCP header / data offset
    BadTcpHeader,      // data offset < 5 or beyond the IP payload
    BadTcpOptions,     // an option length that runs past the option area
};
std::string_view decodeStatusName(DecodeStatus status);

struct DecodeResult {
    DecodeStatus status = DecodeStatus::NotIp;
    TcpSegment segment;  // valid only when status == Ok; its spans view the input frame
    Bytes ipPacket;      // the IP packet inside the frame (when the IP layer was found)
};

// Decodes an IPv4 packet carrying TCP. `ipPacket` may be longer than the IP total length
// (Ethernet padding): the excess is ignored. It may be shorter (snaplen): payload then holds
// what is present while payloadLength keeps what the IP header states.
DecodeResult decodeIpv4Tcp(Bytes ipPacket);

// Strips the link layer, then decodes as decodeIpv4Tcp. IPv6 packets (with extension
// headers skipped) report status Ipv6.
DecodeResult decodeFrame(LinkType link, Bytes frame);

// Parses a TCP option area; returns false when an option's length runs past the end.
bool parseTcpOptions(Bytes optionArea, TcpOptions& out);

}  // namespace tcpcopy::net
