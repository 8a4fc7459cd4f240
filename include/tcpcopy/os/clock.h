#pragma once
// Monotonic time behind an interface, so that code which paces or times out can run on a manual
// clock in tests. Time is nanoseconds since an arbitrary epoch (steady_clock's), the unit the
// session engine takes (session::Time).

#include <chrono>

namespace tcpcopy::os {

class Clock {
  public:
    virtual ~Clock() = default;
    virtual std::chrono::nanoseconds now() const = 0;
};

// The process's monotonic clock (std::chrono::steady_clock).
class SteadyClock final : public Clock {
  public:
    std::chrono::nanoseconds now() const override {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
    }
};

}  // namespace tcpcopy::os
