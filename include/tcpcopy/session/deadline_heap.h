#pragma once
// The session engine's timers: one deadline per slot (a session's index in the session table),
// kept in a binary min-heap that knows each slot's position, so arming, moving and cancelling a
// deadline cost O(log n) and a tick costs O(expired log n): nothing is visited before it is due.

#include <cstdint>
#include <optional>
#include <vector>

#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

class DeadlineHeap {
  public:
    using Slot = std::uint32_t;

    // Arms `slot` at `when`, moving it if it was armed already.
    void set(Slot slot, Time when);
    // Disarms `slot`; nothing happens when it was not armed.
    void erase(Slot slot);
    // Removes and returns the slot with the earliest deadline if that deadline is <= now.
    std::optional<Slot> popDue(Time now);

    bool armed(Slot slot) const { return slot < position_.size() && position_[slot] != kNotArmed; }
    // The earliest deadline; Time::max() when nothing is armed.
    Time earliest() const { return heap_.empty() ? Time::max() : heap_.front().when; }
    std::size_t size() const { return heap_.size(); }
    // Heap bytes held, for the engine's memory accounting.
    std::size_t footprint() const {
        return heap_.capacity() * sizeof(Entry) + position_.capacity() * sizeof(std::uint32_t);
    }

  private:
    struct Entry {
        Time when;
        Slot slot;
    };
    static constexpr std::uint32_t kNotArmed = UINT32_MAX;

    void place(std::size_t index, Entry entry);
    void siftUp(std::size_t index);
    void siftDown(std::size_t index);
    void removeAt(std::size_t index);

    std::vector<Entry> heap_;
    std::vector<std::uint32_t> position_;  // slot -> index in heap_, or kNotArmed
};

}  // namespace tcpcopy::session
