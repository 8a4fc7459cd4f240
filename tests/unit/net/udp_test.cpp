#include "tcpcopy/net/udp.h"

#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;

// 192.0.2.1:5353 > 198.18.0.1:53, UDP length 12 (4 payload bytes "abcd").
ByteVec udpPacket() {
    return bytes({0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00,
                  0x00, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x12, 0x00, 0x01, 0x14, 0xe9,
                  0x00, 0x35, 0x00, 0x0c, 0x12, 0x34, 'a',  'b',  'c',  'd'});
}

TEST(Udp, ParsesPortsAndLengthFromIpPayload) {
    ByteVec p = udpPacket();
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    ASSERT_EQ(ip.protocol, kIpProtoUdp);
    EXPECT_EQ(decodeIpTcp(p).status, DecodeStatus::NotTcp);
    UdpParseResult r = parseUdp(ip.payload, ip.payloadLength);
    ASSERT_EQ(r.status, UdpStatus::Ok);
    EXPECT_EQ(r.datagram.sport, Port(5353));
    EXPECT_EQ(r.datagram.dport, Port(53));
    EXPECT_EQ(r.datagram.length, 12);
    EXPECT_EQ(r.datagram.checksum, 0x1234);
    EXPECT_EQ(r.datagram.payloadLength, 4);
    ASSERT_EQ(r.datagram.payload.size(), 4u);
    EXPECT_EQ(r.datagram.payload.data(), p.data() + 28);
}

TEST(Udp, IgnoresBytesBeyondUdpLength) {
    ByteVec payload = bytes({0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0, 0, 'x', 'y', 'z'});
    UdpParseResult r = parseUdp(payload, 11);
    ASSERT_EQ(r.status, UdpStatus::Ok);
    EXPECT_EQ(r.datagram.payload.size(), 1u);
}

TEST(Udp, SnaplenCutPayload) {
    ByteVec p = udpPacket();
    IpLayer ip = parseIpLayer(Bytes(p.data(), 30));
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    UdpParseResult r = parseUdp(ip.payload, ip.payloadLength);
    ASSERT_EQ(r.status, UdpStatus::Ok);
    EXPECT_EQ(r.datagram.payloadLength, 4);
    EXPECT_EQ(r.datagram.payload.size(), 2u);
}

TEST(Udp, LengthFieldOutOfRange) {
    ByteVec h = bytes({0, 1, 0, 2, 0, 7, 0, 0});
    EXPECT_EQ(parseUdp(h, 8).status, UdpStatus::BadLength);  // below the header size
    ByteVec big = bytes({0, 1, 0, 2, 0, 20, 0, 0, 1, 2});
    EXPECT_EQ(parseUdp(big, 10).status, UdpStatus::BadLength);  // beyond what IP states
    EXPECT_EQ(parseUdp(big, 20).status, UdpStatus::Ok);         // snaplen: present bytes only
}

TEST(Udp, EveryTruncationOfTheHeaderFails) {
    ByteVec p = udpPacket();
    Bytes udp(p.data() + 20, 12);
    for (std::size_t len = 0; len < kUdpHeaderLen; ++len) {
        ByteVec prefix(udp.begin(), udp.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(parseUdp(prefix, 12).status, UdpStatus::Truncated) << len;
    }
}

TEST(Udp, StatusNames) {
    EXPECT_EQ(udpStatusName(UdpStatus::Ok), "ok");
    EXPECT_EQ(udpStatusName(UdpStatus::Truncated), "truncated_udp");
    EXPECT_EQ(udpStatusName(UdpStatus::BadLength), "bad_udp_length");
}

}  // namespace
}  // namespace tcpcopy::net
