#pragma once
// Big-endian (network order) loads and stores over std::byte buffers: the one place every module
// that reads or writes a wire format (packets, the tunnel protocol) converts byte order. Callers
// check bounds before calling; these never do.

#include <cstddef>
#include <cstdint>

namespace tcpcopy::net::wire {

inline std::uint8_t u8(const std::byte* p) { return static_cast<std::uint8_t>(*p); }
inline std::uint16_t be16(const std::byte* p) {
    return static_cast<std::uint16_t>((std::uint16_t{u8(p)} << 8) | u8(p + 1));
}
inline std::uint32_t be32(const std::byte* p) {
    return (std::uint32_t{u8(p)} << 24) | (std::uint32_t{u8(p + 1)} << 16) | (std::uint32_t{u8(p + 2)} << 8) |
           u8(p + 3);
}
inline std::uint32_t le32(const std::byte* p) {
    return (std::uint32_t{u8(p + 3)} << 24) | (std::uint32_t{u8(p + 2)} << 16) |
           (std::uint32_t{u8(p + 1)} << 8) | u8(p);
}
inline void put8(std::byte* p, std::uint8_t v) { *p = static_cast<std::byte>(v); }
inline void put16(std::byte* p, std::uint16_t v) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
}
inline void put32(std::byte* p, std::uint32_t v) {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>(v >> 16);
    p[2] = static_cast<std::byte>(v >> 8);
    p[3] = static_cast<std::byte>(v);
}

}  // namespace tcpcopy::net::wire
