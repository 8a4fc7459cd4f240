#include "tcpcopy/session/client_map.h"

namespace tcpcopy::session {
namespace {

constexpr std::uint32_t kPortFloor = 1024;
constexpr std::uint32_t kPortRange = 65536 - kPortFloor;
constexpr std::uint32_t kCopyPortStride = 4099;       // prime, far from neighbouring ports
constexpr std::uint32_t kInstancePortStride = 16411;  // prime, for -f

}  // namespace

const AddressRule* matchRule(std::span<const AddressRule> rules, net::Ipv4Addr dst, net::Port dport) {
    for (const AddressRule& rule : rules) {
        if (rule.onlinePort != dport) continue;
        if (rule.onlineAddr && *rule.onlineAddr != dst) continue;
        return &rule;
    }
    return nullptr;
}

net::Endpoint replayClientFor(const net::Endpoint& captured, unsigned copy,
                              const std::optional<net::Ipv4Addr>& loopbackRewrite,
                              std::span<const net::Ipv4Addr> clientPool, unsigned portShiftFactor) {
    net::Ipv4Addr addr = captured.addr;
    if (addr.isLoopback() && loopbackRewrite) addr = *loopbackRewrite;
    if (!clientPool.empty()) addr = clientPool[net::mix64(addr.value()) % clientPool.size()];
    std::uint32_t port = captured.port.value();
    if (copy != 0 || portShiftFactor != 0) {
        const std::uint32_t base = port >= kPortFloor ? port - kPortFloor : port;
        port =
            kPortFloor + (base + copy * kCopyPortStride + portShiftFactor * kInstancePortStride) % kPortRange;
    }
    return net::Endpoint{addr, net::Port(static_cast<std::uint16_t>(port))};
}

bool sampledIn(const net::FlowKey& captured, unsigned percent) {
    return percent >= 100 || net::mix64(net::FlowKeyHash{}(captured)) % 100 < percent;
}

}  // namespace tcpcopy::session
