#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

// Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
ByteVec sllHeader(int protoHi, int protoLo) {
    return bytes({0x00, 0x04,  // sent by us
                  0x00, 0x01,  // ARPHRD_ETHER
                  0x00, 0x06,  // 6-byte address
                  0x02, 0, 0, 0, 0, 1, 0, 0, protoHi, protoLo});
}

TEST(Sll, DecodesIpv4) {
    ByteVec frame = concat(sllHeader(0x08, 0x00), test::synPacket());
    DecodeResult r = decodeFrame(LinkType::LinuxSll, frame);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.ipPacket.data(), frame.data() + 16);
}

TEST(Sll, Ipv6ReachesTheIpv6Layer) {
    ByteVec v6 = test::emptyIpv6Packet();
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll, concat(sllHeader(0x86, 0xdd), v6)).status,
              DecodeStatus::NotTcp);
}

TEST(Sll, OtherProtocolsAreNotIp) {
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll, concat(sllHeader(0x08, 0x06), test::synPacket())).status,
              DecodeStatus::NotIp);
    EXPECT_EQ(decodeFrame(LinkType::LinuxSll, concat(sllHeader(0x00, 0x04), test::synPacket())).status,
              DecodeStatus::NotIp);  // 802.2 LLC
}

TEST(Sll, ShortHeaderIsTruncatedLink) {
    ByteVec header = sllHeader(0x08, 0x00);
    for (std::size_t len = 0; len < header.size(); ++len) {
        EXPECT_EQ(decodeFrame(LinkType::LinuxSll, Bytes(header.data(), len)).status,
                  DecodeStatus::TruncatedLink)
            << len;
    }
}

TEST(Sll, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::LinuxSll, concat(sllHeader(0x08, 0x00), test::synPacket()));
}

}  // namespace
}  // namespace tcpcopy::net
