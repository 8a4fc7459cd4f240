#include "tcpcopy/net/builder.h"

#include <array>
#include <bit>
#include <cstring>

#include "tcpcopy/net/wire.h"

namespace tcpcopy::net {
namespace {

using wire::put16;
using wire::put32;
using wire::put8;

constexpr std::uint32_t fold(std::uint64_t sum) {
    sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
    sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
    std::uint32_t s = static_cast<std::uint32_t>(sum);
    s = (s & 0xFFFFu) + (s >> 16);
    s = (s & 0xFFFFu) + (s >> 16);
    return s;
}

constexpr std::uint16_t byteSwap16(std::uint32_t v) {
    return static_cast<std::uint16_t>(((v & 0xFFu) << 8) | ((v >> 8) & 0xFFu));
}

}  // namespace

std::uint16_t onesComplementSum(Bytes data, std::uint32_t initial) {
    // RFC 1071 §2(B): the sum is byte-order independent, so add native-order words eight bytes at
    // a time and swap the folded result once on little-endian hosts.
    const std::byte* p = data.data();
    std::size_t n = data.size();
    std::uint64_t sum = 0;
    while (n >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        sum += (word & 0xFFFFFFFFu) + (word >> 32);
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        std::uint32_t word;
        std::memcpy(&word, p, 4);
        sum += word;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        std::uint16_t word;
        std::memcpy(&word, p, 2);
        sum += word;
        p += 2;
        n -= 2;
    }
    if (n == 1) {
        // The odd byte is the high byte of a zero-padded word in network order.
        std::byte pad[2] = {*p, std::byte{0}};
        std::uint16_t word;
        std::memcpy(&word, pad, 2);
        sum += word;
    }
    std::uint32_t folded = fold(sum);
    if constexpr (std::endian::native == std::endian::little) folded = byteSwap16(folded);
    return static_cast<std::uint16_t>(fold(std::uint64_t{folded} + initial));
}

std::uint16_t internetChecksum(Bytes data) { return static_cast<std::uint16_t>(~onesComplementSum(data)); }

std::uint16_t tcpChecksumV4(Ipv4Addr src, Ipv4Addr dst, Bytes tcpSegment) {
    std::uint32_t pseudo = (src.value() >> 16) + (src.value() & 0xFFFF) + (dst.value() >> 16) +
                           (dst.value() & 0xFFFF) + kIpProtoTcp +
                           static_cast<std::uint32_t>(tcpSegment.size());
    return static_cast<std::uint16_t>(~onesComplementSum(tcpSegment, pseudo));
}

std::uint16_t tcpChecksumV6(const IpAddr& src, const IpAddr& dst, Bytes tcpSegment) {
    // RFC 8200 8.1: source, destination, upper-layer length (32 bits), next header.
    std::array<std::byte, 32> addresses{};
    src.toWire(addresses.data());
    dst.toWire(addresses.data() + 16);
    const auto length = static_cast<std::uint32_t>(tcpSegment.size());
    const std::uint32_t pseudo =
        onesComplementSum(addresses) + (length >> 16) + (length & 0xFFFF) + kIpProtoTcp;
    return static_cast<std::uint16_t>(~onesComplementSum(tcpSegment, pseudo));
}

std::uint16_t tcpChecksum(const IpAddr& src, const IpAddr& dst, Bytes tcpSegment) {
    if (src.isV4()) return tcpChecksumV4(src.v4(), dst.v4(), tcpSegment);
    return tcpChecksumV6(src, dst, tcpSegment);
}

std::uint16_t checksumUpdate16(std::uint16_t checksum, std::uint16_t oldValue, std::uint16_t newValue) {
    // HC' = ~(~HC + ~m + m')
    std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~checksum)} +
                        std::uint32_t{static_cast<std::uint16_t>(~oldValue)} + newValue;
    return static_cast<std::uint16_t>(~fold(sum));
}

std::uint16_t checksumUpdate32(std::uint16_t checksum, std::uint32_t oldValue, std::uint32_t newValue) {
    std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~checksum)} +
                        std::uint32_t{static_cast<std::uint16_t>(~(oldValue >> 16))} +
                        std::uint32_t{static_cast<std::uint16_t>(~oldValue)} + (newValue >> 16) +
                        (newValue & 0xFFFF);
    return static_cast<std::uint16_t>(~fold(sum));
}

