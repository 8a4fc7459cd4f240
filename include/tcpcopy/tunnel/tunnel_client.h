#pragma once
// The tcpcopy side of the tunnel: keeps connections to every intercept, tells them which
// flows are ours (routes) and hands back the response headers they capture.
//
// Usage (tcpcopy daemon):
//   tunnel::TunnelClientOptions opts;
//   opts.intercepts = tunnel::parseEndpointList("198.18.0.2,198.18.0.3:4000", kDefaultPort) ...;
//   opts.connectionsPerIntercept = 2;      // -C
//   opts.secret = secretFromFile;          // empty: no authentication
//   opts.instanceId = "tcpcopy@host:pid";  // shows in intercept's logs
//   tunnel::TunnelClient client(base, opts, callbacks);   // callbacks: see below
//   client.start();                        // connects; returns at once, work happens in the loop
//   client.addRoute(flow);                 // before sending the SYN of a replayed connection
//   ... callbacks.onResponse(headerBytes) for every response header of every intercept ...
//   client.removeRoute(flow);              // when the replayed session is over
//
// Threading: everything runs on the EventBase's thread; callbacks are invoked from the loop,
// never from inside addRoute()/removeRoute()/start(). The EventBase must outlive the client.
// Destroying the client closes every connection without invoking onLost.

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

namespace tcpcopy::tunnel {

// Parses "ip[:port][,ip[:port]...]": IPv4 or IPv6 addresses, an IPv6 address with a port in
// brackets ("[2001:db8::5]:36524", config/address.h); port 1-65535, default `defaultPort`.
// Returns the endpoints, or an error text naming the offending element.
os::Result<std::vector<net::Endpoint>> parseEndpointList(std::string_view text,
                                                         std::uint16_t defaultPort = kDefaultPort);

struct TunnelClientOptions {
    std::vector<net::Endpoint> intercepts;  // -s; at least one
    unsigned connectionsPerIntercept = 1;   // -C; 1..64
    std::string secret;                     // shared secret for HMAC authentication; empty: none
    std::string instanceId;                 // free text identifying this tcpcopy in intercept logs
    os::Duration reconnectMin = std::chrono::milliseconds(100);  // first retry delay
    os::Duration reconnectMax = std::chrono::seconds(5);         // backoff doubles up to this
    os::Duration handshakeTimeout = std::chrono::seconds(5);     // connect + challenge + ack
    os::Duration heartbeatInterval = std::chrono::seconds(2);    // we send one this often
    os::Duration idleTimeout = std::chrono::seconds(10);         // nothing received: reconnect
    std::size_t maxPendingOutput = 16u << 20;  // bytes queued on one connection before it is reset
    // --response-payload: payload bytes per response asked of every intercept (0: headers only,
    // and intercept sends no RESPONSE_PAYLOADS). What each intercept grants is at most this.
    std::uint16_t payloadBytes = 0;
};

// Which intercept connection an event is about.
struct ConnectionInfo {
    net::Endpoint intercept;   // as given in TunnelClientOptions::intercepts
    unsigned interceptIndex;   // index into TunnelClientOptions::intercepts
    unsigned connectionIndex;  // 0 .. connectionsPerIntercept-1
};

struct TunnelClientCallbacks {
    // One IPv4+TCP or IPv6+TCP header (options and IPv6 extension headers included, the IP length
    // field as the target sent it, payload absent), or an IPv4+UDP one (docs/tunnel-protocol.md).
    // The view is valid only during the call. Decode with net::decodeIpTcp().
    std::function<void(net::Bytes ipHeaderBytes)> onResponse;
    // A connection finished its handshake (first time and after every reconnect).
    std::function<void(const ConnectionInfo&)> onConnected;
    // A ready connection was lost, or intercept rejected the handshake; `reason` is one line for
    // the log. Plain connect failures are retried silently (logged at debug level).
    std::function<void(const ConnectionInfo&, const std::string& reason)> onLost;
    // Connections granted payloads: after onResponse(header) for the same response, the TCP
    // payload length the target sent and its first bytes (at most what was granted; fewer when
    // the payload was shorter or intercept was at its --payload-memory). Views valid during the
    // call only: whoever keeps them copies and bounds what it keeps.
    std::function<void(net::Bytes ipHeaderBytes, std::uint32_t payloadLength, net::Bytes captured)>
        onResponsePayload;
};

struct TunnelClientCounters {
    std::uint64_t connected = 0;   // connections currently past the handshake
    std::uint64_t connects = 0;    // handshakes completed, ever
    std::uint64_t reconnects = 0;  // connection attempts after the first per connection
    std::uint64_t rejected = 0;    // REJECT frames received
    std::uint64_t framesIn = 0;
    std::uint64_t framesOut = 0;
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
    std::uint64_t routesSent = 0;      // ROUTE_ADD frames sent (re-sends included)
    std::uint64_t routeDelsSent = 0;   // ROUTE_DEL frames sent
    std::uint64_t responses = 0;       // response headers delivered to onResponse
    std::uint64_t malformed = 0;       // frames or messages we could not decode
    std::uint64_t liveRoutes = 0;      // routes added and not yet removed
    std::uint64_t payloadItems = 0;    // responses that came with their payload (RESPONSE_PAYLOADS)
    std::uint64_t payloadBytes = 0;    // payload bytes received in them
    std::uint64_t payloadMissing = 0;  // payload bytes the target sent beyond those received
    std::uint64_t payloadDenied = 0;   // handshakes where payloads were asked for and not granted
};

class TunnelClient {
  public:
    // Does not connect yet; see start(). Precondition: validate(options) is empty (aborts
    // otherwise: check user input with validate() first).
    TunnelClient(os::EventBase& base, TunnelClientOptions options, TunnelClientCallbacks callbacks);
    ~TunnelClient();
    TunnelClient(const TunnelClient&) = delete;
    TunnelClient& operator=(const TunnelClient&) = delete;

    // Empty when the options are usable, else one line naming the problem.
    static std::string validate(const TunnelClientOptions& options);

    // Starts connecting to every intercept (connectionsPerIntercept each). Connections that fail
    // are retried forever with exponential backoff; it never blocks.
    void start();

    // Announces a flow to every intercept. On an intercept with several connections the route
    // goes on one of them, chosen by a hash of the flow (another ready one if that is down).
    // Routes are remembered and re-sent when a connection comes back. Adding a live route again
    // is a no-op.
    void addRoute(const net::FlowKey& flow);
    // Withdraws a flow from every intercept it was sent to and forgets it. Unknown flows: no-op.
    void removeRoute(const net::FlowKey& flow);

    // True when at least one connection to at least one intercept is past its handshake.
    bool anyConnected() const;
    // True when every intercept has at least one ready connection.
    bool allInterceptsConnected() const;
    const TunnelClientCounters& counters() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tcpcopy::tunnel
