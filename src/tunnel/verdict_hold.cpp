#include "tcpcopy/tunnel/verdict_hold.h"

#include <algorithm>

namespace tcpcopy::tunnel {

bool VerdictHold::hold(const net::FlowKey& flow, std::uint32_t id, TimePoint now) {
    if (count_ >= maxHeld_) return false;
    byFlow_[flow].push_back(id);
    order_.push_back(Waiting{now, flow, id});
    ++count_;
    return true;
}

std::vector<std::uint32_t> VerdictHold::release(const net::FlowKey& flow) {
    auto found = byFlow_.find(flow);
    if (found == byFlow_.end()) return {};
    std::vector<std::uint32_t> ids = std::move(found->second);
    byFlow_.erase(found);
    count_ -= ids.size();
    return ids;
}

void VerdictHold::expire(TimePoint now, std::vector<std::uint32_t>& expired) {
    while (!order_.empty() && now - order_.front().since >= holdTime_) {
        const Waiting w = order_.front();
        order_.pop_front();
        auto found = byFlow_.find(w.flow);
        if (found == byFlow_.end()) continue;  // released when its route came
        std::vector<std::uint32_t>& ids = found->second;
        auto it = std::find(ids.begin(), ids.end(), w.id);
        if (it == ids.end()) continue;  // released, and the flow held again since
        ids.erase(it);
        --count_;
        expired.push_back(w.id);
        if (ids.empty()) byFlow_.erase(found);
    }
}

void VerdictHold::takeAll(std::vector<std::uint32_t>& all) {
    for (const Waiting& w : order_) {
        auto found = byFlow_.find(w.flow);
        if (found == byFlow_.end()) continue;
        std::vector<std::uint32_t>& ids = found->second;
        if (auto it = std::find(ids.begin(), ids.end(), w.id); it != ids.end()) {
            ids.erase(it);
            all.push_back(w.id);
        }
    }
    byFlow_.clear();
    order_.clear();
    count_ = 0;
}

}  // namespace tcpcopy::tunnel
