#pragma once
// intercept's -D/--nat: targets behind DNAT (a container, a load balancer). tcpcopy sends to one
// address:port (SENT); the target answers from the address:port the DNAT rewrote it to (SEEN), so
// the responses intercept captures do not match the flows tcpcopy announced (keyed by client
// ip:port and SENT). Each mapping SEEN[:PORT]-SENT[:PORT] turns the source of such a response back
// into SENT before its route is looked up; the headers forwarded to tcpcopy carry SENT too, with
// both checksums updated. Pure: no I/O, no clock.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::tunnel {

// One mapping. With seenPort, only responses from that port match, and sentPort (when given)
// replaces it; without seenPort every port of seenAddr matches and the port is kept.
struct NatMapping {
    net::Ipv4Addr seenAddr;
    std::optional<net::Port> seenPort;
    net::Ipv4Addr sentAddr;
    std::optional<net::Port> sentPort;  // only with seenPort
    bool operator==(const NatMapping&) const = default;
};

// Room for one response as intercept forwards it: its headers, and with --payload the first
// payload bytes. Grows to the largest response seen, then is reused.
using NatScratch = std::vector<std::byte>;

class NatMap {
  public:
    // A comma-separated list of SEEN[:PORT]-SENT[:PORT] (the original intercept's "ip-ip" is the
    // form without ports). The error quotes the bad element: a missing '-', an address that is not
    // a dotted quad, a port outside 1..65535, a port on the SENT side only, a SEEN given twice.
    static os::Result<NatMap> parse(std::string_view text);

    bool empty() const { return mappings_.empty(); }
    const std::vector<NatMapping>& mappings() const { return mappings_; }

    // The endpoint tcpcopy sent to for a response whose source is `seen`: a mapping naming its
    // port wins over one for the whole address. nullopt when no mapping covers it. Linear in the
    // number of mappings (a handful, from the command line), independent of traffic.
    std::optional<net::Endpoint> sentFor(net::Endpoint seen) const;

    // For a response (`headers`: IPv4 + TCP headers as intercept forwards them, `flow` its
    // server-to-client key): when its source is mapped, copies the headers into `scratch` with the
    // source rewritten, sets flow.server to SENT and returns the copy; otherwise returns `headers`.
    net::Bytes apply(net::Bytes headers, net::FlowKey& flow, NatScratch& scratch) const;

    // The same for the client side (--nat-client, the original intercept's -D): when the
    // response's destination (the client as the target saw it, translated on the way) is mapped
    // as SEEN, the copy is addressed to SENT (the client tcpcopy sent from) and flow.client is set
    // to it. Returns `headers` when nothing is mapped. `scratch` must not hold `headers`.
    net::Bytes applyToClient(net::Bytes headers, net::FlowKey& flow, NatScratch& scratch) const;

  private:
    std::vector<NatMapping> mappings_;
};

// Rewrites the source address and port of an IPv4+TCP packet (or its headers alone) in place and
// updates the IP header checksum and the TCP checksum incrementally (RFC 1624), so they stay
// right whether or not the payload is present. False (nothing written) when `packet` does not
// start with a whole IPv4 header followed by a TCP header's first 20 bytes.
bool rewriteSource(net::MutableBytes packet, net::Endpoint source);
// The same for the destination address and port.
bool rewriteDestination(net::MutableBytes packet, net::Endpoint destination);

}  // namespace tcpcopy::tunnel
