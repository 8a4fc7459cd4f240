#include "tcpcopy/session/port_allocator.h"

#include <bit>

namespace tcpcopy::session {

bool PortAllocator::hold(std::uint16_t port) {
    const std::uint32_t w = port >> 6;
    const std::uint64_t bit = std::uint64_t{1} << (port & 63);
    if (words_[w] & bit) return false;
    words_[w] |= bit;
    if (words_[w] == ~std::uint64_t{0}) full_[w >> 6] |= std::uint64_t{1} << (w & 63);
    ++count_;
    return true;
}

bool PortAllocator::release(std::uint16_t port) {
    const std::uint32_t w = port >> 6;
    const std::uint64_t bit = std::uint64_t{1} << (port & 63);
    if (!(words_[w] & bit)) return false;
    words_[w] &= ~bit;
    full_[w >> 6] &= ~(std::uint64_t{1} << (w & 63));
    --count_;
    return true;
}

std::optional<std::uint32_t> PortAllocator::findFreeFrom(std::uint32_t from) const {
    if (from > 65535) return std::nullopt;
    std::uint32_t w = from >> 6;
    // Free bits of the first word at or after `from`.
    const std::uint64_t freeHere = ~words_[w] & (~std::uint64_t{0} << (from & 63));
    if (freeHere != 0) return (w << 6) + static_cast<std::uint32_t>(std::countr_zero(freeHere));
    // The next word that is not full, through the summary.
    ++w;
    for (std::uint32_t s = w >> 6; s < kSummaryWords && w < kWords; ++s, w = s << 6) {
        const std::uint64_t notFull = ~full_[s] & (~std::uint64_t{0} << (w & 63));
        if (notFull == 0) continue;
        const std::uint32_t word = (s << 6) + static_cast<std::uint32_t>(std::countr_zero(notFull));
        return (word << 6) + static_cast<std::uint32_t>(std::countr_zero(~words_[word]));
    }
    return std::nullopt;
}

std::optional<std::uint16_t> PortAllocator::allocate() {
    std::optional<std::uint32_t> port = findFreeFrom(cursor_);
    if (!port) port = findFreeFrom(kFloor);
    if (!port) return std::nullopt;
    hold(static_cast<std::uint16_t>(*port));
    cursor_ = *port + 1 > 65535 ? kFloor : *port + 1;
    return static_cast<std::uint16_t>(*port);
}

}  // namespace tcpcopy::session
