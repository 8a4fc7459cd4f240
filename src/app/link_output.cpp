#include "tcpcopy/app/link_output.h"

#include <fstream>
#include <set>
#include <sstream>

#include "tcpcopy/inject/next_hop.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::app {
namespace {

std::string readFile(const char* path) {
    std::stringstream text;
    text << std::ifstream(path).rdbuf();
    return text.str();
}

}  // namespace

os::Result<std::unique_ptr<inject::LinkInjector>> openLinkInjector(const ReplayOptions& options) {
    using R = os::Result<std::unique_ptr<inject::LinkInjector>>;
    const std::string& device = options.linkDevice;
    std::set<net::IpAddr> targets;
    for (const session::AddressRule& rule : options.engine.rules) targets.insert(rule.target.addr);
    for (const session::AddressRule& rule : options.udpRules) targets.insert(rule.target.addr);
    // Each family's routing table, read once when a target of that family needs it (a host
    // without IPv6 has no /proc/net/ipv6_route: then every IPv6 target is on the link).
    std::optional<std::string> routes, routes6;
    std::vector<inject::LinkPeer> peers;
    for (const net::IpAddr& target : targets) {
        inject::LinkPeer peer;
        peer.destination = target;
        std::optional<inject::MacAddress> source, nextHop;
        for (const LinkRuleMacs& macs : options.linkMacs) {
            if (net::IpAddr(macs.target) != target) continue;
            if (macs.source) source = *macs.source;
            if (macs.nextHop) nextHop = *macs.nextHop;
        }
        if (!source) {
            auto own = inject::deviceMac(device);
            if (!own) return R::fail(own.error());
            source = own.value();
        }
        std::string how = "from -x";
        if (!nextHop) {
            net::IpAddr hop;
            if (target.isV4()) {
                if (!routes) routes = readFile("/proc/net/route");
                hop = inject::nextHopFor(target.v4(), device, *routes);
            } else {
                if (!routes6) routes6 = readFile("/proc/net/ipv6_route");
                hop = inject::nextHopForIpv6(target, device, *routes6);
            }
            auto resolved = inject::resolveMac(device, hop);
            if (!resolved) return R::fail(resolved.error());
            nextHop = resolved.value().mac;
            how = resolved.value().fromNeighbourTable ? "neighbour table" : target.isV4() ? "ARP" : "NDP";
            if (hop != target) how += " for the gateway " + hop.toString();
        }
        peer.source = *source;
        peer.nextHop = *nextHop;
        log::component("tcpcopy")->info("-o {}: frames to {} go from {} to {} ({})", device,
                                        target.toString(), inject::formatMac(peer.source),
                                        inject::formatMac(peer.nextHop), how);
        peers.push_back(peer);
    }
    return inject::LinkInjector::create(device, peers);
}

}  // namespace tcpcopy::app
