#include "tcpcopy/session/waiting_flows.h"

namespace tcpcopy::session {

WaitingFlows::AddResult WaitingFlows::add(const net::FlowKey& flow, const net::TcpSegment& segment,
                                          Reason reason) {
    auto it = flows_.find(flow);
    const bool fresh = it == flows_.end();
    if (fresh) {
        if (flows_.size() >= maxFlows_) return AddResult::Refused;
        it = flows_.try_emplace(flow).first;
        it->second.reason = reason;
        if (reason == Reason::ForSlot) {
            slotOrder_.push_back(flow);
            ++forSlot_;
        }
    }
    Flow& f = it->second;
    if (maxFlowBytes_ > 0 && f.payloadBytes + segment.payload.size() > maxFlowBytes_) {
        take(it);
        return AddResult::FlowDropped;
    }
    Packet& p = f.packets.emplace_back();
    p.segment = segment;
    p.segment.options.raw = {};  // views the caller's frame; the parsed fields are what we use
    p.payload.assign(segment.payload.begin(), segment.payload.end());
    p.segment.payload = {};
    f.payloadBytes += p.payload.size();
    bytes_ += cost(p);
    return fresh ? AddResult::NewFlow : AddResult::Added;
}

std::vector<WaitingFlows::Packet> WaitingFlows::take(
    absl::flat_hash_map<net::FlowKey, Flow, net::FlowKeyHash>::iterator it) {
    std::vector<Packet> packets = std::move(it->second.packets);
    for (const Packet& p : packets) bytes_ -= cost(p);
    if (it->second.reason == Reason::ForSlot) --forSlot_;  // its slotOrder_ entry goes stale
    flows_.erase(it);
    for (Packet& p : packets) p.segment.payload = net::Bytes(p.payload);
    return packets;
}

std::optional<std::vector<WaitingFlows::Packet>> WaitingFlows::releaseBehind(const net::FlowKey& flow) {
    auto it = flows_.find(flow);
    if (it == flows_.end() || it->second.reason != Reason::BehindOldSession) return std::nullopt;
    return take(it);
}

std::optional<std::vector<WaitingFlows::Packet>> WaitingFlows::releaseNextForSlot() {
    while (!slotOrder_.empty()) {
        const net::FlowKey flow = slotOrder_.front();
        slotOrder_.pop_front();
        auto it = flows_.find(flow);
        if (it != flows_.end() && it->second.reason == Reason::ForSlot) return take(it);
    }
    return std::nullopt;
}

}  // namespace tcpcopy::session
