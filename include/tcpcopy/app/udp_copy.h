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

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

struct UdpCopyConfig {
    std::vector<session::AddressRule> rules;       // -x udp:...
    std::vector<net::Ipv4Addr> clientPool;         // -c (empty: keep the captured address)
    std::optional<net::Ipv4Addr> loopbackRewrite;  // -H
    unsigned copies = 1;                           // -n
    unsigned portShiftFactor = 0;                  // -f
    unsigned samplePercent = 100;                  // -r
    std::uint8_t ttl = 64;

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
};

class UdpCopier {
  public:
    // Receives each packet to inject (a whole IPv4 packet, valid during the call only).
    using Send = std::function<void(net::Bytes ipv4Packet)>;

    UdpCopier(UdpCopyConfig config, Send send);

    // `ip` is a parsed IP layer (status Ok). Returns false when it is not IPv4 UDP (nothing
    // counted), true when it is, whatever became of it (copied, sampled out, ignored, counted).
    bool onPacket(const net::IpLayer& ip);

    const UdpCopyStats& stats() const { return stats_; }
    const UdpCopyConfig& config() const { return config_; }

    // The replay source endpoint of copy `copy` (0-based) of a datagram from `captured`.
    net::Endpoint replayClient(const net::Endpoint& captured, unsigned copy) const;

  private:
    const session::AddressRule* matchRule(net::Ipv4Addr dst, net::Port dport) const;

    UdpCopyConfig config_;
    Send send_;
    UdpCopyStats stats_;
    std::vector<std::byte> packet_;  // the packet being built, 64 KiB, allocated once
};

}  // namespace tcpcopy::app
