#include "tcpcopy/session/flow_set.h"

namespace tcpcopy::session {

bool FlowSet::touch(const net::FlowKey& flow, Time now) {
    if (capacity_ == 0) return false;
    if (refresh(flow, now)) return true;
    while (seen_.size() >= capacity_ && settleFront()) {
        seen_.erase(order_.front().flow);
        order_.pop_front();
        ++evicted_;
    }
    seen_.emplace(flow, now);
    order_.push_back(Queued{flow, now});
    return true;
}

bool FlowSet::refresh(const net::FlowKey& flow, Time now) {
    auto it = seen_.find(flow);
    if (it == seen_.end()) return false;
    it->second = now;
    return true;
}

bool FlowSet::settleFront() {
    while (!order_.empty()) {
        const Queued& front = order_.front();
        auto it = seen_.find(front.flow);
        if (it == seen_.end()) {
            order_.pop_front();  // erased since it was queued
        } else if (it->second != front.at) {
            order_.push_back(Queued{front.flow, it->second});  // refreshed: queue it again
            order_.pop_front();
        } else {
            return true;
        }
    }
    return false;
}

void FlowSet::expire(Time now) {
    while (settleFront() && now - order_.front().at >= ttl_) {
        seen_.erase(order_.front().flow);
        order_.pop_front();
    }
}

void FlowSet::clear() {
    seen_.clear();
    order_.clear();
}

std::size_t FlowSet::footprint() const {
    return seen_.capacity() * (sizeof(net::FlowKey) + sizeof(Time) + 1) + order_.size() * sizeof(Queued);
}

}  // namespace tcpcopy::session
