#pragma once
// How captured traffic maps onto the replay, shared by the TCP engine and the UDP copier
// (app::UdpCopier), so that both treat -x, -c, -H, -n, -f and -r alike.

#include <optional>
#include <span>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session {

// The first rule whose online side (port, and address when given) is `dst`:`dport`, or null.
const AddressRule* matchRule(std::span<const AddressRule> rules, const net::IpAddr& dst, net::Port dport);

// The replay client that copy `copy` of a captured client becomes: its address (a loopback one
// replaced by -H when of its family, then one of `clientPool` picked by hash) and its port (-n
// copies and -f instances each shifted by their own prime stride, ports below 1024 left alone).
// `clientPool` holds the -c addresses of the target's family (splitPool).
net::Endpoint replayClientFor(const net::Endpoint& captured, unsigned copy,
                              const std::optional<net::IpAddr>& loopbackRewrite,
                              std::span<const net::IpAddr> clientPool, unsigned portShiftFactor);

// The -c addresses of each family, in their given order.
struct FamilyPools {
    std::vector<net::IpAddr> v4;
    std::vector<net::IpAddr> v6;
    std::span<const net::IpAddr> forTarget(const net::IpAddr& target) const {
        return target.isV4() ? std::span<const net::IpAddr>(v4) : std::span<const net::IpAddr>(v6);
    }
};
FamilyPools splitPool(std::span<const net::IpAddr> clientPool);

// -r: whether a flow is among the `percent` replayed, the same way on every run.
bool sampledIn(const net::FlowKey& captured, unsigned percent);

}  // namespace tcpcopy::session
