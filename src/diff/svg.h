#pragma once
// The report's latency chart (internal).

#include <string>
#include <string_view>

#include "tcpcopy/diff/histogram.h"

namespace tcpcopy::diff::detail {

inline constexpr std::string_view kOnlineColor = "#2b6cb0";
inline constexpr std::string_view kTargetColor = "#dd6b20";

// The two distributions as cumulative curves over a logarithmic time axis, one <svg> element.
std::string latencyCdfSvg(const LatencyHistogram& online, const LatencyHistogram& target);

}  // namespace tcpcopy::diff::detail
