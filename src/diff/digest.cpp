#include "tcpcopy/diff/digest.h"

#include <bit>
#include <cstring>

#include "tcpcopy/net/types.h"

namespace tcpcopy::diff {
namespace {

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;

std::uint64_t load64(const std::byte* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

}  // namespace

void StreamDigest::mix(std::uint64_t word) { state_ = std::rotl(state_ ^ (word * kPrime2), 31) * kPrime1; }

void StreamDigest::update(net::Bytes bytes) {
    total_ += bytes.size();
    const std::byte* p = bytes.data();
    std::size_t n = bytes.size();
    while (tailBytes_ != 0 && n != 0) {  // complete the word a previous piece began
        tail_ |= std::uint64_t{std::to_integer<std::uint8_t>(*p)} << (8 * tailBytes_);
        ++p;
        --n;
        if (++tailBytes_ == 8) {
            mix(tail_);
            tail_ = 0;
            tailBytes_ = 0;
        }
    }
    for (; n >= 8; p += 8, n -= 8) mix(load64(p));
    for (; n != 0; ++p, --n) {
        tail_ |= std::uint64_t{std::to_integer<std::uint8_t>(*p)} << (8 * tailBytes_);
        ++tailBytes_;
    }
}

std::uint64_t StreamDigest::value() const {
    std::uint64_t h = state_;
    if (tailBytes_ != 0) h = std::rotl(h ^ (tail_ * kPrime1), 27) * kPrime2;
    return net::mix64(h ^ total_);
}

std::uint64_t digestOf(net::Bytes bytes) {
    StreamDigest d;
    d.update(bytes);
    return d.value();
}

std::uint64_t digestOf(std::string_view text) {
    return digestOf(std::as_bytes(std::span(text.data(), text.size())));
}

std::string digestHex(std::uint64_t digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, digest >>= 4) out[static_cast<std::size_t>(i)] = kHex[digest & 0xF];
    return out;
}

}  // namespace tcpcopy::diff
