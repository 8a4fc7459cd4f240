#pragma once
// Replay ports of one client address, for sessions that cannot keep their captured port (-n
// copies, -c pools, -H): which ports live sessions hold, and an O(1) choice of a free one.
//
// A two-level bitmap: 1,024 words of 64 ports (a bit set = the port is held) and a 1,024-bit
// summary (a bit set = that word is full). Finding the next free port from any position reads at
// most 17 summary words and two port words, never a linear probe over ports. Free ports are
// handed out round-robin from a cursor, so a port just released is the last to be chosen again:
// the target has had the longest time to forget the previous connection on that tuple (its
// TIME_WAIT). 8 KiB per address.

#include <array>
#include <cstdint>
#include <optional>

namespace tcpcopy::session {

class PortAllocator {
  public:
    // Ports below this are never chosen by allocate() (a captured one may still be held).
    static constexpr std::uint32_t kFloor = 1024;

    bool held(std::uint16_t port) const { return (words_[port >> 6] >> (port & 63)) & 1u; }
    // Marks `port` held; false when it already was.
    bool hold(std::uint16_t port);
    // Marks `port` free; false when it was not held.
    bool release(std::uint16_t port);
    // Holds and returns the first free port at or after the cursor (wrapping within
    // [kFloor, 65535]), then moves the cursor past it; nullopt when every port there is held.
    std::optional<std::uint16_t> allocate();
    std::uint32_t heldCount() const { return count_; }

  private:
    static constexpr std::uint32_t kWords = 65536 / 64;
    static constexpr std::uint32_t kSummaryWords = kWords / 64;
    // The first free port at or after `from` up to 65535, or nullopt.
    std::optional<std::uint32_t> findFreeFrom(std::uint32_t from) const;

    std::array<std::uint64_t, kWords> words_{};
    std::array<std::uint64_t, kSummaryWords> full_{};
    std::uint32_t count_ = 0;
    std::uint32_t cursor_ = kFloor;
};

}  // namespace tcpcopy::session
