#pragma once
// Shared by the net unit tests: byte-vector helpers and the two reference IPv4/TCP packets that
// the link-layer tests wrap. Bytes were produced by an independent checksum implementation.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tcpcopy/net/decode.h"

namespace tcpcopy::net::test {

using ByteVec = std::vector<std::byte>;

inline ByteVec bytes(std::initializer_list<int> values) {
    ByteVec out;
    out.reserve(values.size());
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

inline ByteVec concat(const ByteVec& a, const ByteVec& b) {
    ByteVec out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

// 192.0.2.1:40000 > 198.18.0.1:80 SYN seq 0xfffffff0, ipid 0x1234, ttl 64, DF, window 64240,
// options MSS 1460, SACK-permitted, TS 1/0, NOP, WS 7. 60 bytes, valid checksums, no payload.
inline ByteVec synPacket() {
    return bytes({
        0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xa0, 0x73, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x12, 0x00, 0x01, 0x9c, 0x40, 0x00, 0x50, 0xff, 0xff, 0xff, 0xf0, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x28, 0x78, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
        0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    });
}

// 192.0.2.1:40000 > 198.18.0.1:80 PSH|ACK seq 0x01000000 ack 0x20000000 window 502, options
// NOP NOP TS 2/3, payload "GET / HTTP/1.1\r\n" (16 bytes). 68 bytes, valid checksums.
inline ByteVec dataPacket() {
    return bytes({
        0x45, 0x00, 0x00, 0x44, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xa0, 0x6b, 0xc0, 0x00, 0x02, 0x01, 0xc6,
        0x12, 0x00, 0x01, 0x9c, 0x40, 0x00, 0x50, 0x01, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x80, 0x18,
        0x01, 0xf6, 0x5d, 0x6e, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x03, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31, 0x0d, 0x0a,
    });
}

// A minimal IPv6 packet: 40-byte header, next header 59 (none), empty payload.
inline ByteVec emptyIpv6Packet() {
    ByteVec v6 = bytes({0x60, 0, 0, 0, 0, 0, 59, 64});
    v6.resize(40);
    return v6;
}

// Checks that `frame` decodes to the reference SYN.
inline void expectReferenceSyn(const DecodeResult& r) {
    ASSERT_EQ(r.status, DecodeStatus::Ok) << decodeStatusName(r.status);
    EXPECT_EQ(r.segment.src, Ipv4Addr::fromOctets(192, 0, 2, 1));
    EXPECT_EQ(r.segment.dst, Ipv4Addr::fromOctets(198, 18, 0, 1));
    EXPECT_EQ(r.segment.sport, Port(40000));
    EXPECT_EQ(r.segment.dport, Port(80));
    EXPECT_EQ(r.segment.seq, SeqNum(0xfffffff0u));
    EXPECT_EQ(r.segment.flags, tcpflag::kSyn);
    EXPECT_EQ(r.segment.options.mss, 1460);
    EXPECT_EQ(r.ipPacket.size(), 60u);
}

// Every proper prefix of a frame whose bytes are all headers must fail to decode, without
// reading past the prefix (the prefix is copied into an exact-size buffer so ASan sees overreads).
inline void expectEveryTruncationFails(LinkType link, const ByteVec& frame) {
    for (std::size_t len = 0; len < frame.size(); ++len) {
        ByteVec prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
        DecodeResult r = decodeFrame(link, prefix);
        EXPECT_NE(r.status, DecodeStatus::Ok) << "prefix length " << len;
    }
}

}  // namespace tcpcopy::net::test
