#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;
using test::concat;

// 2001:db8::1 > 2001:db8::2, hop limit 64, with `next` and a payload length of `payloadLen`.
ByteVec ipv6Header(int next, int payloadLen) {
    ByteVec h = bytes({0x60, 0x01, 0x23, 0x45, payloadLen >> 8, payloadLen & 0xff, next, 64});
    ByteVec src = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    ByteVec dst = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    return concat(concat(h, src), dst);
}

const ByteVec kTcpHeader =
    bytes({0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0});

// Hop-by-hop (8) > routing (8) > destination options (8) > AH (12) > TCP.
ByteVec extensionChain() {
    ByteVec hbh = bytes({43, 0, 1, 4, 0, 0, 0, 0});            // next routing, PadN
    ByteVec routing = bytes({60, 0, 4, 0, 0, 0, 0, 0});        // next dest opts, type 4, 0 left
    ByteVec destOpts = bytes({51, 0, 1, 4, 0, 0, 0, 0});       // next AH
    ByteVec ah = bytes({6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1});  // next TCP, (1+2)*4 = 12 bytes
    return concat(concat(concat(hbh, routing), destOpts), ah);
}

TEST(Ipv6, PlainTcpDecodes) {
    ByteVec p = concat(ipv6Header(6, 20), kTcpHeader);
    DecodeResult r = decodeFrame(LinkType::Ipv6, p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.ipPacket.size(), 60u);
    EXPECT_EQ(r.segment.src, IpAddr::parse("2001:db8::1"));
    EXPECT_EQ(r.segment.dst, IpAddr::parse("2001:db8::2"));
    EXPECT_TRUE(r.segment.src.isV6());
    EXPECT_EQ(r.segment.sport, Port(40000));
    EXPECT_EQ(r.segment.dport, Port(80));
    EXPECT_EQ(r.segment.seq, SeqNum(1));
    EXPECT_EQ(r.segment.flags, tcpflag::kSyn);
    EXPECT_EQ(r.segment.ttl, 64);  // the hop limit
    EXPECT_EQ(r.segment.ipId, 0);
    EXPECT_EQ(r.segment.payloadLength, 0u);
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_EQ(ip.version, 6);
    EXPECT_EQ(ip.protocol, kIpProtoTcp);
    EXPECT_FALSE(ip.fragment);
    EXPECT_EQ(ip.payload.data(), p.data() + 40);
    EXPECT_EQ(ip.payloadLength, 20u);
}

TEST(Ipv6, SkipsEveryExtensionHeaderKind) {
    ByteVec chain = extensionChain();
    ByteVec p = concat(concat(ipv6Header(0, static_cast<int>(chain.size() + 20)), chain), kTcpHeader);
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_EQ(ip.protocol, kIpProtoTcp);
    EXPECT_EQ(ip.payload.data(), p.data() + 40 + 36);
    EXPECT_EQ(ip.payloadLength, 20u);
    EXPECT_EQ(ip.extensionHeaders, 4);
    const DecodeResult r = decodeFrame(LinkType::RawIp, p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.extensionHeaders, 4);
    EXPECT_EQ(r.segment.dport, Port(80));
    EXPECT_EQ(r.segment.payloadLength, 0u);
}

TEST(Ipv6, AnIpv4MappedAddressIsABadHeader) {
    // ::ffff:255.255.255.6 style addresses would read as IPv4 and mix the families (fuzz_decode
    // found one: the builder then refused the decoded segment).
    ByteVec p = concat(ipv6Header(6, 20), kTcpHeader);
    for (int i = 24; i < 34; ++i) p[i] = std::byte{0};
    p[34] = p[35] = std::byte{0xff};
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, p).status, DecodeStatus::BadIpHeader);
    ByteVec q = concat(ipv6Header(6, 20), kTcpHeader);
    for (int i = 8; i < 18; ++i) q[i] = std::byte{0};
    q[18] = q[19] = std::byte{0xff};
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, q).status, DecodeStatus::BadIpHeader);
}

TEST(Ipv6, TcpInAFragmentIsAFragment) {
    ByteVec frag = bytes({6, 0, 0x00, 0x01, 0, 0, 0, 7});
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, concat(concat(ipv6Header(44, 28), frag), kTcpHeader)).status,
              DecodeStatus::Fragment);
}

