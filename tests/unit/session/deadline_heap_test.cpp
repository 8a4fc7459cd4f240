// DeadlineHeap: the engine's timers, one deadline per slot.

#include "tcpcopy/session/deadline_heap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace tcpcopy::session {
namespace {

using std::chrono::milliseconds;

std::vector<DeadlineHeap::Slot> popAll(DeadlineHeap& heap, Time now) {
    std::vector<DeadlineHeap::Slot> out;
    while (auto slot = heap.popDue(now)) out.push_back(*slot);
    return out;
}

TEST(DeadlineHeap, PopsOnlyWhatIsDueInDeadlineOrder) {
    DeadlineHeap heap;
    heap.set(3, milliseconds(30));
    heap.set(1, milliseconds(10));
    heap.set(2, milliseconds(20));
    EXPECT_EQ(heap.earliest(), milliseconds(10));
    EXPECT_FALSE(heap.popDue(milliseconds(9)));
    EXPECT_EQ(popAll(heap, milliseconds(20)), (std::vector<DeadlineHeap::Slot>{1, 2}));
    EXPECT_TRUE(heap.armed(3));
    EXPECT_FALSE(heap.armed(1));
    EXPECT_EQ(popAll(heap, milliseconds(100)), (std::vector<DeadlineHeap::Slot>{3}));
    EXPECT_EQ(heap.earliest(), Time::max());
}

TEST(DeadlineHeap, MovingADeadlineEarlierOrLaterReordersIt) {
    DeadlineHeap heap;
    for (DeadlineHeap::Slot s = 0; s < 5; ++s) heap.set(s, milliseconds(10 * (s + 1)));
    heap.set(4, milliseconds(1));    // earlier
    heap.set(0, milliseconds(100));  // later
    EXPECT_EQ(heap.size(), 5u) << "a slot is armed once";
    EXPECT_EQ(popAll(heap, milliseconds(1000)), (std::vector<DeadlineHeap::Slot>{4, 1, 2, 3, 0}));
}

TEST(DeadlineHeap, ErasedSlotsNeverFire) {
    DeadlineHeap heap;
    heap.set(7, milliseconds(5));
    heap.set(8, milliseconds(6));
    heap.erase(7);
    heap.erase(7);   // twice: harmless
    heap.erase(42);  // never armed: harmless
    EXPECT_EQ(popAll(heap, milliseconds(10)), (std::vector<DeadlineHeap::Slot>{8}));
}

TEST(DeadlineHeap, MatchesASortedReferenceUnderRandomOperations) {
    std::mt19937 rng(12345);
    DeadlineHeap heap;
    std::vector<std::optional<Time>> reference(200);
    for (int step = 0; step < 20000; ++step) {
        const auto slot = static_cast<DeadlineHeap::Slot>(rng() % reference.size());
        if (rng() % 4 == 0) {
            heap.erase(slot);
            reference[slot].reset();
        } else {
            const Time when = milliseconds(rng() % 1000);
            heap.set(slot, when);
            reference[slot] = when;
        }
        if (step % 1000 == 999) {
            const Time now = milliseconds(rng() % 1000);
            std::vector<std::pair<Time, DeadlineHeap::Slot>> due;
            for (DeadlineHeap::Slot s = 0; s < reference.size(); ++s) {
                if (reference[s] && *reference[s] <= now) due.emplace_back(*reference[s], s);
            }
            std::sort(due.begin(), due.end());
            Time last{0};
            std::size_t popped = 0;
            while (auto s = heap.popDue(now)) {
                ASSERT_TRUE(reference[*s].has_value());
                EXPECT_LE(*reference[*s], now);
                EXPECT_GE(*reference[*s], last) << "popped out of deadline order";
                last = *reference[*s];
                reference[*s].reset();
                ++popped;
            }
            EXPECT_EQ(popped, due.size());
        }
    }
}

}  // namespace
}  // namespace tcpcopy::session
