#pragma once
// OfflinePacer: when each frame of a capture file is due in the replay. The first frame of a pass
// is due at once; each later one after the gap the capture has before it, a gap longer than -I
// cut down to it, divided by -a. A frame stamped earlier than the one before it has no gap.

#include <chrono>
#include <optional>

#include "tcpcopy/os/clock.h"

namespace tcpcopy::app {

class OfflinePacer {
  public:
    using Time = std::chrono::nanoseconds;  // monotonic, as os::Clock gives it

    // `accelerate` > 0 (-a); `idleSkip` 0 keeps every gap (-I). The clock must outlive the pacer.
    OfflinePacer(const os::Clock& clock, double accelerate, std::chrono::nanoseconds idleSkip);

    // The monotonic time at which the frame captured at `captured` (its capture timestamp) is
    // due. Frames are given in file order.
    Time due(std::chrono::nanoseconds captured);
    // A new pass over the capture (-T): its first frame is due when it is read.
    void newPass();
    // Capture time cut out of the timeline by -I, over every pass.
    std::chrono::nanoseconds idleSkipped() const { return skippedTotal_; }

  private:
    const os::Clock& clock_;
    double accelerate_;
    std::chrono::nanoseconds idleSkip_;
    std::optional<std::chrono::nanoseconds> first_;  // capture time of the pass's first frame
    std::chrono::nanoseconds last_{0};               // capture time of the previous frame
    std::chrono::nanoseconds skippedPass_{0};        // cut out in this pass
    std::chrono::nanoseconds skippedTotal_{0};
    Time base_{0};  // when the pass's first frame was due
};

}  // namespace tcpcopy::app
