#pragma once
// The injectors log each distinct errno once, then only count it: a bitmap per injector.

#include <cstddef>
#include <cstdint>

namespace tcpcopy::inject {

// The errno bitmaps: one bit per errno below kErrnoSlots, larger ones share the last bit.
inline constexpr int kErrnoSlots = 192;

// True the first time `slot` is seen by this bitmap (slots past its end share the last bit).
inline bool firstTime(std::uint64_t (&bits)[3], int slot) {
    const auto s = static_cast<std::size_t>(slot < 0 || slot >= kErrnoSlots - 1 ? kErrnoSlots - 1 : slot);
    const std::uint64_t mask = std::uint64_t{1} << (s % 64);
    if ((bits[s / 64] & mask) != 0) return false;
    bits[s / 64] |= mask;
    return true;
}

}  // namespace tcpcopy::inject
