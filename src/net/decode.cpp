#include "tcpcopy/net/decode.h"

#include <algorithm>

#include "tcpcopy/net/wire.h"

namespace tcpcopy::net {
namespace {

using wire::be16;
using wire::be32;
using wire::le32;
using wire::u8;

constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr std::uint16_t kEtherTypeVlan = 0x8100;     // 802.1Q
constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;     // 802.1ad service tag
constexpr std::uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard QinQ
constexpr std::size_t kEthernetHeaderLen = 14;
constexpr std::size_t kVlanTagLen = 4;
constexpr std::size_t kSllHeaderLen = 16;
constexpr std::size_t kSll2HeaderLen = 20;
constexpr std::size_t kNullHeaderLen = 4;
constexpr std::size_t kIpv4MinHeaderLen = 20;
constexpr std::size_t kIpv6HeaderLen = 40;
constexpr std::size_t kTcpMinHeaderLen = 20;

// BSD address families for IPv6 differ between systems (FreeBSD 28, Darwin 30, others 24).
constexpr bool isNullFamilyIpv6(std::uint32_t family) { return family == 24 || family == 28 || family == 30; }
constexpr std::uint32_t kAfInet = 2;

LinkLayer ipByEtherType(std::uint16_t etherType, Bytes rest) {
    if (etherType == kEtherTypeIpv4) return {DecodeStatus::Ok, rest, 4};
    if (etherType == kEtherTypeIpv6) return {DecodeStatus::Ok, rest, 6};
    return {DecodeStatus::NotIp, {}};
}

LinkLayer ipByVersion(Bytes frame) {
    if (frame.empty()) return {DecodeStatus::Ok, frame};  // the IP layer reports it truncated
    unsigned version = u8(frame.data()) >> 4;
    if (version == 4 || version == 6) return {DecodeStatus::Ok, frame};
    return {DecodeStatus::NotIp, {}};
}

LinkLayer ipByNullFamily(std::uint32_t family, std::uint32_t swapped, Bytes rest) {
    if (family == kAfInet || swapped == kAfInet) return {DecodeStatus::Ok, rest, 4};
    if (isNullFamilyIpv6(family) || isNullFamilyIpv6(swapped)) return {DecodeStatus::Ok, rest, 6};
    return {DecodeStatus::NotIp, {}};
}

LinkLayer stripEthernet(Bytes frame) {
    if (frame.size() < kEthernetHeaderLen) return {DecodeStatus::TruncatedLink, {}};
    std::size_t offset = 12;
    std::uint16_t etherType = be16(frame.data() + offset);
    // Any number of tags, each bounded by the frame: the loop advances 4 bytes a turn.
    while (etherType == kEtherTypeVlan || etherType == kEtherTypeQinQ || etherType == kEtherTypeQinQOld) {
        offset += kVlanTagLen;
        if (frame.size() < offset + 2) return {DecodeStatus::TruncatedLink, {}};
        etherType = be16(frame.data() + offset);
    }
    return ipByEtherType(etherType, frame.subspan(offset + 2));
}

IpLayer parseIpv4(Bytes packet) {
    IpLayer ip;
    ip.version = 4;
    if (packet.size() < kIpv4MinHeaderLen) return ip;  // TruncatedIp
    const std::byte* h = packet.data();
    std::size_t headerLen = (std::size_t{u8(h)} & 0x0F) * 4;
    std::size_t totalLen = be16(h + 2);
    ip.headerLength = headerLen;
    if ((u8(h) >> 4) != 4 || headerLen < kIpv4MinHeaderLen || totalLen < headerLen) {
        ip.status = DecodeStatus::BadIpHeader;
        return ip;
    }
    if (packet.size() < headerLen) return ip;  // TruncatedIp: options cut off
    std::uint16_t fragmentField = be16(h + 6);
    ip.fragment = (fragmentField & 0x3FFF) != 0;  // MF or a non-zero offset
    ip.protocol = u8(h + 9);
    ip.packet = packet.first(std::min(packet.size(), totalLen));
    ip.payload = ip.packet.subspan(headerLen);
    ip.payloadLength = static_cast<std::uint32_t>(totalLen - headerLen);
    ip.status = DecodeStatus::Ok;
    return ip;
}

IpLayer parseIpv6(Bytes packet) {
    IpLayer ip;
    ip.version = 6;
    if (packet.size() < kIpv6HeaderLen) return ip;  // TruncatedIp
    const std::byte* h = packet.data();
    if ((u8(h) >> 4) != 6) {
        ip.status = DecodeStatus::BadIpHeader;
        return ip;
    }
    const std::size_t statedLen = kIpv6HeaderLen + be16(h + 4);
    // Whether `end` bytes of header chain fit: beyond the stated length the packet is malformed,
    // beyond the captured bytes it is truncated.
    auto fits = [&](std::size_t end) {
        if (statedLen < end) {
            ip.status = DecodeStatus::BadIpHeader;
            return false;
        }
        return packet.size() >= end;  // status stays TruncatedIp otherwise
    };
    std::uint8_t next = u8(h + 6);
    std::size_t offset = kIpv6HeaderLen;
    bool laterFragment = false;
    while (!laterFragment) {
        std::size_t extLen = 0;
        switch (next) {
            case 0:   // hop-by-hop options
            case 43:  // routing
            case 60:  // destination options
                if (!fits(offset + 2)) return ip;
                extLen = (std::size_t{u8(h + offset + 1)} + 1) * 8;
                break;
            case 51:  // authentication header: length in 4-byte units, minus 2
                if (!fits(offset + 2)) return ip;
                extLen = (std::size_t{u8(h + offset + 1)} + 2) * 4;
                break;
            case 44:  // fragment header, fixed size
                extLen = 8;
                break;
            default:
                break;
        }
        if (extLen == 0) break;  // an upper-layer protocol (or one we do not walk)
        if (!fits(offset + extLen)) return ip;
        const std::byte* ext = h + offset;
        if (next == 44) {
            ip.fragment = true;
            // A non-first fragment carries no upper-layer header: stop at its fragment header.
            laterFragment = (be16(ext + 2) & 0xFFF8) != 0;
        }
        next = u8(ext);
        offset += extLen;
        if (ip.extensionHeaders < 255) ++ip.extensionHeaders;
    }
    ip.protocol = next;
    ip.headerLength = offset;
    ip.packet = packet.first(std::min(packet.size(), statedLen));
    ip.payload = ip.packet.subspan(offset);
    ip.payloadLength = static_cast<std::uint32_t>(statedLen - offset);
    ip.status = DecodeStatus::Ok;
    return ip;
}

}  // namespace

std::optional<LinkType> linkTypeFromDlt(int dlt) {
    switch (dlt) {
        case 0:
            return LinkType::Null;
        case 1:
            return LinkType::Ethernet;
        case 12:  // DLT_RAW on Linux; libpcap reports files' LINKTYPE_RAW (101) as this too
            return LinkType::RawIp;
        case 108:
            return LinkType::Loop;
        case 113:
            return LinkType::LinuxSll;
        case 228:
            return LinkType::Ipv4;
        case 229:
            return LinkType::Ipv6;
        case 276:
            return LinkType::LinuxSll2;
        default:
            return std::nullopt;
    }
}

std::string_view linkTypeName(LinkType type) {
    switch (type) {
        case LinkType::Ethernet:
            return "ethernet";
        case LinkType::LinuxSll:
            return "linux-sll";
        case LinkType::LinuxSll2:
            return "linux-sll2";
        case LinkType::RawIp:
            return "raw-ip";
        case LinkType::Ipv4:
            return "ipv4";
        case LinkType::Ipv6:
            return "ipv6";
        case LinkType::Null:
            return "null";
        case LinkType::Loop:
            return "loop";
    }
    return "unknown";
}

std::string_view decodeStatusName(DecodeStatus status) {
    switch (status) {
        case DecodeStatus::Ok:
            return "ok";
        case DecodeStatus::TruncatedLink:
            return "truncated_link";
        case DecodeStatus::NotIp:
            return "not_ip";
        case DecodeStatus::TruncatedIp:
            return "truncated_ip";
        case DecodeStatus::BadIpHeader:
            return "bad_ip_header";
        case DecodeStatus::Fragment:
            return "fragment";
        case DecodeStatus::NotTcp:
            return "not_tcp";
        case DecodeStatus::TruncatedTcp:
            return "truncated_tcp";
        case DecodeStatus::BadTcpHeader:
            return "bad_tcp_header";
        case DecodeStatus::BadTcpOptions:
            return "bad_tcp_options";
    }
    return "unknown";
}

LinkLayer stripLinkLayer(LinkType link, Bytes frame) {
    switch (link) {
        case LinkType::Ethernet:
            return stripEthernet(frame);
        case LinkType::LinuxSll:
            if (frame.size() < kSllHeaderLen) return {DecodeStatus::TruncatedLink, {}};
            return ipByEtherType(be16(frame.data() + 14), frame.subspan(kSllHeaderLen));
        case LinkType::LinuxSll2:
            if (frame.size() < kSll2HeaderLen) return {DecodeStatus::TruncatedLink, {}};
            return ipByEtherType(be16(frame.data()), frame.subspan(kSll2HeaderLen));
        case LinkType::RawIp:
            return ipByVersion(frame);
        case LinkType::Ipv4:
            return {DecodeStatus::Ok, frame, 4};
        case LinkType::Ipv6:
            return {DecodeStatus::Ok, frame, 6};
        case LinkType::Null: {
            if (frame.size() < kNullHeaderLen) return {DecodeStatus::TruncatedLink, {}};
            // Written in the capturing host's order, which the reader may not share: try both.
            std::uint32_t little = le32(frame.data());
            return ipByNullFamily(little, be32(frame.data()), frame.subspan(kNullHeaderLen));
        }
        case LinkType::Loop: {
            if (frame.size() < kNullHeaderLen) return {DecodeStatus::TruncatedLink, {}};
            std::uint32_t family = be32(frame.data());
            return ipByNullFamily(family, family, frame.subspan(kNullHeaderLen));
        }
    }
    return {DecodeStatus::NotIp, {}};
}

IpLayer parseIpLayer(Bytes ipPacket) {
    if (ipPacket.empty()) return IpLayer{};
    switch (u8(ipPacket.data()) >> 4) {
        case 4:
            return parseIpv4(ipPacket);
        case 6:
            return parseIpv6(ipPacket);
        default: {
            IpLayer ip;
            ip.status = DecodeStatus::BadIpHeader;
            return ip;
        }
    }
}

namespace {

// The length a modelled option of `kind` has (SACK, whose length varies, apart); 0 for the kinds
// not modelled.
constexpr std::size_t modelledOptionLength(std::uint8_t kind) {
    switch (kind) {
        case tcpoption::kMss:
            return tcpoption::kMssLength;
        case tcpoption::kWindowScale:
            return tcpoption::kWindowScaleLength;
        case tcpoption::kSackPermitted:
            return tcpoption::kSackPermittedLength;
        case tcpoption::kTimestamps:
            return tcpoption::kTimestampsLength;
        default:
            return 0;
    }
}

// Reads SACK blocks from an option of `len` bytes; false when the length holds no whole block.
bool readSackBlocks(const std::byte* body, std::size_t len, TcpOptions& out) {
    constexpr std::size_t kHead = 2;
    if (len < kHead + tcpoption::kSackBlockLength || (len - kHead) % tcpoption::kSackBlockLength != 0) {
        return false;
    }
    const std::size_t blocks =
        std::min<std::size_t>((len - kHead) / tcpoption::kSackBlockLength, out.sack.size());
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::byte* block = body + b * tcpoption::kSackBlockLength;
        out.sack[b] = SackBlock{SeqNum(be32(block)), SeqNum(be32(block + 4))};
    }
    out.sackCount = static_cast<std::uint8_t>(blocks);
    return true;
}

}  // namespace

