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

// Maps a libpcap DLT value to a LinkType; nullopt for link types we cannot decode. DLT values
// are those libpcap reports on Linux: DLT_RAW is 12 (files' LINKTYPE_RAW 101 is read as 12), and
// LINKTYPE values that are not DLTs (101, OpenBSD's 14) are not accepted.
std::optional<LinkType> linkTypeFromDlt(int dlt);
std::string_view linkTypeName(LinkType type);

enum class DecodeStatus : std::uint8_t {
    Ok,
    TruncatedLink,  // frame shorter than its link header
    NotIp,          // link payload is not IPv4/IPv6 (ARP, LLDP, ...)
    TruncatedIp,    // shorter than the IP header, or header length field impossible
    BadIpHeader,    // version/IHL/total-length inconsistent
    Fragment,       // an IPv4 fragment (recognised and counted, not reassembled)
    NotTcp,         // IP payload is not TCP
    TruncatedTcp,   // shorter than the TCP header / data offset
    BadTcpHeader,   // data offset < 5 or beyond the IP payload
    BadTcpOptions,  // an option length that runs past the option area
};
std::string_view decodeStatusName(DecodeStatus status);

struct DecodeResult {
    DecodeStatus status = DecodeStatus::NotIp;
    TcpSegment segment;                 // valid only when status == Ok; its spans view the input frame
    Bytes ipPacket;                     // the IP packet inside the frame (when the IP layer was found)
    std::uint8_t extensionHeaders = 0;  // IPv6 extension headers skipped (when the IP layer was found)
};

// Decodes an IPv4 or IPv6 packet carrying TCP (IPv6 extension headers skipped). `ipPacket` may be longer than
// the IP total length (Ethernet padding): the excess is ignored. It may be shorter (snaplen): payload then
// holds what is present while payloadLength keeps what the IP header states. Precedence when several apply:
// IP header problems, then NotTcp (any other protocol, fragment or not), then Fragment (a TCP fragment), then
// the TCP header and options. IP and TCP checksums are not verified (captures taken with checksum offload
// carry wrong ones). For IPv6, ipId is 0 and ttl is the hop limit; an IPv4-mapped source or
// destination address (never valid on the wire) is BadIpHeader.
DecodeResult decodeIpTcp(Bytes ipPacket);

// Strips the link layer, then decodes as decodeIpTcp.
DecodeResult decodeFrame(LinkType link, Bytes frame);

// Parses a TCP option area; returns false when an option's length runs past the end (or is
// below 2, which would make the walk impossible). `out` is reset first; `out.raw` views the whole
// area. Parsing stops at EOL. Options of kinds not modelled, and modelled kinds carrying a length
// other than their defined one (ignored, as Linux does), are counted in unknownCount (saturating).
bool parseTcpOptions(Bytes optionArea, TcpOptions& out);

// The length of the TCP header starting `tcp` (its data offset), or 0 when `tcp` does not hold a
// whole one: shorter than 20 bytes, a data offset below 5, or options beyond its end.
std::size_t tcpHeaderLength(Bytes tcp);

// ---- Layer by layer (used by decodeFrame; public for callers that need one layer only) ----

// The link layer stripped from a frame. status is Ok, TruncatedLink or NotIp; Ok only says the
// link header is complete and announces IP (ipPacket may be empty: the IP layer judges it).
// For RawIp, Ipv4 and Ipv6 there is no link header: the whole frame is the IP packet.
struct LinkLayer {
    DecodeStatus status = DecodeStatus::NotIp;
    Bytes ipPacket;              // view into the frame, starting at the IP header; valid when status == Ok
    std::uint8_t ipVersion = 0;  // the IP version the link header announces (4/6); 0: it does not
};
LinkLayer stripLinkLayer(LinkType link, Bytes frame);

// An IPv4 or IPv6 header checked and walked to the upper-layer protocol. status is Ok,
// TruncatedIp or BadIpHeader. For IPv6 the extension headers (hop-by-hop, routing, fragment,
// destination options, AH) are skipped; a non-first IPv6 fragment stops the walk there.
struct IpLayer {
    DecodeStatus status = DecodeStatus::TruncatedIp;
    std::uint8_t version = 0;         // 4 or 6
    std::uint8_t protocol = 0;        // upper-layer protocol number (IPPROTO_TCP = 6, UDP = 17, ...)
    bool fragment = false;            // IPv4 MF set or offset != 0; IPv6 fragment header present
    Bytes packet;                     // the IP packet, cut to its stated length when that fits
    Bytes payload;                    // the upper-layer bytes present (may be short under snaplen)
    std::uint32_t payloadLength = 0;  // the upper-layer length the IP header states
    // IPv4: the header length the IHL field states (set whenever the first 20 bytes are there,
    // whatever the status); IPv6: the fixed header and the extension headers walked (when Ok).
    std::size_t headerLength = 0;
    std::uint8_t extensionHeaders = 0;  // IPv6: extension headers walked (saturating at 255)
};
IpLayer parseIpLayer(Bytes ipPacket);

}  // namespace tcpcopy::net
