#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

TEST(Null, Ipv4FamilyInEitherByteOrder) {
    // Written by a little-endian capturer, and by a big-endian one.
    for (const ByteVec& family : {bytes({2, 0, 0, 0}), bytes({0, 0, 0, 2})}) {
        ByteVec frame = concat(family, test::synPacket());
        DecodeResult r = decodeFrame(LinkType::Null, frame);
        test::expectReferenceSyn(r);
        EXPECT_EQ(r.ipPacket.data(), frame.data() + 4);
    }
}

TEST(Null, Ipv6FamiliesOfEachBsd) {
    for (int family : {24, 28, 30}) {  // NetBSD/OpenBSD, FreeBSD, Darwin
        EXPECT_EQ(
            decodeFrame(LinkType::Null, concat(bytes({family, 0, 0, 0}), test::emptyIpv6Packet())).status,
            DecodeStatus::NotTcp)
            << family;
        EXPECT_EQ(
            decodeFrame(LinkType::Null, concat(bytes({0, 0, 0, family}), test::emptyIpv6Packet())).status,
            DecodeStatus::NotTcp)
            << family;
    }
}

TEST(Null, OtherFamiliesAreNotIp) {
    for (const ByteVec& family : {bytes({0, 0, 0, 0}), bytes({7, 0, 0, 0}), bytes({0, 2, 0, 0}),
                                  bytes({2, 0, 0, 2}), bytes({0xff, 0xff, 0xff, 0xff})}) {
        EXPECT_EQ(decodeFrame(LinkType::Null, concat(family, test::synPacket())).status, DecodeStatus::NotIp);
    }
}

TEST(Null, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::Null, concat(bytes({2, 0, 0, 0}), test::synPacket()));
    for (std::size_t len = 0; len < 4; ++len) {
        ByteVec family = bytes({2, 0, 0, 0});
        EXPECT_EQ(decodeFrame(LinkType::Null, Bytes(family.data(), len)).status, DecodeStatus::TruncatedLink);
    }
}

TEST(Loop, FamilyInNetworkOrder) {
    test::expectReferenceSyn(decodeFrame(LinkType::Loop, concat(bytes({0, 0, 0, 2}), test::synPacket())));
    EXPECT_EQ(decodeFrame(LinkType::Loop, concat(bytes({0, 0, 0, 24}), test::emptyIpv6Packet())).status,
              DecodeStatus::NotTcp);
}

TEST(Loop, HostOrderFamilyIsNotIp) {
    // Unlike NULL, LOOP is defined in network order: a little-endian 2 is family 0x02000000.
    EXPECT_EQ(decodeFrame(LinkType::Loop, concat(bytes({2, 0, 0, 0}), test::synPacket())).status,
              DecodeStatus::NotIp);
}

TEST(Loop, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::Loop, concat(bytes({0, 0, 0, 2}), test::synPacket()));
}

}  // namespace
}  // namespace tcpcopy::net
