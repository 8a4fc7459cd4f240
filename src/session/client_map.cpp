#include "tcpcopy/session/client_map.h"

namespace tcpcopy::session {
namespace {

constexpr std::uint32_t kPortFloor = 1024;
constexpr std::uint32_t kPortRange = 65536 - kPortFloor;
constexpr std::uint32_t kCopyPortStride = 4099;       // prime, far from neighbouring ports
constexpr std::uint32_t kInstancePortStride = 16411;  // prime, for -f

}  // namespace

const AddressRule* matchRule(std::span<const AddressRule> rules, const net::IpAddr& dst, net::Port dport) {
    for (const AddressRule& rule : rules) {
        if (rule.onlinePort != dport) continue;
        if (rule.onlineAddr && *rule.onlineAddr != dst) continue;
        return &rule;
    }
    return nullptr;
}

net::Endpoint replayClientFor(const net::Endpoint& captured, unsigned copy,
                              const std::optional<net::IpAddr>& loopbackRewrite,
                              std::span<const net::IpAddr> clientPool, unsigned portShiftFactor) {
    net::IpAddr addr = captured.addr;
    if (addr.isLoopback() && loopbackRewrite && loopbackRewrite->isV4() == addr.isV4())
        addr = *loopbackRewrite;
    if (!clientPool.empty()) addr = clientPool[net::hashAddr(addr, 0) % clientPool.size()];
    std::uint32_t port = captured.port.value();
    if (copy != 0 || portShiftFactor != 0) {
        const std::uint32_t base = port >= kPortFloor ? port - kPortFloor : port;
        port =
            kPortFloor + (base + copy * kCopyPortStride + portShiftFactor * kInstancePortStride) % kPortRange;
    }
    return net::Endpoint{addr, net::Port(static_cast<std::uint16_t>(port))};
}

FamilyPools splitPool(std::span<const net::IpAddr> clientPool) {
    FamilyPools pools;
    for (const net::IpAddr& addr : clientPool) (addr.isV4() ? pools.v4 : pools.v6).push_back(addr);
    return pools;
}

bool sampledIn(const net::FlowKey& captured, unsigned percent) {
    return percent >= 100 || net::mix64(net::FlowKeyHash{}(captured)) % 100 < percent;
}

}  // namespace tcpcopy::session
