#pragma once
// How captured traffic maps onto the replay, shared by the TCP engine and the UDP copier
// (app::UdpCopier), so that both treat -x, -c, -H, -n, -f and -r alike.

#include <optional>
#include <span>

#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session {

// The first rule whose online side (port, and address when given) is `dst`:`dport`, or null.
const AddressRule* matchRule(std::span<const AddressRule> rules, net::Ipv4Addr dst, net::Port dport);

// The replay client that copy `copy` of a captured client becomes: its address (a loopback one
// replaced by -H, then one of the -c pool picked by hash) and its port (-n copies and -f
// instances each shifted by their own prime stride, ports below 1024 left alone).
net::Endpoint replayClientFor(const net::Endpoint& captured, unsigned copy,
                              const std::optional<net::Ipv4Addr>& loopbackRewrite,
                              std::span<const net::Ipv4Addr> clientPool, unsigned portShiftFactor);

// -r: whether a flow is among the `percent` replayed, the same way on every run.
bool sampledIn(const net::FlowKey& captured, unsigned percent);

}  // namespace tcpcopy::session
