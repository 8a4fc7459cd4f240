#pragma once
// Captured connections that cannot start yet, with their packets, in capture order:
//   - behind the previous connection on the same client ip:port, whose replayed session is still
//     open (a port reused by the client): it starts when that session ends, on the same tuple,
//     as the real client's did;
//   - for a free slot under --max-active: they start in arrival order as sessions end.
// Bounded: a flow whose held bytes would pass the per-flow cap, or a new flow beyond the count
// cap, is dropped and counted by the caller.

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::session {

class WaitingFlows {
  public:
    enum class Reason : std::uint8_t { BehindOldSession, ForSlot };

    // A held packet; its payload lives in `payload` (re-pointed when replayed).
    struct Packet {
        net::TcpSegment segment;
        std::vector<std::byte> payload;
    };

    // Limits: at most `maxFlows` flows waiting; at most `maxFlowBytes` payload bytes held per
    // flow (0: no per-flow limit).
    WaitingFlows(std::size_t maxFlows, std::size_t maxFlowBytes)
        : maxFlows_(maxFlows), maxFlowBytes_(maxFlowBytes) {}

    enum class AddResult : std::uint8_t { Added, NewFlow, FlowDropped, Refused };
    // Holds `segment` for `flow`: Added to a waiting flow, or NewFlow (the flow now waits for
    // `reason`); FlowDropped when the flow went over its byte cap (everything it held is dropped);
    // Refused when the flow is new and maxFlows are waiting already.
    AddResult add(const net::FlowKey& flow, const net::TcpSegment& segment, Reason reason);
    bool contains(const net::FlowKey& flow) const { return flows_.contains(flow); }
    // Removes a flow waiting behind its old session and returns its packets (nullopt when it was
    // not waiting for that).
    std::optional<std::vector<Packet>> releaseBehind(const net::FlowKey& flow);
    // Removes the oldest flow waiting for a slot and returns its packets.
    std::optional<std::vector<Packet>> releaseNextForSlot();
    bool anyForSlot() const { return forSlot_ > 0; }

    std::size_t size() const { return flows_.size(); }
    bool empty() const { return flows_.empty(); }
    std::size_t forSlot() const { return forSlot_; }
    // Bytes held (packets and their payloads), for -m.
    std::size_t bytes() const { return bytes_; }

  private:
    struct Flow {
        std::vector<Packet> packets;
        std::size_t payloadBytes = 0;
        Reason reason = Reason::ForSlot;
    };
    static std::size_t cost(const Packet& p) { return sizeof(Packet) + p.payload.capacity(); }
    std::vector<Packet> take(absl::flat_hash_map<net::FlowKey, Flow, net::FlowKeyHash>::iterator it);

    std::size_t maxFlows_;
    std::size_t maxFlowBytes_;
    absl::flat_hash_map<net::FlowKey, Flow, net::FlowKeyHash> flows_;
    std::deque<net::FlowKey> slotOrder_;  // flows waiting for a slot, oldest first (may be stale)
    std::size_t forSlot_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace tcpcopy::session
