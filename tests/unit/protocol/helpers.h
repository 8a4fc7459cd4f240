#pragma once

#include <string_view>
#include <vector>

#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql::testing {

inline Bytes bytesOf(std::initializer_list<unsigned> values) {
    Bytes out;
    for (const unsigned v : values) {
        out.push_back(std::byte(static_cast<unsigned char>(v)));
    }
    return out;
}

inline Bytes bytesOf(const std::vector<unsigned char>& values) {
    Bytes out;
    for (const unsigned char v : values) {
        out.push_back(std::byte{v});
    }
    return out;
}

// One wire packet: header + payload.
inline Bytes packet(std::uint8_t seq, ByteView payload) {
    Bytes out;
    appendHeader(out, payload.size(), seq);
    putBytes(out, payload);
    return out;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& part : parts) {
        putBytes(out, part);
    }
    return out;
}

}  // namespace tcpcopy::protocol::mysql::testing
