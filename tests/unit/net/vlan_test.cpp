#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

const ByteVec kMacs = bytes({0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2});

TEST(Vlan, Single8021QTag) {
    ByteVec frame = concat(concat(kMacs, bytes({0x81, 0x00, 0x20, 0x64, 0x08, 0x00})), test::synPacket());
    DecodeResult r = decodeFrame(LinkType::Ethernet, frame);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.ipPacket.data(), frame.data() + 18);
}

TEST(Vlan, QinQ8021adOuterTag) {
    ByteVec frame = concat(concat(kMacs, bytes({0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00})),
                           test::synPacket());
    DecodeResult r = decodeFrame(LinkType::Ethernet, frame);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.ipPacket.data(), frame.data() + 22);
}

TEST(Vlan, PreStandardQinQ9100) {
    ByteVec frame = concat(concat(kMacs, bytes({0x91, 0x00, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00})),
                           test::synPacket());
    test::expectReferenceSyn(decodeFrame(LinkType::Ethernet, frame));
}

TEST(Vlan, ManyStackedTags) {
    ByteVec header = kMacs;
    for (int i = 0; i < 6; ++i) {
        for (int b : {0x81, 0x00, 0x00, i}) header.push_back(static_cast<std::byte>(b));
    }
    for (int b : {0x08, 0x00}) header.push_back(static_cast<std::byte>(b));
    test::expectReferenceSyn(decodeFrame(LinkType::Ethernet, concat(header, test::synPacket())));
}

TEST(Vlan, TaggedIpv6) {
    ByteVec v6 = test::emptyIpv6Packet();
    ByteVec frame = concat(concat(kMacs, bytes({0x81, 0x00, 0x00, 0x64, 0x86, 0xdd})), v6);
    EXPECT_EQ(decodeFrame(LinkType::Ethernet, frame).status, DecodeStatus::NotTcp);
}

TEST(Vlan, TaggedArpIsNotIp) {
    ByteVec frame = concat(concat(kMacs, bytes({0x81, 0x00, 0x00, 0x64, 0x08, 0x06})), bytes({0, 1, 8, 0}));
    EXPECT_EQ(decodeFrame(LinkType::Ethernet, frame).status, DecodeStatus::NotIp);
}

TEST(Vlan, TagCutShortIsTruncatedLink) {
    ByteVec frame = concat(kMacs, bytes({0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00}));
    for (std::size_t len = 14; len < frame.size(); ++len) {
        ByteVec prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(decodeFrame(LinkType::Ethernet, prefix).status, DecodeStatus::TruncatedLink) << len;
    }
    // Tags all the way to the end of the frame.
    ByteVec onlyTags = kMacs;
    for (int i = 0; i < 100; ++i) {
        for (int b : {0x81, 0x00}) onlyTags.push_back(static_cast<std::byte>(b));
    }
    EXPECT_EQ(decodeFrame(LinkType::Ethernet, onlyTags).status, DecodeStatus::TruncatedLink);
}

TEST(Vlan, EveryTruncationFails) {
    test::expectEveryTruncationFails(
        LinkType::Ethernet,
        concat(concat(kMacs, bytes({0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00})),
               test::synPacket()));
}

}  // namespace
}  // namespace tcpcopy::net
