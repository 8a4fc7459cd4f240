#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

// Linux cooked v2: protocol first, reserved, ifindex, ARPHRD, packet type, address length, address.
ByteVec sll2Header(int protoHi, int protoLo) {
    return bytes({protoHi, protoLo, 0x00, 0x00,  // protocol, reserved
                  0x00,    0x00,    0x00, 0x03,  // interface index 3
                  0x00,    0x01,                 // ARPHRD_ETHER
                  0x00,                          // to us
                  0x06,                          // address length
                  0x02,    0,       0,    0,    0, 1, 0, 0});
}

TEST(Sll2, DecodesIpv4) {
    ByteVec frame = concat(sll2Header(0x08, 0x00), test::synPacket());
    DecodeResult r = decodeFrame(LinkType::LinuxSll2, frame);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.ipPacket.data(), frame.data() + 20);
}

TEST(Sll2, ProtocolIsReadFromTheFirstField) {
    // An SLL v1 reading (offset 14) would find 0x0000 here and say NotIp.
    ByteVec header = sll2Header(0x08, 0x00);
    header[14] = header[15] = std::byte{0};
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll2, concat(header, test::synPacket())).status, DecodeStatus::Ok);
}

TEST(Sll2, Ipv6AndOthers) {
    ByteVec v6 = test::emptyIpv6Packet();
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll2, concat(sll2Header(0x86, 0xdd), v6)).status,
              DecodeStatus::NotTcp);
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll2, concat(sll2Header(0x08, 0x06), test::synPacket())).status,
              DecodeStatus::NotIp);
}

TEST(Sll2, ShortHeaderIsTruncatedLink) {
    ByteVec header = sll2Header(0x08, 0x00);
    for (std::size_t len = 0; len < header.size(); ++len) {
        EXPECT_EQ(decodeFrame(LinkType::LinuxSll2, Bytes(header.data(), len)).status,
                  DecodeStatus::TruncatedLink);
    }
}

TEST(Sll2, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::LinuxSll2, concat(sll2Header(0x08, 0x00), test::synPacket()));
}

}  // namespace
}  // namespace tcpcopy::net
