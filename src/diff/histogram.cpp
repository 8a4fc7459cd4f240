#include "tcpcopy/diff/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tcpcopy::diff {

std::size_t LatencyHistogram::bucketOf(Time latency) {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
    if (ns < (std::uint64_t{1} << kMinExponent)) return 0;
    const int e = std::bit_width(ns) - 1;
    if (e >= kMinExponent + kOctaves) return kBuckets - 1;
    const auto sub = static_cast<std::size_t>((ns >> (e - 2)) & 3);
    return 1 + static_cast<std::size_t>(e - kMinExponent) * kSubBuckets + sub;
}

Time LatencyHistogram::upperBound(std::size_t i) {
    if (i == 0) return Time{std::int64_t{1} << kMinExponent};
    if (i >= kBuckets - 1) return Time::max();
    const int e = kMinExponent + static_cast<int>((i - 1) / kSubBuckets);
    const auto sub = static_cast<std::int64_t>((i - 1) % kSubBuckets);
    return Time{(5 + sub) << (e - 2)};
}

void LatencyHistogram::add(Time latency) {
    ++buckets_[bucketOf(latency)];
    ++count_;
    sumNs_ += static_cast<double>(std::max<std::int64_t>(latency.count(), 0));
    max_ = std::max(max_, latency);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    sumNs_ += other.sumNs_;
    max_ = std::max(max_, other.max_);
}

Time LatencyHistogram::quantile(double q) const {
    if (count_ == 0) return Time{0};
    const auto rank =
        static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += buckets_[i];
        if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(upperBound(i), max_);
    }
    return max_;
}

}  // namespace tcpcopy::diff
