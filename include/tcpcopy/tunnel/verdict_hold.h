#pragma once
// intercept's NFQUEUE mode: queued packets that wait for a verdict because their route has not
// arrived yet. The target's SYN-ACK can reach the queue before tcpcopy's ROUTE_ADD reaches
// intercept; such a packet stays in the kernel (no verdict) until its route arrives (then it is a
// replayed response: forwarded and dropped) or the hold time passes (then it is the target's own
// traffic: accepted). Pure bookkeeping: time is passed in by the caller.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "tcpcopy/net/types.h"

namespace tcpcopy::tunnel {

class VerdictHold {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    VerdictHold(std::chrono::milliseconds holdTime, std::size_t maxHeld)
        : holdTime_(holdTime), maxHeld_(maxHeld) {}

    // Keeps packet `id` of `flow` waiting. False when maxHeld packets already wait: the caller
    // gives its verdict now.
    bool hold(const net::FlowKey& flow, std::uint32_t id, TimePoint now);
    // The route of `flow` arrived: the ids waiting for it, oldest first, are handed over.
    std::vector<std::uint32_t> release(const net::FlowKey& flow);
    // Ids that waited holdTime or longer, oldest first, appended to `expired`.
    void expire(TimePoint now, std::vector<std::uint32_t>& expired);
    // Every id still waiting (at shutdown), appended to `all`.
    void takeAll(std::vector<std::uint32_t>& all);

    std::size_t size() const { return count_; }

  private:
    struct Waiting {
        TimePoint since;
        net::FlowKey flow;
        std::uint32_t id;
    };

    std::chrono::milliseconds holdTime_;
    std::size_t maxHeld_;
    std::unordered_map<net::FlowKey, std::vector<std::uint32_t>, net::FlowKeyHash> byFlow_;
    std::deque<Waiting> order_;  // arrival order; entries of released flows are skipped at expiry
    std::size_t count_ = 0;
};

}  // namespace tcpcopy::tunnel
