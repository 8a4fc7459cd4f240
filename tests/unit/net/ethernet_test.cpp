#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

ByteVec ethernetHeader(int typeHi, int typeLo) {
    return bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, typeHi, typeLo});
}

TEST(Ethernet, DecodesIpv4Frame) {
    ByteVec frame = concat(ethernetHeader(0x08, 0x00), test::synPacket());
    DecodeResult r = decodeFrame(LinkType::Ethernet, frame);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.ipPacket.data(), frame.data() + 14);
}

TEST(Ethernet, IgnoresTrailerPadding) {
    // A 60-byte minimum frame around a short IP packet plus a 4-byte FCS-like trailer.
    ByteVec frame =
        concat(concat(ethernetHeader(0x08, 0x00), test::synPacket()), bytes({0xde, 0xad, 0xbe, 0xef}));
    DecodeResult r = decodeFrame(LinkType::Ethernet, frame);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.ipPacket.size(), 60u);
    EXPECT_TRUE(r.segment.payload.empty());
}

TEST(Ethernet, Ipv6EtherTypeReachesTheIpv6Layer) {
    ByteVec v6 = test::emptyIpv6Packet();
    DecodeResult r = decodeFrame(LinkType::Ethernet, concat(ethernetHeader(0x86, 0xdd), v6));
    EXPECT_EQ(r.status, DecodeStatus::NotTcp);
    EXPECT_EQ(r.ipPacket.size(), 40u);
}

TEST(Ethernet, OtherEtherTypesAreNotIp) {
    for (auto [hi, lo] : {std::pair{0x08, 0x06} /* ARP */,
                          {0x88, 0xcc} /* LLDP */,
                          {0x88, 0x47} /* MPLS */,
                          {0x00, 0x2e} /* 802.3 length */}) {
        ByteVec frame = concat(ethernetHeader(hi, lo), test::synPacket());
        EXPECT_EQ(decodeFrame(LinkType::Ethernet, frame).status, DecodeStatus::NotIp) << hi << "/" << lo;
    }
}

TEST(Ethernet, Ipv4EtherTypeWithWrongVersion) {
    ByteVec ip = test::synPacket();
    ip[0] = std::byte{0x65};
    EXPECT_EQ(decodeFrame(LinkType::Ethernet, concat(ethernetHeader(0x08, 0x00), ip)).status,
              DecodeStatus::BadIpHeader);
}

TEST(Ethernet, ShortFramesAreTruncatedLink) {
    ByteVec frame = concat(ethernetHeader(0x08, 0x00), test::synPacket());
    for (std::size_t len = 0; len < 14; ++len) {
        EXPECT_EQ(stripLinkLayer(LinkType::Ethernet, Bytes(frame.data(), len)).status,
                  DecodeStatus::TruncatedLink);
    }
    EXPECT_EQ(decodeFrame(LinkType::Ethernet, Bytes(frame.data(), 14)).status, DecodeStatus::TruncatedIp);
}

TEST(Ethernet, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::Ethernet,
                                     concat(ethernetHeader(0x08, 0x00), test::synPacket()));
}

TEST(Ethernet, LinkTypeMapping) {
    EXPECT_EQ(linkTypeFromDlt(1), LinkType::Ethernet);
    EXPECT_EQ(linkTypeFromDlt(113), LinkType::LinuxSll);
    EXPECT_EQ(linkTypeFromDlt(276), LinkType::LinuxSll2);
    EXPECT_EQ(linkTypeFromDlt(12), LinkType::RawIp);
    EXPECT_EQ(linkTypeFromDlt(228), LinkType::Ipv4);
    EXPECT_EQ(linkTypeFromDlt(229), LinkType::Ipv6);
    EXPECT_EQ(linkTypeFromDlt(0), LinkType::Null);
    EXPECT_EQ(linkTypeFromDlt(108), LinkType::Loop);
    for (int unsupported : {-1, 6, 14, 101, 105, 127, 147, 192, 1000})
        EXPECT_FALSE(linkTypeFromDlt(unsupported)) << unsupported;
    EXPECT_EQ(linkTypeName(LinkType::Ethernet), "ethernet");
    EXPECT_EQ(linkTypeName(LinkType::LinuxSll2), "linux-sll2");
    EXPECT_EQ(linkTypeName(LinkType::Loop), "loop");
}

}  // namespace
}  // namespace tcpcopy::net
