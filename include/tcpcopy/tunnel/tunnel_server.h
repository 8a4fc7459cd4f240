#pragma once
// The intercept side of the tunnel: listens for tcpcopy instances, authenticates them,
// receives their routes and sends them the response headers intercept captures, batched.
//
// Per connection: CHALLENGE on accept -> HELLO (version, id, tcpcopy's nonce, its HMAC when a
// secret is set) -> HELLO_ACK (with intercept's own HMAC: the authentication is mutual), or
// REJECT and close. Until HELLO is accepted a connection may send only small frames and only
// HELLO or HEARTBEAT is decoded. Peers outside --allow, and connections beyond maxConnections,
// are closed at accept. A malformed frame closes only that connection, with one log line.
// Heartbeats flow both ways; a peer silent for idleTimeout is dropped. Responses are batched per
// peer and flushed when a batch reaches batchBytes, at the end of the event-loop turn that added its
// first item (after every callback already due in that turn), or flushDelay after it when that is
// set; a peer that stops reading loses its oldest batches (counted) once maxQueuedBytes are waiting. When
// accept() fails for want of descriptors or memory, accepting pauses for acceptPause (the
// pending connections wait in the backlog) instead of spinning. Conditions a stranger can
// repeat (refusals, failed handshakes, accept errors) are logged a bounded number of times per
// 10 s, with the number left unsaid.
//
// Single-threaded on the EventBase; callbacks run from the loop. The EventBase must outlive it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/tunnel/codec.h"
#include "tcpcopy/tunnel/route_table.h"

namespace tcpcopy::tunnel {

// A prefix of either family, e.g. 198.18.0.0/15 or 2001:db8::/32.
using Cidr = net::IpPrefix;
// Parses "ADDR[/n][,...]" (no /n means the whole address: /32, /128). Error text names the
// offending element.
os::Result<std::vector<Cidr>> parseCidrList(std::string_view text);

struct TunnelServerOptions {
    net::Endpoint listen{net::Ipv4Addr(0), net::Port(kDefaultPort)};  // -b / -p; port 0: any
    std::string secret;                // non-empty: both sides must prove it (HMAC-SHA256, both ways)
    std::vector<Cidr> allow;           // empty: everyone
    std::size_t maxConnections = 256;  // --max-connections: at once, handshakes included
    os::Duration acceptPause = std::chrono::milliseconds(100);  // after EMFILE/ENFILE/ENOMEM
    os::Duration handshakeTimeout = std::chrono::seconds(5);
    os::Duration heartbeatInterval = std::chrono::seconds(2);
    os::Duration idleTimeout = std::chrono::seconds(10);
    std::size_t maxQueuedBytes = 8u << 20;  // --buffer-size: per peer, beyond the socket buffer
    std::size_t batchBytes = 32u << 10;     // flush a batch when it reaches this size
    // 0: flush partial batches at the end of the loop turn (no added latency; as many responses
    // per frame as one turn captured). Above 0: flush them this long after their first item.
    os::Duration flushDelay = os::Duration(0);
    // --payload: payload bytes per response a peer may get (0: headers only for everyone). A peer
    // gets min(this, what its HELLO asked for); peers that asked for none get headers as before.
    std::uint16_t payloadBytes = 0;
    // --payload-memory: bytes all payload peers together may have waiting (their partial batches
    // and their queues beyond the socket buffer); above it, responses go without their payload
    // bytes (header and length only), counted as payloadsTrimmed.
    std::size_t maxPayloadQueuedBytes = 64u << 20;
};

struct PeerInfo {
    PeerId id = 0;
    net::Endpoint address;
    std::string instanceId;  // from HELLO
};

struct TunnelServerCallbacks {
    std::function<void(const PeerInfo&)> onPeerUp;                               // handshake done
    std::function<void(const PeerInfo&, const std::string& reason)> onPeerDown;  // only after up
    std::function<void(PeerId, const net::FlowKey&)> onRouteAdd;
    std::function<void(PeerId, const net::FlowKey&)> onRouteDel;
};

struct TunnelServerCounters {
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;       // outside --allow
    std::uint64_t refusedBusy = 0;   // beyond maxConnections
    std::uint64_t acceptErrors = 0;  // accept() failures (out of descriptors, memory)
    std::uint64_t connections = 0;   // open now, handshakes included
    std::uint64_t authFailures = 0;  // wrong or missing HMAC, wrong version
    std::uint64_t malformed = 0;     // connections closed for malformed frames
    std::uint64_t idleDropped = 0;
    std::uint64_t peers = 0;  // currently past the handshake
    std::uint64_t routeAdds = 0;
    std::uint64_t routeDels = 0;
    std::uint64_t responsesSent = 0;  // items handed to peers' connections
    std::uint64_t batchesSent = 0;
    std::uint64_t queueDrops = 0;       // response items dropped because a peer fell behind
    std::uint64_t unknownPeer = 0;      // sendResponse for a peer that is gone
    std::uint64_t payloadPeers = 0;     // peers now past the handshake that were granted payloads
    std::uint64_t payloadItems = 0;     // responses sent in RESPONSE_PAYLOADS frames
    std::uint64_t payloadBytes = 0;     // payload bytes in them
    std::uint64_t payloadsTrimmed = 0;  // responses sent without their payload: maxPayloadQueuedBytes
    std::uint64_t payloadQueued = 0;    // bytes payload peers have waiting now
};

class TunnelServer {
  public:
    // Binds and listens; the error names the address.
    static os::Result<std::unique_ptr<TunnelServer>> listen(os::EventBase& base, TunnelServerOptions options,
                                                            TunnelServerCallbacks callbacks);
    ~TunnelServer();
    TunnelServer(const TunnelServer&) = delete;
    TunnelServer& operator=(const TunnelServer&) = delete;

    // The bound address (useful with port 0).
    net::Endpoint localEndpoint() const;
    // Queues one response for `peer` (copied): its IP+TCP header, optionally followed by the start
    // of its payload (responsePrefix()). A peer granted payloads gets the header, the payload
    // length and up to its granted bytes; any other peer only the header. Unknown peers are
    // counted and ignored.
    void sendResponse(PeerId peer, net::Bytes response);
    // Sends every partial batch now.
    void flush();
    std::size_t peerCount() const;
    TunnelServerCounters counters() const;

  private:
    class Impl;
    explicit TunnelServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace tcpcopy::tunnel
