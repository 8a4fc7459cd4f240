#include "tcpcopy/app/offline_pacer.h"

#include <cstdint>

namespace tcpcopy::app {

OfflinePacer::OfflinePacer(const os::Clock& clock, double accelerate, std::chrono::nanoseconds idleSkip)
    : clock_(clock), accelerate_(accelerate), idleSkip_(idleSkip) {}

OfflinePacer::Time OfflinePacer::due(std::chrono::nanoseconds captured) {
    if (!first_) {
        first_ = captured;
        last_ = captured;
        base_ = clock_.now();
    }
    auto gap = captured - last_;
    if (gap < std::chrono::nanoseconds(0)) gap = std::chrono::nanoseconds(0);
    if (idleSkip_.count() > 0 && gap > idleSkip_) {
        const auto cut = gap - idleSkip_;
        skippedPass_ += cut;
        skippedTotal_ += cut;
    }
    last_ = captured;
    const auto elapsed = captured - *first_ - skippedPass_;
    const auto scaled = std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(elapsed.count()) / accelerate_));
    return base_ + scaled;
}

void OfflinePacer::newPass() {
    first_.reset();
    skippedPass_ = {};
}

}  // namespace tcpcopy::app
