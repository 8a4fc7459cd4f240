#include "tcpcopy/app/udp_copy.h"

#include <algorithm>
#include <utility>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/udp.h"
#include "tcpcopy/net/wire.h"
#include "tcpcopy/session/client_map.h"

namespace tcpcopy::app {
namespace {

constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::size_t kMaxIpv4Packet = 65535;
std::uint32_t addressSum(net::Ipv4Addr addr) { return (addr.value() >> 16) + (addr.value() & 0xffffu); }

}  // namespace

UdpCopyConfig UdpCopyConfig::from(const session::EngineConfig& engine,
                                  std::vector<session::AddressRule> rules) {
    UdpCopyConfig c;
    c.rules = std::move(rules);
    c.clientPool = session::splitPool(engine.clientPool).v4;  // UDP copy is IPv4 only
    if (engine.loopbackRewrite && engine.loopbackRewrite->isV4()) c.loopbackRewrite = engine.loopbackRewrite;
    c.copies = std::max(1u, engine.copies);
    c.portShiftFactor = engine.portShiftFactor;
    c.samplePercent = engine.samplePercent;
    c.ttl = engine.ttl;
    return c;
}

UdpCopier::UdpCopier(UdpCopyConfig config, Send send, RouteHooks routes)
    : config_(std::move(config)), send_(std::move(send)), packet_(kMaxIpv4Packet), hooks_(std::move(routes)) {
    config_.copies = std::max(1u, config_.copies);
    config_.maxRoutes = std::max<std::size_t>(1, config_.maxRoutes);
}

void UdpCopier::announce(const net::FlowKey& flow) {
    if (!hooks_.add || !routes_.try_emplace(flow, false).second) return;
    routeOrder_.push_back(flow);
    ++awaiting_;
    ++stats_.routes;
    hooks_.add(flow);
    if (routes_.size() <= config_.maxRoutes) return;
    const net::FlowKey oldest = routeOrder_.front();
    routeOrder_.pop_front();
    const auto it = routes_.find(oldest);
    if (!it->second) --awaiting_;
    routes_.erase(it);
    ++stats_.routesEvicted;
    if (hooks_.remove) hooks_.remove(oldest);
}

void UdpCopier::onResponse(net::Bytes header) {
    const net::IpLayer ip = net::parseIpLayer(header);
    if (ip.status != net::DecodeStatus::Ok || ip.version != 4 || ip.protocol != net::kIpProtoUdp ||
        ip.fragment) {
        ++stats_.responsesMalformed;
        return;
    }
    const net::UdpParseResult parsed = net::parseUdp(ip.payload, ip.payloadLength);
    if (parsed.status != net::UdpStatus::Ok) {
        ++stats_.responsesMalformed;
        return;
    }
    // A response travels target -> replay client.
    const net::Endpoint target{net::Ipv4Addr(net::wire::be32(header.data() + 12)), parsed.datagram.sport};
    const net::Endpoint client{net::Ipv4Addr(net::wire::be32(header.data() + 16)), parsed.datagram.dport};
    const auto it = routes_.find(net::FlowKey{client, target});
    if (it == routes_.end()) {
        ++stats_.responsesUnmatched;
        return;
    }
    ++stats_.responses;
    stats_.responseBytes += parsed.datagram.payloadLength;
    if (it->second) return;
    it->second = true;
    --awaiting_;
    ++stats_.flowsAnswered;
}

const session::AddressRule* UdpCopier::matchRule(const net::IpAddr& dst, net::Port dport) const {
    return session::matchRule(config_.rules, dst, dport);
}

net::Endpoint UdpCopier::replayClient(const net::Endpoint& captured, unsigned copy) const {
    return session::replayClientFor(captured, copy, config_.loopbackRewrite, config_.clientPool,
                                    config_.portShiftFactor);
}

bool UdpCopier::onPacket(const net::IpLayer& ip) {
    if (ip.status != net::DecodeStatus::Ok || ip.version != 4 || ip.protocol != net::kIpProtoUdp)
        return false;
    if (ip.fragment) {
        ++stats_.fragments;
        return true;
    }
    const net::UdpParseResult parsed = net::parseUdp(ip.payload, ip.payloadLength);
    if (parsed.status != net::UdpStatus::Ok) {
        ++stats_.malformed;
        return true;
    }
    const net::UdpDatagram& udp = parsed.datagram;
    const std::byte* header = ip.packet.data();
    const net::Endpoint client{net::Ipv4Addr(net::wire::be32(header + 12)), udp.sport};
    const net::Endpoint server{net::Ipv4Addr(net::wire::be32(header + 16)), udp.dport};
    const session::AddressRule* rule = matchRule(server.addr, server.port);
    if (rule == nullptr) return true;
    ++stats_.matched;
    if (!session::sampledIn(net::FlowKey{client, server}, config_.samplePercent)) {
        ++stats_.sampledOut;
        return true;
    }
    if (udp.payload.size() < udp.payloadLength) {
        ++stats_.truncated;
        return true;
    }
    const std::uint8_t tos = net::wire::u8(header + 1);
    const std::uint16_t id = net::wire::be16(header + 4);
    const std::uint16_t flags = net::wire::be16(header + 6) & kDontFragment;
    const std::size_t udpLength = net::kUdpHeaderLen + udp.payload.size();
    const std::size_t total = net::kIpv4HeaderLen + udpLength;
    std::byte* out = packet_.data();
    std::byte* udpOut = out + net::kIpv4HeaderLen;
    std::copy(udp.payload.begin(), udp.payload.end(), udpOut + net::kUdpHeaderLen);
    for (unsigned copy = 0; copy < config_.copies; ++copy) {
        const net::Endpoint source = replayClient(client, copy);
        const net::Endpoint& target = rule->target;
        net::wire::put8(out, 0x45);
        net::wire::put8(out + 1, tos);
        net::wire::put16(out + 2, static_cast<std::uint16_t>(total));
        net::wire::put16(out + 4, static_cast<std::uint16_t>(id + copy));
        net::wire::put16(out + 6, flags);
        net::wire::put8(out + 8, config_.ttl);
        net::wire::put8(out + 9, net::kIpProtoUdp);
        net::wire::put16(out + 10, 0);
        net::wire::put32(out + 12, source.addr.v4().value());
        net::wire::put32(out + 16, target.addr.v4().value());
        net::wire::put16(out + 10, net::internetChecksum(net::Bytes(out, net::kIpv4HeaderLen)));
        net::wire::put16(udpOut, source.port.value());
        net::wire::put16(udpOut + 2, target.port.value());
        net::wire::put16(udpOut + 4, static_cast<std::uint16_t>(udpLength));
        net::wire::put16(udpOut + 6, 0);
        const std::uint32_t pseudo = addressSum(source.addr.v4()) + addressSum(target.addr.v4()) +
                                     net::kIpProtoUdp + static_cast<std::uint32_t>(udpLength);
        std::uint16_t checksum =
            static_cast<std::uint16_t>(~net::onesComplementSum(net::Bytes(udpOut, udpLength), pseudo));
        if (checksum == 0) checksum = 0xffff;  // RFC 768: 0 means "no checksum"
        net::wire::put16(udpOut + 6, checksum);
        ++stats_.copied;
        stats_.bytes += udp.payload.size();
        announce(net::FlowKey{source, target});  // before the datagram, so its answer finds it
        send_(net::Bytes(out, total));
    }
    return true;
}

}  // namespace tcpcopy::app