bool parseTcpOptions(Bytes area, TcpOptions& out) {
    out = TcpOptions{};
    out.raw = area;
    const std::byte* p = area.data();
    const std::size_t n = area.size();
    auto countUnknown = [&out] {
        if (out.unknownCount < 0xFF) ++out.unknownCount;
    };
    std::size_t i = 0;
    while (i < n) {
        const std::uint8_t kind = u8(p + i);
        if (kind == tcpoption::kEol) break;  // the rest is padding
        if (kind == tcpoption::kNop) {
            ++i;
            continue;
        }
        if (i + 1 >= n) return false;
        const std::size_t len = u8(p + i + 1);
        if (len < 2 || len > n - i) return false;
        const std::byte* body = p + i + 2;
        i += len;
        if (kind == tcpoption::kSack) {
            if (!readSackBlocks(body, len, out)) countUnknown();
            continue;
        }
        // Unmodelled kinds, and modelled ones of another length (ignored, as Linux does).
        if (len != modelledOptionLength(kind)) {
            countUnknown();
            continue;
        }
        switch (kind) {
            case tcpoption::kMss:
                out.mss = be16(body);
                break;
            case tcpoption::kWindowScale:
                out.windowScale = u8(body);
                break;
            case tcpoption::kSackPermitted:
                out.sackPermitted = true;
                break;
            case tcpoption::kTimestamps:
                out.timestamps = TcpTimestamps{be32(body), be32(body + 4)};
                break;
            default:
                break;
        }
    }
    return true;
}

