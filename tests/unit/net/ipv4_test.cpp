#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::dataPacket;
using test::synPacket;

TEST(Ipv4, DecodesHeaderFields) {
    ByteVec p = dataPacket();
    DecodeResult r = decodeIpTcp(p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.segment.src.toString(), "192.0.2.1");
    EXPECT_EQ(r.segment.dst.toString(), "198.18.0.1");
    EXPECT_EQ(r.segment.ipId, 0x1234);
    EXPECT_EQ(r.segment.ttl, 64);
    EXPECT_EQ(r.ipPacket.data(), p.data());
    EXPECT_EQ(r.ipPacket.size(), p.size());
}

TEST(Ipv4, IgnoresEthernetPaddingPastTotalLength) {
    ByteVec p = synPacket();
    p.resize(p.size() + 6, std::byte{0xEE});
    DecodeResult r = decodeIpTcp(p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.ipPacket.size(), 60u);
    EXPECT_EQ(r.segment.payloadLength, 0u);
    EXPECT_TRUE(r.segment.payload.empty());
}

TEST(Ipv4, SnaplenCutPayloadKeepsStatedLength) {
    ByteVec p = dataPacket();
    for (std::size_t cut = 1; cut <= 16; ++cut) {
        ByteVec shortened(p.begin(), p.end() - static_cast<std::ptrdiff_t>(cut));
        DecodeResult r = decodeIpTcp(shortened);
        ASSERT_EQ(r.status, DecodeStatus::Ok) << cut;
        EXPECT_EQ(r.segment.payloadLength, 16u);
        EXPECT_EQ(r.segment.payload.size(), 16u - cut);
        EXPECT_EQ(r.segment.seqLength(), 16u);
    }
}

TEST(Ipv4, SkipsHeaderOptions) {
    // IHL 6: one 4-byte option (NOP NOP NOP EOL) before the TCP header; lengths adjusted.
    ByteVec p = synPacket();
    ByteVec withOptions(p.begin(), p.begin() + 20);
    withOptions[0] = std::byte{0x46};
    withOptions[3] = std::byte{0x40};  // total length 64
    for (int b : {1, 1, 1, 0}) withOptions.push_back(static_cast<std::byte>(b));
    withOptions.insert(withOptions.end(), p.begin() + 20, p.end());
    DecodeResult r = decodeIpTcp(withOptions);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.segment.sport, Port(40000));
    EXPECT_EQ(r.segment.options.mss, 1460);
    // Options cut off: truncated, not bad.
    ByteVec cut(withOptions.begin(), withOptions.begin() + 22);
    EXPECT_EQ(decodeIpTcp(cut).status, DecodeStatus::TruncatedIp);
}

TEST(Ipv4, RecognisesFragments) {
    ByteVec first = synPacket();
    first[6] = std::byte{0x20};  // MF, offset 0
    first[7] = std::byte{0x00};
    EXPECT_EQ(decodeIpTcp(first).status, DecodeStatus::Fragment);
    ByteVec later = synPacket();
    later[6] = std::byte{0x00};
    later[7] = std::byte{0x10};  // offset 16 * 8
    DecodeResult r = decodeIpTcp(later);
    EXPECT_EQ(r.status, DecodeStatus::Fragment);
    EXPECT_EQ(r.ipPacket.size(), 60u);
    ByteVec dfOnly = synPacket();  // DF alone is not a fragment
    EXPECT_EQ(decodeIpTcp(dfOnly).status, DecodeStatus::Ok);
}

TEST(Ipv4, NonTcpProtocolIsNotTcpEvenWhenFragmented) {
    ByteVec udp = synPacket();
    udp[9] = std::byte{17};
    EXPECT_EQ(decodeIpTcp(udp).status, DecodeStatus::NotTcp);
    udp[6] = std::byte{0x20};
    EXPECT_EQ(decodeIpTcp(udp).status, DecodeStatus::NotTcp);
}

TEST(Ipv4, RejectsInconsistentHeader) {
    ByteVec badVersion = synPacket();
    badVersion[0] = std::byte{0x55};
    EXPECT_EQ(decodeIpTcp(badVersion).status, DecodeStatus::BadIpHeader);
    ByteVec shortIhl = synPacket();
    shortIhl[0] = std::byte{0x44};
    EXPECT_EQ(decodeIpTcp(shortIhl).status, DecodeStatus::BadIpHeader);
    ByteVec totalBelowHeader = synPacket();
    totalBelowHeader[2] = std::byte{0};
    totalBelowHeader[3] = std::byte{19};
    EXPECT_EQ(decodeIpTcp(totalBelowHeader).status, DecodeStatus::BadIpHeader);
    ByteVec zeroTotal = synPacket();
    zeroTotal[2] = zeroTotal[3] = std::byte{0};
    EXPECT_EQ(decodeIpTcp(zeroTotal).status, DecodeStatus::BadIpHeader);
    ByteVec ihlBeyondTotal = synPacket();
    ihlBeyondTotal[0] = std::byte{0x4F};  // 60-byte header, total length 60: no room for TCP
    EXPECT_EQ(decodeIpTcp(ihlBeyondTotal).status, DecodeStatus::TruncatedTcp);
}

TEST(Ipv4, TotalLengthTooSmallForTcpHeader) {
    ByteVec p = synPacket();
    p[3] = std::byte{30};  // 10 bytes of TCP according to the header
    EXPECT_EQ(decodeIpTcp(p).status, DecodeStatus::TruncatedTcp);
}

TEST(Ipv4, EveryTruncationFails) {
    test::expectEveryTruncationFails(LinkType::Ipv4, synPacket());
    test::expectEveryTruncationFails(LinkType::RawIp, synPacket());
    ByteVec p = synPacket();
    for (std::size_t len = 0; len < 20; ++len) {
        EXPECT_EQ(decodeIpTcp(Bytes(p.data(), len)).status, DecodeStatus::TruncatedIp) << len;
    }
}

TEST(Ipv4, Ipv4LinkTypeRejectsIpv6Packet) {
    ByteVec v6 = test::emptyIpv6Packet();
    EXPECT_EQ(decodeFrame(LinkType::Ipv4, v6).status, DecodeStatus::BadIpHeader);
    EXPECT_EQ(decodeFrame(LinkType::RawIp, v6).status, DecodeStatus::NotTcp);
}

TEST(Ipv4, RawIpWithOtherVersionIsNotIp) {
    ByteVec p = synPacket();
    p[0] = std::byte{0x55};
    EXPECT_EQ(decodeFrame(LinkType::RawIp, p).status, DecodeStatus::NotIp);
}

TEST(Ipv4, ParseIpLayerReportsPayload) {
    ByteVec p = dataPacket();
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_EQ(ip.version, 4);
    EXPECT_EQ(ip.protocol, kIpProtoTcp);
    EXPECT_FALSE(ip.fragment);
    EXPECT_EQ(ip.payloadLength, 48u);
    EXPECT_EQ(ip.payload.size(), 48u);
    EXPECT_EQ(ip.payload.data(), p.data() + 20);
}

}  // namespace
}  // namespace tcpcopy::net
