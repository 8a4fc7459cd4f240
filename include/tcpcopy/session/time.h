#pragma once
// The engine's notion of time: monotonic nanoseconds supplied by the caller. The engine has no
// clock of its own, so tests drive it on a manual clock.

#include <chrono>

namespace tcpcopy::session {

using Time = std::chrono::nanoseconds;

}  // namespace tcpcopy::session
