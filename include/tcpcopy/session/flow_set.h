#pragma once
// A bounded set of captured flows with the time each was last seen, forgotten once quiet for a
// given time: the engine's "skipped" flows (sampled out, -O, shed: their packets are dropped until
// they go quiet) and flows whose client was seen idle. Expiry is O(expired): a FIFO of (flow,
// time) entries in insertion order, where an entry refreshed since it was queued is queued again
// with its new time instead of being visited on every tick. When the set is full, the flow seen
// least recently is forgotten first and counted.

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <deque>

#include "tcpcopy/net/types.h"
#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

class FlowSet {
  public:
    // Flows quiet for `ttl` are forgotten by expire(); at most `capacity` are kept (0: none).
    FlowSet(Time ttl, std::size_t capacity) : ttl_(ttl), capacity_(capacity) {}

    // Adds `flow` or refreshes its time. Returns false when the capacity is 0 (nothing kept).
    bool touch(const net::FlowKey& flow, Time now);
    // Refreshes `flow` if present; true when it was.
    bool refresh(const net::FlowKey& flow, Time now);
    bool contains(const net::FlowKey& flow) const { return seen_.contains(flow); }
    bool erase(const net::FlowKey& flow) { return seen_.erase(flow) > 0; }
    // Forgets every flow quiet for ttl or longer at `now`.
    void expire(Time now);
    void clear();

    std::size_t size() const { return seen_.size(); }
    // Flows forgotten because the set was full.
    std::uint64_t evicted() const { return evicted_; }
    // Approximate heap bytes held (map slots and the FIFO), for -m.
    std::size_t footprint() const;

  private:
    struct Queued {
        net::FlowKey flow;
        Time at;
    };
    // Pops FIFO entries until one is current; re-queues refreshed ones. Returns false when empty.
    bool settleFront();

    Time ttl_;
    std::size_t capacity_;
    absl::flat_hash_map<net::FlowKey, Time, net::FlowKeyHash> seen_;
    std::deque<Queued> order_;
    std::uint64_t evicted_ = 0;
};

}  // namespace tcpcopy::session