TEST(Ipv6, FirstFragmentExposesUpperLayer) {
    ByteVec frag = bytes({6, 0, 0x00, 0x01, 0, 0, 0, 7});  // offset 0, M set
    ByteVec p = concat(concat(ipv6Header(44, 28), frag), kTcpHeader);
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_TRUE(ip.fragment);
    EXPECT_EQ(ip.protocol, kIpProtoTcp);
    EXPECT_EQ(ip.payload.data(), p.data() + 48);
}

TEST(Ipv6, LaterFragmentStopsAtFragmentHeader) {
    // Offset 8 (in 8-byte units: 0x0040 >> 3): the bytes after it are mid-stream TCP data, and
    // happen to look like a hop-by-hop header that must not be walked.
    ByteVec frag = bytes({0, 0, 0x00, 0x40, 0, 0, 0, 7});
    ByteVec data = bytes({0, 255, 1, 2, 3, 4, 5, 6});
    ByteVec p = concat(concat(ipv6Header(44, 16), frag), data);
    IpLayer ip = parseIpLayer(p);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_TRUE(ip.fragment);
    EXPECT_EQ(ip.protocol, 0);
    EXPECT_EQ(ip.payload.data(), p.data() + 48);
    EXPECT_EQ(ip.payloadLength, 8u);
}

TEST(Ipv6, NoNextHeaderAndUdpAreNotTcp) {
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, ipv6Header(59, 0)).status, DecodeStatus::NotTcp);
    ByteVec udp = concat(ipv6Header(17, 8), bytes({0, 53, 0, 53, 0, 8, 0, 0}));
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, udp).status, DecodeStatus::NotTcp);
    EXPECT_EQ(parseIpLayer(udp).protocol, kIpProtoUdp);
}

TEST(Ipv6, ChainBeyondStatedLengthIsBad) {
    ByteVec chain = extensionChain();
    // Payload length 16: the chain needs 36.
    ByteVec p = concat(concat(ipv6Header(0, 16), chain), kTcpHeader);
    EXPECT_EQ(parseIpLayer(p).status, DecodeStatus::BadIpHeader);
    EXPECT_EQ(decodeFrame(LinkType::RawIp, p).status, DecodeStatus::BadIpHeader);
}

TEST(Ipv6, HugeExtensionLengthIsBoundsChecked) {
    ByteVec hbh = bytes({6, 255, 0, 0, 0, 0, 0, 0});  // claims 2048 bytes
    ByteVec p = concat(concat(ipv6Header(0, 2048 + 20), hbh), kTcpHeader);
    EXPECT_EQ(parseIpLayer(p).status, DecodeStatus::TruncatedIp);
}

TEST(Ipv6, WrongVersionIsBad) {
    ByteVec p = concat(ipv6Header(6, 20), kTcpHeader);
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, p).status, DecodeStatus::Ok);
    p[0] = std::byte{0x40};
    EXPECT_EQ(decodeFrame(LinkType::Ipv6, p).status, DecodeStatus::BadIpHeader);
}

TEST(Ipv6, EveryTruncationOfTheHeaderChainIsTruncatedIp) {
    ByteVec chain = extensionChain();
    ByteVec p = concat(concat(ipv6Header(0, static_cast<int>(chain.size() + 20)), chain), kTcpHeader);
    for (std::size_t len = 0; len < 40 + chain.size(); ++len) {
        ByteVec prefix(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(parseIpLayer(prefix).status, DecodeStatus::TruncatedIp) << len;
        EXPECT_NE(decodeFrame(LinkType::RawIp, prefix).status, DecodeStatus::Ok) << len;
    }
    // Into the upper layer the IP layer is complete and the payload short (snaplen semantics).
    ByteVec cut(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(40 + chain.size() + 5));
    IpLayer ip = parseIpLayer(cut);
    ASSERT_EQ(ip.status, DecodeStatus::Ok);
    EXPECT_EQ(ip.payload.size(), 5u);
    EXPECT_EQ(ip.payloadLength, 20u);
}

}  // namespace
}  // namespace tcpcopy::net
