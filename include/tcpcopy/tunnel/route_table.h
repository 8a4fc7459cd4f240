#pragma once
// intercept's table of which tcpcopy peer owns which replayed flow, plus a short holding queue
// for responses that arrive before their route (a SYN-ACK can beat the ROUTE_ADD message).
// Time is passed in by the caller on every call, so tests drive it with a manual clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/tunnel/codec.h"

namespace tcpcopy::tunnel {

using PeerId = std::uint32_t;
using TimePoint = std::chrono::steady_clock::time_point;

struct RouteTableOptions {
    std::size_t maxRoutes = 65536;                                  // -s; least recently used evicted
    std::chrono::milliseconds routeTtl{std::chrono::seconds(120)};  // refreshed by traffic
    std::chrono::milliseconds holdTime{1000};                       // how long a response may wait
    std::size_t maxHeld = 4096;                                     // responses waiting, all flows
};

struct RouteTableCounters {
    std::uint64_t routesAdded = 0;
    std::uint64_t routesRemoved = 0;  // ROUTE_DEL and peer departure
    std::uint64_t routesExpired = 0;  // TTL ran out
    std::uint64_t routesEvicted = 0;  // table full
    std::uint64_t held = 0;           // responses put on hold
    std::uint64_t heldDelivered = 0;  // ... delivered when their route arrived
    std::uint64_t heldExpired = 0;    // ... dropped after holdTime
    std::uint64_t heldOverflow = 0;   // ... refused because the holding queue was full
    std::uint64_t conflicts = 0;      // ROUTE_ADDs refused: the flow belongs to another tcpcopy
};

class RouteTable {
  public:
    explicit RouteTable(RouteTableOptions options);

    // A peer finished its handshake / went away (its routes go with it). `owner` names the
    // tcpcopy behind the connection (its address and instance id): connections with the same
    // non-empty owner are one tcpcopy (-C, a reconnect) and may take each other's routes over;
    // an empty owner is a tcpcopy of its own.
    void peerUp(PeerId peer, std::string owner = {});
    void peerDown(PeerId peer);
    std::size_t peerCount() const { return peers_.size(); }

    // Routes `flow` (client = replay client ip:port, server = target ip:port) to `peer`. A route
    // that belongs to another tcpcopy (a different owner, still connected) is not taken over: the
    // add is refused and counted (conflicts), and false is returned. Otherwise the responses held
    // for that flow, oldest first, are appended to `deliver`.
    bool addRoute(const net::FlowKey& flow, PeerId peer, TimePoint now, std::vector<Buffer>& deliver);
    // The same, for callers that only want the held responses (empty when refused).
    std::vector<Buffer> addRoute(const net::FlowKey& flow, PeerId peer, TimePoint now);
    // Removes the route when `peer` owns it; other peers' routes are left alone.
    void removeRoute(const net::FlowKey& flow, PeerId peer);

    // The peer for a response of `flow`, refreshing the route's TTL. With no route and one
    // tcpcopy connected (one peer, or several with the same owner), one of its connections. nullopt: hold the
    // response or drop it.
    std::optional<PeerId> resolve(const net::FlowKey& flow, TimePoint now);
    // The same without the single-peer fallback: only a route given for this flow counts. The
    // NFQUEUE mode uses it, where a response with no route is the target's real traffic.
    std::optional<PeerId> resolveRouted(const net::FlowKey& flow, TimePoint now);
    // Puts a response on hold until its route arrives. False (and counted) when the queue is full.
    bool hold(const net::FlowKey& flow, net::Bytes header, TimePoint now);
    // Ages out routes and held responses. Call it periodically (e.g. every 100 ms).
    void expire(TimePoint now);

    std::size_t size() const { return routes_.size(); }
    std::size_t heldCount() const { return heldCount_; }
    const RouteTableCounters& counters() const { return counters_; }

  private:
    struct Route {
        net::FlowKey flow;
        PeerId peer;
        TimePoint lastUsed;
    };
    using Lru = std::list<Route>;  // most recently used at the front
    struct Held {
        TimePoint since;
        Buffer header;
    };

    void erase(Lru::iterator it);

    RouteTableOptions options_;
    Lru lru_;
    std::unordered_map<net::FlowKey, Lru::iterator, net::FlowKeyHash> routes_;
    bool sameOwner(PeerId a, PeerId b) const;

    std::map<PeerId, std::string> peers_;  // connected peers and their owners
    std::unordered_map<net::FlowKey, std::deque<Held>, net::FlowKeyHash> heldByFlow_;
    std::deque<std::pair<TimePoint, net::FlowKey>> heldOrder_;  // may hold stale entries
    std::size_t heldCount_ = 0;
    RouteTableCounters counters_;
};

}  // namespace tcpcopy::tunnel
