#include "tcpcopy/app/offline_pacer.h"

#include <gtest/gtest.h>

namespace tcpcopy::app {
namespace {

using namespace std::chrono_literals;

class ManualClock final : public os::Clock {
  public:
    std::chrono::nanoseconds now() const override { return now_; }
    void set(std::chrono::nanoseconds t) { now_ = t; }

  private:
    std::chrono::nanoseconds now_{0};
};

// Capture timestamps as a file has them: seconds since 1970.
constexpr std::chrono::nanoseconds kT0 = 1'700'000'000s;

TEST(OfflinePacer, FirstFrameIsDueWhenReadAndLaterOnesAtTheCapturesPace) {
    ManualClock clock;
    clock.set(50s);
    OfflinePacer pacer(clock, 1.0, 0ns);
    EXPECT_EQ(pacer.due(kT0), 50s);
    clock.set(51s);  // reading later does not move the timeline
    EXPECT_EQ(pacer.due(kT0 + 250ms), 50s + 250ms);
    EXPECT_EQ(pacer.due(kT0 + 3s), 53s);
    EXPECT_EQ(pacer.idleSkipped(), 0ns);
}

TEST(OfflinePacer, AccelerateDividesTheGaps) {
    ManualClock clock;
    OfflinePacer pacer(clock, 4.0, 0ns);
    EXPECT_EQ(pacer.due(kT0), 0ns);
    EXPECT_EQ(pacer.due(kT0 + 2s), 500ms);
    EXPECT_EQ(pacer.due(kT0 + 10s), 2500ms);
}

TEST(OfflinePacer, IdleSkipCutsLongGapsDownToItAndCountsWhatItCut) {
    ManualClock clock;
    OfflinePacer pacer(clock, 2.0, 1s);
    EXPECT_EQ(pacer.due(kT0), 0ns);
    EXPECT_EQ(pacer.due(kT0 + 500ms), 250ms);    // below -I: kept
    EXPECT_EQ(pacer.due(kT0 + 10500ms), 750ms);  // 10 s gap cut to 1 s, then halved
    EXPECT_EQ(pacer.due(kT0 + 11s), 1s);
    EXPECT_EQ(pacer.idleSkipped(), 9s);
}

TEST(OfflinePacer, AFrameStampedEarlierThanTheOneBeforeHasNoGap) {
    ManualClock clock;
    OfflinePacer pacer(clock, 1.0, 1s);
    EXPECT_EQ(pacer.due(kT0 + 5s), 0ns);
    EXPECT_EQ(pacer.due(kT0 + 6s), 1s);
    // Out of order by 4 s: due before the first frame's time, so at once; nothing is cut.
    EXPECT_EQ(pacer.due(kT0 + 2s), -3s);
    EXPECT_EQ(pacer.idleSkipped(), 0ns);
}

TEST(OfflinePacer, ANewPassStartsWhenItsFirstFrameIsReadAndKeepsTheSkippedTotal) {
    ManualClock clock;
    OfflinePacer pacer(clock, 1.0, 1s);
    EXPECT_EQ(pacer.due(kT0), 0ns);
    EXPECT_EQ(pacer.due(kT0 + 5s), 1s);  // 4 s cut
    clock.set(20s);
    pacer.newPass();
    clock.set(21s);
    EXPECT_EQ(pacer.due(kT0), 21s);
    EXPECT_EQ(pacer.due(kT0 + 1s), 22s);
    EXPECT_EQ(pacer.due(kT0 + 5s), 23s);  // cut again: this pass's cut only moves this pass
    EXPECT_EQ(pacer.idleSkipped(), 7s);
}

}  // namespace
}  // namespace tcpcopy::app
