#pragma once
// UdpCopier: tcpcopy's UDP copy (-x udp:...). UDP is stateless: each captured datagram that
// matches a UDP rule is rewritten and handed out at once, once per copy (-n), with no session,
// no intercept and no response to wait for. Pure logic: an IPv4 packet in, the packets to inject
// out (through the Send callback), counters kept here.
//
// The rewrite: destination = the rule's target; source address = the captured one, or -H's for
// a captured 127.x address, or -c's pool chosen by the captured address (as the TCP engine does);
// source port = the captured one for copy 0 (unless -f), each further copy on its own port, as
// TCP copies are. -r keeps a share of flows chosen by a hash of the captured flow, so every
// datagram of one flow is either copied or not. The IPv4 header is rebuilt (no options, the
// captured TOS, ID and DF kept, TTL from the config) and both checksums are computed.
//
// Responses (docs/usage.md, "UDP copy"): none are needed, but with a tunnel (-s) every replayed
// flow (replay client, target) is announced once as a route (RouteHooks::add, before its first
// datagram), so that an intercept whose filter captures UDP forwards the target's answers; they
// come back through onResponse() and are counted. At most maxRoutes flows are announced at a
// time: beyond, the oldest is withdrawn (RouteHooks::remove) and counted.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

struct UdpCopyConfig {
    std::vector<session::AddressRule> rules;     // -x udp:...
    std::vector<net::IpAddr> clientPool;         // -c, its IPv4 addresses (empty: keep the captured address)
    std::optional<net::IpAddr> loopbackRewrite;  // -H, when IPv4
    unsigned copies = 1;                         // -n
    unsigned portShiftFactor = 0;                // -f
    unsigned samplePercent = 100;                // -r
    std::uint8_t ttl = 64;
    std::size_t maxRoutes = 65536;  // flows announced to intercept at a time (oldest withdrawn)

    // The UDP rules with the TCP engine's -c, -H, -n, -f, -r and TTL.
    static UdpCopyConfig from(const session::EngineConfig& engine, std::vector<session::AddressRule> rules);
};

struct UdpCopyStats {
    std::uint64_t matched = 0;     // captured datagrams matching a UDP rule
    std::uint64_t sampledOut = 0;  // of them, left out by -r
    // Of them, not copied because the capture holds less than the datagram (snaplen).
    std::uint64_t truncated = 0;
    std::uint64_t malformed = 0;  // UDP headers too short or with an impossible length
    std::uint64_t fragments = 0;  // IPv4 UDP fragments (not reassembled, not copied)
    std::uint64_t copied = 0;     // packets built for the target (each copy counts)
    std::uint64_t bytes = 0;      // their UDP payload bytes
    // With a tunnel: flows announced to intercept, and those withdrawn to stay under maxRoutes.
    std::uint64_t routes = 0;
    std::uint64_t routesEvicted = 0;
    std::uint64_t responses = 0;           // target answers intercept forwarded, for our flows
    std::uint64_t responseBytes = 0;       // their UDP payload bytes (as the UDP length states)
    std::uint64_t flowsAnswered = 0;       // announced flows that had at least one answer
    std::uint64_t responsesUnmatched = 0;  // UDP answers for no flow announced now (evicted, stray)
    std::uint64_t responsesMalformed = 0;  // not an IPv4 header followed by a whole UDP header
};

class UdpCopier {
  public:
    // Receives each packet to inject (a whole IPv4 packet, valid during the call only).
    using Send = std::function<void(net::Bytes ipv4Packet)>;

    // Announce and withdraw a replayed flow (client = the replay source, server = the target);
    // both empty: no tunnel, nothing announced.
    struct RouteHooks {
        std::function<void(const net::FlowKey&)> add;
        std::function<void(const net::FlowKey&)> remove;
    };

    UdpCopier(UdpCopyConfig config, Send send, RouteHooks routes = {});

    // `ip` is a parsed IP layer (status Ok). Returns false when it is not IPv4 UDP (nothing
    // counted), true when it is, whatever became of it (copied, sampled out, ignored, counted).
    bool onPacket(const net::IpLayer& ip);

    // A response intercept forwarded: an IPv4 header and the UDP header (the IP total length as
    // the target sent it, the payload absent). Counted against the flow it answers.
    void onResponse(net::Bytes header);

    // Announced flows that have had no answer yet (0 without a tunnel).
    std::size_t flowsAwaitingResponse() const { return awaiting_; }

    const UdpCopyStats& stats() const { return stats_; }
    const UdpCopyConfig& config() const { return config_; }

    // The replay source endpoint of copy `copy` (0-based) of a datagram from `captured`.
    net::Endpoint replayClient(const net::Endpoint& captured, unsigned copy) const;

  private:
    const session::AddressRule* matchRule(const net::IpAddr& dst, net::Port dport) const;
    void announce(const net::FlowKey& flow);

    UdpCopyConfig config_;
    Send send_;
    UdpCopyStats stats_;
    std::vector<std::byte> packet_;  // the packet being built, 64 KiB, allocated once
    RouteHooks hooks_;
    std::unordered_map<net::FlowKey, bool, net::FlowKeyHash> routes_;  // flow -> answered
    std::deque<net::FlowKey> routeOrder_;                              // oldest first
    std::size_t awaiting_ = 0;
};

}  // namespace tcpcopy::app