std::size_t tcpHeaderLength(Bytes tcp) {
    if (tcp.size() < kTcpMinHeaderLen) return 0;
    const std::size_t dataOffset = std::size_t{u8(tcp.data() + 12)} >> 4 << 2;
    if (dataOffset < kTcpMinHeaderLen || dataOffset > tcp.size()) return 0;
    return dataOffset;
}

DecodeResult decodeIpTcp(Bytes ipPacket) {
    DecodeResult result;
    IpLayer ip = parseIpLayer(ipPacket);
    if (ip.status != DecodeStatus::Ok) {
        result.status = ip.status;
        return result;
    }
    result.ipPacket = ip.packet;
    result.extensionHeaders = ip.extensionHeaders;
    if (ip.protocol != kIpProtoTcp) {
        result.status = DecodeStatus::NotTcp;
        return result;
    }
    if (ip.fragment) {
        result.status = DecodeStatus::Fragment;
        return result;
    }
    if (ip.payloadLength < kTcpMinHeaderLen || ip.payload.size() < kTcpMinHeaderLen) {
        result.status = DecodeStatus::TruncatedTcp;
        return result;
    }
    const std::byte* h = ip.payload.data();
    const std::byte* iph = ip.packet.data();
    std::size_t dataOffset = std::size_t{u8(h + 12)} >> 4 << 2;
    if (dataOffset < kTcpMinHeaderLen || dataOffset > ip.payloadLength) {
        result.status = DecodeStatus::BadTcpHeader;
        return result;
    }
    if (dataOffset > ip.payload.size()) {
        result.status = DecodeStatus::TruncatedTcp;
        return result;
    }
    TcpSegment& seg = result.segment;
    if (!parseTcpOptions(ip.payload.subspan(kTcpMinHeaderLen, dataOffset - kTcpMinHeaderLen), seg.options)) {
        result.status = DecodeStatus::BadTcpOptions;
        return result;
    }
    if (ip.version == 4) {
        seg.src = Ipv4Addr(be32(iph + 12));
        seg.dst = Ipv4Addr(be32(iph + 16));
        seg.ipId = be16(iph + 4);
        seg.ttl = u8(iph + 8);
    } else {
        seg.src = IpAddr::fromWire(iph + 8);
        seg.dst = IpAddr::fromWire(iph + 24);
        // An IPv4-mapped address never appears in an IPv6 header on the wire (RFC 4291 2.5.5.2,
        // RFC 6052 5.1); here it would read as IPv4 and make a flow of two families.
        if (seg.src.isV4() || seg.dst.isV4()) {
            result.status = DecodeStatus::BadIpHeader;
            return result;
        }
        seg.ipId = 0;           // IPv6 has no identification outside a fragment header
        seg.ttl = u8(iph + 7);  // hop limit
    }
    seg.sport = Port(be16(h));
    seg.dport = Port(be16(h + 2));
    seg.seq = SeqNum(be32(h + 4));
    seg.ack = SeqNum(be32(h + 8));
    seg.flags = u8(h + 13);
    seg.window = be16(h + 14);
    seg.payloadLength = ip.payloadLength - static_cast<std::uint32_t>(dataOffset);
    seg.payload = ip.payload.subspan(dataOffset);
    result.status = DecodeStatus::Ok;
    return result;
}

DecodeResult decodeFrame(LinkType link, Bytes frame) {
    LinkLayer l = stripLinkLayer(link, frame);
    if (l.status != DecodeStatus::Ok) {
        DecodeResult result;
        result.status = l.status;
        return result;
    }
    // A link header that announces one IP version around a packet of the other is malformed.
    if (l.ipVersion != 0 && !l.ipPacket.empty() && (u8(l.ipPacket.data()) >> 4) != l.ipVersion) {
        DecodeResult result;
        result.status = DecodeStatus::BadIpHeader;
        return result;
    }
    return decodeIpTcp(l.ipPacket);
}

}  // namespace tcpcopy::net
