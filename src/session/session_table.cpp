#include "tcpcopy/session/session_table.h"

#include <cassert>

namespace tcpcopy::session {

PortAllocator& SessionTable::allocatorFor(const net::IpAddr& addr) {
    auto& slot = allocators_[addr];
    if (!slot) slot = std::make_unique<PortAllocator>();
    return *slot;
}

std::optional<net::FlowKey> SessionTable::claimTuple(const net::FlowKey& desired, bool& remapped) {
    remapped = false;
    if (!remapping_) {
        if (byReplay_.contains(desired)) return std::nullopt;
        return desired;
    }
    PortAllocator& ports = allocatorFor(desired.client.addr);
    if (ports.hold(desired.client.port.value())) return desired;
    const std::optional<std::uint16_t> port = ports.allocate();
    if (!port) return std::nullopt;
    remapped = true;
    net::FlowKey tuple = desired;
    tuple.client.port = net::Port(*port);
    return tuple;
}

void SessionTable::releaseTuple(const net::FlowKey& replay) {
    if (!remapping_) return;
    auto it = allocators_.find(replay.client.addr);
    if (it == allocators_.end()) return;
    it->second->release(replay.client.port.value());
    // An address without sessions costs nothing.
    if (it->second->heldCount() == 0) allocators_.erase(it);
}

SessionTable::Slot SessionTable::insert(std::unique_ptr<Session> session) {
    Slot slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<Slot>(slots_.size());
        slots_.emplace_back();
    }
    const bool fresh = byReplay_.emplace(session->replay(), slot).second;
    assert(fresh);
    (void)fresh;
    Entry& entry = slots_[slot];
    // Copies go to the end of their captured flow's chain, so they are fed in copy order.
    auto [head, first] = byCaptured_.try_emplace(session->captured(), slot);
    if (!first) {
        Slot tail = head->second;
        while (slots_[tail].nextCopy != kNone) tail = slots_[tail].nextCopy;
        slots_[tail].nextCopy = slot;
    }
    entry.session = std::move(session);
    entry.nextCopy = kNone;
    entry.accounted = 0;
    return slot;
}

std::unique_ptr<Session> SessionTable::remove(Slot slot) {
    Entry& entry = slots_[slot];
    std::unique_ptr<Session> session = std::move(entry.session);
    byReplay_.erase(session->replay());
    releaseTuple(session->replay());
    auto head = byCaptured_.find(session->captured());
    if (head != byCaptured_.end()) {
        if (head->second == slot) {
            if (entry.nextCopy == kNone) {
                byCaptured_.erase(head);
            } else {
                head->second = entry.nextCopy;
            }
        } else {
            for (Slot s = head->second; s != kNone; s = slots_[s].nextCopy) {
                if (slots_[s].nextCopy == slot) {
                    slots_[s].nextCopy = entry.nextCopy;
                    break;
                }
            }
        }
    }
    entry.nextCopy = kNone;
    entry.accounted = 0;
    free_.push_back(slot);
    return session;
}

SessionTable::Slot SessionTable::byReplay(const net::FlowKey& replay) const {
    auto it = byReplay_.find(replay);
    return it == byReplay_.end() ? kNone : it->second;
}

SessionTable::Slot SessionTable::firstByCaptured(const net::FlowKey& captured) const {
    auto it = byCaptured_.find(captured);
    return it == byCaptured_.end() ? kNone : it->second;
}

std::vector<SessionTable::Slot> SessionTable::slots() const {
    std::vector<Slot> out;
    out.reserve(byReplay_.size());
    for (Slot s = 0; s < slots_.size(); ++s) {
        if (slots_[s].session) out.push_back(s);
    }
    return out;
}

}  // namespace tcpcopy::session