std::size_t writeTcpOptions(const TcpOptions& options, std::uint8_t segmentFlags, MutableBytes out) {
    // The layout Linux uses, so replayed segments look like the stack's own:
    //   SYN:     MSS, SACK-permitted + timestamps (or NOP NOP + either), NOP + window scale
    //   non-SYN: NOP NOP timestamps, NOP NOP SACK blocks (as many as still fit in 40 bytes)
    namespace opt = tcpoption;
    std::array<std::byte, kMaxTcpOptionsLen> buf{};
    std::size_t n = 0;
    auto head = [&](std::uint8_t kind, std::uint8_t length) {
        put8(&buf[n++], kind);
        put8(&buf[n++], length);
    };
    auto nop2 = [&] {
        put8(&buf[n++], opt::kNop);
        put8(&buf[n++], opt::kNop);
    };
    auto timestamps = [&] {
        head(opt::kTimestamps, opt::kTimestampsLength);
        put32(&buf[n], options.timestamps->value);
        put32(&buf[n + 4], options.timestamps->echo);
        n += 8;
    };
    const bool syn = (segmentFlags & tcpflag::kSyn) != 0;
    if (syn) {
        if (options.mss) {
            head(opt::kMss, opt::kMssLength);
            put16(&buf[n], *options.mss);
            n += 2;
        }
        if (options.sackPermitted && options.timestamps) {
            head(opt::kSackPermitted, opt::kSackPermittedLength);
            timestamps();
        } else if (options.timestamps) {
            nop2();
            timestamps();
        } else if (options.sackPermitted) {
            nop2();
            head(opt::kSackPermitted, opt::kSackPermittedLength);
        }
        if (options.windowScale) {
            put8(&buf[n++], opt::kNop);
            head(opt::kWindowScale, opt::kWindowScaleLength);
            put8(&buf[n++], *options.windowScale);
        }
    } else {
        if (options.timestamps) {
            nop2();
            timestamps();
        }
        std::size_t blocks = std::min<std::size_t>(options.sackCount, options.sack.size());
        blocks = std::min(blocks, (kMaxTcpOptionsLen - n - 4) / opt::kSackBlockLength);
        if (blocks > 0) {
            nop2();
            head(opt::kSack, static_cast<std::uint8_t>(2 + blocks * opt::kSackBlockLength));
            for (std::size_t b = 0; b < blocks; ++b) {
                put32(&buf[n], options.sack[b].left.value());
                put32(&buf[n + 4], options.sack[b].right.value());
                n += opt::kSackBlockLength;
            }
        }
    }
    if (n > out.size()) return 0;
    std::memcpy(out.data(), buf.data(), n);
    return n;
}

namespace {

// Writes the IPv4 header of a packet of `totalLen` bytes; returns its length.
std::size_t writeIpv4Header(const TcpSegment& seg, std::size_t totalLen, std::byte* ip) {
    put8(ip, 0x45);  // version 4, IHL 5
    put8(ip + 1, 0);
    put16(ip + 2, static_cast<std::uint16_t>(totalLen));
    put16(ip + 4, seg.ipId);
    put16(ip + 6, 0x4000);  // DF
    put8(ip + 8, seg.ttl);
    put8(ip + 9, kIpProtoTcp);
    put16(ip + 10, 0);
    put32(ip + 12, seg.src.v4().value());
    put32(ip + 16, seg.dst.v4().value());
    put16(ip + 10, internetChecksum(Bytes(ip, kIpv4HeaderLen)));
    return kIpv4HeaderLen;
}

// Writes the fixed IPv6 header (traffic class and flow label 0, no extension headers).
std::size_t writeIpv6Header(const TcpSegment& seg, std::size_t tcpLen, std::byte* ip) {
    put32(ip, 0x60000000u);  // version 6
    put16(ip + 4, static_cast<std::uint16_t>(tcpLen));
    put8(ip + 6, kIpProtoTcp);
    put8(ip + 7, seg.ttl);  // hop limit
    seg.src.toWire(ip + 8);
    seg.dst.toWire(ip + 24);
    return kIpv6HeaderLen;
}

}  // namespace

std::size_t buildIpTcp(const TcpSegment& seg, MutableBytes out) {
    const bool v4 = seg.src.isV4();
    if (v4 != seg.dst.isV4()) return 0;  // one family per packet
    std::array<std::byte, kMaxTcpOptionsLen> options{};
    std::size_t optionsLen = writeTcpOptions(seg.options, seg.flags, options);
    std::size_t tcpLen = kTcpHeaderLen + optionsLen + seg.payload.size();
    const std::size_t ipLen = v4 ? kIpv4HeaderLen : kIpv6HeaderLen;
    std::size_t totalLen = ipLen + tcpLen;
    // IPv4's total length and IPv6's payload length are both 16 bits (no jumbograms).
    if ((v4 ? totalLen : tcpLen) > 0xFFFF || totalLen > out.size()) return 0;

    std::byte* ip = out.data();
    if (v4) {
        writeIpv4Header(seg, totalLen, ip);
    } else {
        writeIpv6Header(seg, tcpLen, ip);
    }
    std::byte* tcp = ip + ipLen;
    put16(tcp, seg.sport.value());
    put16(tcp + 2, seg.dport.value());
    put32(tcp + 4, seg.seq.value());
    put32(tcp + 8, seg.ack.value());
    put8(tcp + 12, static_cast<std::uint8_t>(((kTcpHeaderLen + optionsLen) / 4) << 4));
    put8(tcp + 13, seg.flags);
    put16(tcp + 14, seg.window);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);  // urgent pointer
    if (optionsLen > 0) std::memcpy(tcp + kTcpHeaderLen, options.data(), optionsLen);
    if (!seg.payload.empty()) {
        std::memcpy(tcp + kTcpHeaderLen + optionsLen, seg.payload.data(), seg.payload.size());
    }
    put16(tcp + 16, tcpChecksum(seg.src, seg.dst, Bytes(tcp, tcpLen)));
    return totalLen;
}

}  // namespace tcpcopy::net
