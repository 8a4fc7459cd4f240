#pragma once
// LatencyHistogram: response times in log-linear buckets (four per power of two, so a bucket is
// at most 25% wide) from 1.024 us to about 275 s, with an underflow and an overflow bucket. Fixed
// size (about 1 KiB), so one per endpoint costs the same after a million samples as after one.

#include <array>
#include <cstdint>

#include "tcpcopy/diff/message.h"

namespace tcpcopy::diff {

class LatencyHistogram {
  public:
    static constexpr int kSubBuckets = 4;
    static constexpr int kMinExponent = 10;  // 2^10 ns
    static constexpr int kOctaves = 28;      // up to 2^38 ns
    static constexpr std::size_t kBuckets = kOctaves * kSubBuckets + 2;

    void add(Time latency);
    void merge(const LatencyHistogram& other);

    std::uint64_t count() const { return count_; }
    Time max() const { return max_; }
    Time mean() const {
        return count_ == 0 ? Time{0} : Time{static_cast<std::int64_t>(sumNs_ / static_cast<double>(count_))};
    }
    // The upper bound of the bucket holding the q-quantile (0 < q <= 1), at most max(); 0 when empty.
    Time quantile(double q) const;
    std::uint64_t bucketCount(std::size_t i) const { return buckets_[i]; }
    // Upper bound of bucket i (the last, overflow, bucket: Time::max()).
    static Time upperBound(std::size_t i);
    static std::size_t bucketOf(Time latency);

  private:
    std::array<std::uint64_t, kBuckets> buckets_{};
    std::uint64_t count_ = 0;
    double sumNs_ = 0;  // a double: a u64 of nanoseconds could overflow in a long live run
    Time max_{0};
};

}  // namespace tcpcopy::diff
