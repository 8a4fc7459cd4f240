#include "tcpcopy/tunnel/nat_map.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "tcpcopy/config/address.h"
#include "tcpcopy/net/wire.h"

namespace tcpcopy::tunnel {
namespace {

constexpr std::size_t kIpChecksumOffset = 10;
constexpr std::size_t kIpSourceOffset = 12;
constexpr std::size_t kIpDestinationOffset = 16;
constexpr std::size_t kTcpChecksumOffset = 16;
constexpr std::size_t kTcpDestinationPortOffset = 2;

// Rewrites the IPv4 address at `addrOffset` and the TCP port at `portOffset`, both checksums
// updated incrementally (RFC 1624): the TCP one covers the addresses through the pseudo-header.
bool rewriteEndpoint(net::MutableBytes packet, net::Endpoint endpoint, std::size_t addrOffset,
                     std::size_t portOffset) {
    namespace wire = net::wire;
    if (packet.size() < net::kIpv4HeaderLen || !endpoint.addr.isV4()) return false;  // IPv4 only
    std::byte* ip = packet.data();
    const std::size_t ihl = std::size_t{wire::u8(ip) & 0x0fu} * 4;
    if ((wire::u8(ip) >> 4) != 4 || ihl < net::kIpv4HeaderLen || packet.size() < ihl + net::kTcpHeaderLen) {
        return false;
    }
    std::byte* tcp = ip + ihl;
    const std::uint32_t oldAddr = wire::be32(ip + addrOffset);
    const std::uint16_t oldPort = wire::be16(tcp + portOffset);
    const std::uint32_t newAddr = endpoint.addr.v4().value();
    const std::uint16_t newPort = endpoint.port.value();
    wire::put32(ip + addrOffset, newAddr);
    wire::put16(ip + kIpChecksumOffset,
                net::checksumUpdate32(wire::be16(ip + kIpChecksumOffset), oldAddr, newAddr));
    std::uint16_t tcpSum = net::checksumUpdate32(wire::be16(tcp + kTcpChecksumOffset), oldAddr, newAddr);
    tcpSum = net::checksumUpdate16(tcpSum, oldPort, newPort);
    wire::put16(tcp + portOffset, newPort);
    wire::put16(tcp + kTcpChecksumOffset, tcpSum);
    return true;
}

struct Side {
    net::Ipv4Addr addr;
    std::optional<net::Port> port;
};

// "IP" or "IP:PORT" (config/address.h); the reason appended to `error` when it is neither, or
// when the address is IPv6: the rewrite is IPv4 only.
std::optional<Side> parseSide(std::string_view text, std::string& error) {
    config::HostPort parsed;
    if (std::string reason = config::parseHostPort(text, config::PortUse::Optional, parsed);
        !reason.empty()) {
        error.append(reason);
        return std::nullopt;
    }
    if (!parsed.addr.isV4()) {
        error.append(config::quote(text)).append(" is IPv6: NAT mappings are IPv4 only");
        return std::nullopt;
    }
    return Side{parsed.addr.v4(), parsed.port};
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

}  // namespace

os::Result<NatMap> NatMap::parse(std::string_view text) {
    using R = os::Result<NatMap>;
    NatMap map;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string_view item =
            trim(text.substr(start, comma == text.npos ? text.npos : comma - start));
        // Appended piece by piece: "'" + std::string(item) trips GCC 12's -Wrestrict at -O3.
        std::string quoted(1, '\'');
        quoted.append(item).push_back('\'');
        const std::size_t dash = item.find('-');
        if (dash == item.npos) {
            return R::fail(
                "expected SEEN[:PORT]-SENT[:PORT] (the address as the captured responses carry it, then "
                "the one tcpcopy used), got " +
                quoted + (item == text ? "" : " in '" + std::string(text) + "'"));
        }
        std::string error = quoted + ": ";
        auto seen = parseSide(trim(item.substr(0, dash)), error);
        if (!seen) return R::fail(error);
        auto sent = parseSide(trim(item.substr(dash + 1)), error);
        if (!sent) return R::fail(error);
        if (sent->port && !seen->port) {
            return R::fail(quoted + ": a port on the SENT side needs one on the SEEN side");
        }
        NatMapping mapping{seen->addr, seen->port, sent->addr, sent->port};
        const bool twice = std::any_of(map.mappings_.begin(), map.mappings_.end(), [&](const NatMapping& m) {
            return m.seenAddr == mapping.seenAddr && m.seenPort == mapping.seenPort;
        });
        if (twice) return R::fail(quoted + ": its SEEN side is mapped twice");
        map.mappings_.push_back(mapping);
        if (comma == text.npos) break;
        start = comma + 1;
    }
    return R::ok(std::move(map));
}

std::optional<net::Endpoint> NatMap::sentFor(net::Endpoint seen) const {
    const NatMapping* wholeAddress = nullptr;
    for (const NatMapping& m : mappings_) {
        if (m.seenAddr != seen.addr) continue;
        if (m.seenPort == seen.port) return net::Endpoint{m.sentAddr, m.sentPort.value_or(seen.port)};
        if (!m.seenPort) wholeAddress = &m;
    }
    if (wholeAddress) return net::Endpoint{wholeAddress->sentAddr, seen.port};
    return std::nullopt;
}

namespace {

// `headers` copied into `scratch` with one end rewritten by `rewrite`, and `end` (that end of
// the flow) set to `to`; `headers` itself when it is not a whole IPv4/TCP header.
net::Bytes rewrittenCopy(net::Bytes headers, net::Endpoint to,
                         bool (*rewrite)(net::MutableBytes, net::Endpoint), net::Endpoint& end,
                         NatScratch& scratch) {
    if (headers.size() > scratch.size()) scratch.resize(headers.size());
    std::memcpy(scratch.data(), headers.data(), headers.size());
    const net::MutableBytes copy(scratch.data(), headers.size());
    if (!rewrite(copy, to)) return headers;
    end = to;
    return copy;
}

}  // namespace

net::Bytes NatMap::apply(net::Bytes headers, net::FlowKey& flow, NatScratch& scratch) const {
    const auto sent = sentFor(flow.server);
    return sent ? rewrittenCopy(headers, *sent, rewriteSource, flow.server, scratch) : headers;
}

net::Bytes NatMap::applyToClient(net::Bytes headers, net::FlowKey& flow, NatScratch& scratch) const {
    const auto sent = sentFor(flow.client);
    return sent ? rewrittenCopy(headers, *sent, rewriteDestination, flow.client, scratch) : headers;
}

bool rewriteSource(net::MutableBytes packet, net::Endpoint source) {
    return rewriteEndpoint(packet, source, kIpSourceOffset, 0);
}

bool rewriteDestination(net::MutableBytes packet, net::Endpoint destination) {
    return rewriteEndpoint(packet, destination, kIpDestinationOffset, kTcpDestinationPortOffset);
}

}  // namespace tcpcopy::tunnel
