#pragma once
// StreamDigest: a 64-bit digest of a byte stream fed in pieces, equal for equal streams however
// they were split. Not cryptographic: it tells two response bodies of one run apart, with a
// collision chance of about 2^-64 per pair, at a few hundred picoseconds per byte.

#include <cstdint>
#include <string>

#include "tcpcopy/net/types.h"

namespace tcpcopy::diff {

class StreamDigest {
  public:
    void update(net::Bytes bytes);
    // The digest of everything fed so far (does not change the state).
    std::uint64_t value() const;
    std::uint64_t size() const { return total_; }

  private:
    void mix(std::uint64_t word);

    std::uint64_t state_ = 0x9E3779B97F4A7C15ull;
    std::uint64_t tail_ = 0;  // up to 7 bytes not yet mixed, little-endian
    unsigned tailBytes_ = 0;
    std::uint64_t total_ = 0;
};

std::uint64_t digestOf(net::Bytes bytes);
std::uint64_t digestOf(std::string_view text);
// 16 lower-case hex digits.
std::string digestHex(std::uint64_t digest);

}  // namespace tcpcopy::diff
