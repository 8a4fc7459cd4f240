#include "tcpcopy/app/link_output.h"

#include <fstream>
#include <set>
#include <sstream>

#include "tcpcopy/inject/next_hop.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::app {

os::Result<std::unique_ptr<inject::LinkInjector>> openLinkInjector(const ReplayOptions& options) {
    using R = os::Result<std::unique_ptr<inject::LinkInjector>>;
    const std::string& device = options.linkDevice;
    std::stringstream routes;
    routes << std::ifstream("/proc/net/route").rdbuf();
    std::set<net::IpAddr> targets;
    for (const session::AddressRule& rule : options.engine.rules) targets.insert(rule.target.addr);
    for (const session::AddressRule& rule : options.udpRules) targets.insert(rule.target.addr);
    std::vector<inject::LinkPeer> peers;
    for (const net::IpAddr& address : targets) {
        if (!address.isV4())
            return R::fail("-o: link-layer output to the IPv6 target " + address.toString() +
                           " is not supported yet");
        const net::Ipv4Addr target = address.v4();
        inject::LinkPeer peer;
        peer.destination = target;
        std::optional<inject::MacAddress> source, nextHop;
        for (const LinkRuleMacs& macs : options.linkMacs) {
            if (macs.target != target) continue;
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
            const net::Ipv4Addr hop = inject::nextHopFor(target, device, routes.str());
            auto resolved = inject::resolveMac(device, hop);
            if (!resolved) return R::fail(resolved.error());
            nextHop = resolved.value().mac;
            how = resolved.value().fromNeighbourTable ? "neighbour table" : "ARP";
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
