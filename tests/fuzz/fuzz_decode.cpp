// Fuzzes decodeFrame over every link type (the first byte chooses it), and the layer-by-layer
// API and UDP view on what it finds. Checks the invariants callers rely on: views stay inside the
// input, and an Ok segment is consistent with its own lengths.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/udp.h"

namespace {

using tcpcopy::net::Bytes;

constexpr tcpcopy::net::LinkType kLinkTypes[] = {
    tcpcopy::net::LinkType::Ethernet, tcpcopy::net::LinkType::LinuxSll, tcpcopy::net::LinkType::LinuxSll2,
    tcpcopy::net::LinkType::RawIp,    tcpcopy::net::LinkType::Ipv4,     tcpcopy::net::LinkType::Ipv6,
    tcpcopy::net::LinkType::Null,     tcpcopy::net::LinkType::Loop,
};

void require(bool condition) {
    if (!condition) std::abort();
}

bool inside(Bytes inner, Bytes outer) {
    if (inner.empty()) return true;
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    auto link = kLinkTypes[data[0] % std::size(kLinkTypes)];
    Bytes frame(reinterpret_cast<const std::byte*>(data + 1), size - 1);

    tcpcopy::net::DecodeResult r = tcpcopy::net::decodeFrame(link, frame);
    require(!tcpcopy::net::decodeStatusName(r.status).empty());
    require(inside(r.ipPacket, frame));
    if (r.status == tcpcopy::net::DecodeStatus::Ok) {
        const tcpcopy::net::TcpSegment& s = r.segment;
        require(inside(s.payload, frame));
        require(inside(s.options.raw, frame));
        require(s.payload.size() <= s.payloadLength);
        require(s.options.raw.size() <= tcpcopy::net::kMaxTcpOptionsLen);
        require(s.options.sackCount <= s.options.sack.size());
        // What the decoder accepts, the builder can write back (modelled options only).
        static std::byte out[tcpcopy::net::kMaxHeadersLen + 65536];
        std::size_t n = tcpcopy::net::buildIpTcp(s, std::span(out));
        // Refused only when the rewritten options push the packet past 65535 bytes.
        require(n != 0 || tcpcopy::net::kMaxHeadersLen + s.payload.size() > 0xFFFF);
        if (n != 0) {
            require(tcpcopy::net::decodeIpTcp(Bytes(out, n)).status == tcpcopy::net::DecodeStatus::Ok);
        }
    }

    tcpcopy::net::LinkLayer l = tcpcopy::net::stripLinkLayer(link, frame);
    if (l.status == tcpcopy::net::DecodeStatus::Ok) {
        tcpcopy::net::IpLayer ip = tcpcopy::net::parseIpLayer(l.ipPacket);
        if (ip.status == tcpcopy::net::DecodeStatus::Ok) {
            require(inside(ip.packet, frame));
            require(inside(ip.payload, ip.packet));
            require(ip.payload.size() <= ip.payloadLength);
            if (ip.protocol == tcpcopy::net::kIpProtoUdp) {
                tcpcopy::net::UdpParseResult u = tcpcopy::net::parseUdp(ip.payload, ip.payloadLength);
                if (u.status == tcpcopy::net::UdpStatus::Ok) {
                    require(inside(u.datagram.payload, ip.payload));
                    require(u.datagram.payload.size() <= u.datagram.payloadLength);
                }
            }
        }
    }
    return 0;
}
