#include "tcpcopy/session/deadline_heap.h"

#include <cassert>

namespace tcpcopy::session {

void DeadlineHeap::set(Slot slot, Time when) {
    if (slot >= position_.size()) position_.resize(static_cast<std::size_t>(slot) + 1, kNotArmed);
    const std::uint32_t at = position_[slot];
    if (at == kNotArmed) {
        heap_.push_back(Entry{when, slot});
        position_[slot] = static_cast<std::uint32_t>(heap_.size() - 1);
        siftUp(heap_.size() - 1);
        return;
    }
    const Time before = heap_[at].when;
    heap_[at].when = when;
    if (when < before) {
        siftUp(at);
    } else if (when > before) {
        siftDown(at);
    }
}

void DeadlineHeap::erase(Slot slot) {
    if (!armed(slot)) return;
    removeAt(position_[slot]);
}

std::optional<DeadlineHeap::Slot> DeadlineHeap::popDue(Time now) {
    if (heap_.empty() || heap_.front().when > now) return std::nullopt;
    const Slot slot = heap_.front().slot;
    removeAt(0);
    return slot;
}

void DeadlineHeap::place(std::size_t index, Entry entry) {
    heap_[index] = entry;
    position_[entry.slot] = static_cast<std::uint32_t>(index);
}

void DeadlineHeap::siftUp(std::size_t index) {
    const Entry moving = heap_[index];
    while (index > 0) {
        const std::size_t parent = (index - 1) / 2;
        if (heap_[parent].when <= moving.when) break;
        place(index, heap_[parent]);
        index = parent;
    }
    place(index, moving);
}

void DeadlineHeap::siftDown(std::size_t index) {
    const Entry moving = heap_[index];
    const std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * index + 1;
        if (child >= n) break;
        if (child + 1 < n && heap_[child + 1].when < heap_[child].when) ++child;
        if (moving.when <= heap_[child].when) break;
        place(index, heap_[child]);
        index = child;
    }
    place(index, moving);
}

void DeadlineHeap::removeAt(std::size_t index) {
    assert(index < heap_.size());
    position_[heap_[index].slot] = kNotArmed;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (index == heap_.size()) return;
    place(index, last);
    siftUp(index);
    siftDown(position_[last.slot]);
}

}  // namespace tcpcopy::session
