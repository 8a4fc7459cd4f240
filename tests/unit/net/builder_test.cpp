#include "tcpcopy/net/builder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;

TcpSegment referenceSyn() {
    TcpSegment s;
    s.src = Ipv4Addr::fromOctets(192, 0, 2, 1);
    s.dst = Ipv4Addr::fromOctets(198, 18, 0, 1);
    s.sport = Port(40000);
    s.dport = Port(80);
    s.seq = SeqNum(0xfffffff0u);
    s.flags = tcpflag::kSyn;
    s.window = 64240;
    s.ipId = 0x1234;
    s.ttl = 64;
    s.options.mss = 1460;
    s.options.sackPermitted = true;
    s.options.timestamps = TcpTimestamps{1, 0};
    s.options.windowScale = 7;
    return s;
}

TEST(Builder, ReproducesReferenceSynByteForByte) {
    std::array<std::byte, 128> out{};
    std::size_t n = buildIpTcp(referenceSyn(), out);
    ByteVec expected = test::synPacket();
    ASSERT_EQ(n, expected.size());
    EXPECT_EQ(std::memcmp(out.data(), expected.data(), n), 0);
}

TEST(Builder, ReproducesReferenceDataSegment) {
    ByteVec expected = test::dataPacket();
    DecodeResult decoded = decodeIpTcp(expected);
    ASSERT_EQ(decoded.status, DecodeStatus::Ok);
    std::array<std::byte, 128> out{};
    std::size_t n = buildIpTcp(decoded.segment, out);
    ASSERT_EQ(n, expected.size());
    EXPECT_EQ(std::memcmp(out.data(), expected.data(), n), 0);
}

TEST(Builder, RoundTripsThroughDecoderWithValidChecksums) {
    TcpSegment s = referenceSyn();
    s.flags = tcpflag::kAck | tcpflag::kPsh;
    s.options = TcpOptions{};
    s.options.timestamps = TcpTimestamps{0xAABBCCDD, 0x11223344};
    s.options.sack = {SackBlock{SeqNum(1), SeqNum(2)}, SackBlock{SeqNum(3), SeqNum(4)},
                      SackBlock{SeqNum(5), SeqNum(6)}, SackBlock{SeqNum(7), SeqNum(8)}};
    s.options.sackCount = 4;
    ByteVec payload = bytes({'h', 'e', 'l', 'l', 'o'});
    s.payload = payload;
    s.payloadLength = 999;  // ignored by the builder
    std::array<std::byte, 256> out{};
    std::size_t n = buildIpTcp(s, out);
    ASSERT_EQ(n, 20u + 20u + 40u + 5u);
    Bytes packet(out.data(), n);
    EXPECT_EQ(internetChecksum(packet.first(20)), 0);
    EXPECT_EQ(tcpChecksum(s.src, s.dst, packet.subspan(20)), 0);
    DecodeResult r = decodeIpTcp(packet);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.segment.payloadLength, 5u);
    EXPECT_EQ(r.segment.options.timestamps->value, 0xAABBCCDDu);
    ASSERT_EQ(r.segment.options.sackCount, 3);  // only three fit beside timestamps
    EXPECT_EQ(r.segment.options.sack[2].right, SeqNum(6));
    EXPECT_FALSE(r.segment.options.mss);
    EXPECT_EQ(r.segment.ipId, 0x1234);
    EXPECT_EQ(std::to_integer<int>(out[6]), 0x40);  // DF
}

// The TCP checksum over the IPv6 pseudo-header, summed the plain way (RFC 8200 8.1, RFC 1071):
// 16-bit words of source, destination, the 32-bit length and the next header, then the segment.
std::uint16_t plainV6Checksum(Bytes packet) {
    std::uint32_t sum = 0;
    auto word = [&](std::size_t at) {
        return (std::to_integer<std::uint32_t>(packet[at]) << 8) |
               std::to_integer<std::uint32_t>(packet[at + 1]);
    };
    for (std::size_t i = 8; i < 40; i += 2) sum += word(i);  // both addresses
    const std::size_t tcpLength = packet.size() - 40;
    sum += static_cast<std::uint32_t>(tcpLength >> 16) + static_cast<std::uint32_t>(tcpLength & 0xFFFF) + 6;
    for (std::size_t i = 40; i + 1 < packet.size(); i += 2) sum += word(i);
    if (packet.size() % 2 != 0) sum += std::to_integer<std::uint32_t>(packet.back()) << 8;
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);  // 0xFFFF when the stored checksum is right
}

TEST(Builder, Ipv6SegmentHasTheFixedHeaderAndAPseudoHeaderChecksum) {
    TcpSegment s = referenceSyn();
    s.src = *IpAddr::parse("2001:db8::10");
    s.dst = *IpAddr::parse("fd00:198:18::2");
    s.flags = tcpflag::kAck | tcpflag::kPsh;
    s.ttl = 63;
    ByteVec payload = bytes({'G', 'E', 'T', ' ', '/', '\r', '\n'});  // odd length
    s.payload = payload;
    std::array<std::byte, 256> out{};
    const std::size_t n = buildIpTcp(s, out);
    ASSERT_EQ(n, 40u + 20u + 12u + payload.size());  // NOP NOP timestamps
    const Bytes packet(out.data(), n);
    EXPECT_EQ(std::to_integer<int>(packet[0]), 0x60);         // version 6, class 0
    EXPECT_EQ(std::to_integer<int>(packet[1]), 0);            // flow label 0
    EXPECT_EQ(std::to_integer<int>(packet[5]), 20 + 12 + 7);  // payload length
    EXPECT_EQ(std::to_integer<int>(packet[6]), 6);            // next header TCP
    EXPECT_EQ(std::to_integer<int>(packet[7]), 63);           // hop limit
    EXPECT_EQ(std::to_integer<int>(packet[8]), 0x20);         // source 2001:db8::10
    EXPECT_EQ(std::to_integer<int>(packet[39]), 0x02);        // destination ...::2
    EXPECT_EQ(plainV6Checksum(packet), 0xFFFF);
    EXPECT_EQ(tcpChecksum(s.src, s.dst, packet.subspan(40)), 0);
    const DecodeResult r = decodeIpTcp(packet);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.segment.src, s.src);
    EXPECT_EQ(r.segment.dst, s.dst);
    EXPECT_EQ(r.segment.ttl, 63);
    EXPECT_EQ(r.segment.payloadLength, payload.size());
    EXPECT_EQ(r.segment.options.timestamps->value, 1u);
}

TEST(Builder, MixedFamiliesAreRefused) {
    TcpSegment s = referenceSyn();
    s.dst = *IpAddr::parse("fd00:198:18::2");
    std::array<std::byte, 256> out{};
    EXPECT_EQ(buildIpTcp(s, out), 0u);
}

TEST(Builder, Ipv6PayloadLengthIsTheLimitNotTheTotal) {
    // IPv6 counts 65535 bytes after its 40-byte header; IPv4 counts its header inside 65535.
    TcpSegment s = referenceSyn();
    s.src = *IpAddr::parse("2001:db8::10");
    s.dst = *IpAddr::parse("fd00:198:18::2");
    s.flags = tcpflag::kAck;
    s.options = {};
    std::vector<std::byte> payload(65535 - 20);
    s.payload = payload;
    std::vector<std::byte> out(40 + 65535 + 1);
    EXPECT_EQ(buildIpTcp(s, out), 40u + 65535u);
    payload.push_back(std::byte{0});
    s.payload = payload;
    EXPECT_EQ(buildIpTcp(s, out), 0u);
}

TEST(Builder, FourSackBlocksWithoutTimestamps) {
    TcpOptions o;
    o.sack = {SackBlock{SeqNum(1), SeqNum(2)}, SackBlock{SeqNum(3), SeqNum(4)},
              SackBlock{SeqNum(5), SeqNum(6)}, SackBlock{SeqNum(7), SeqNum(8)}};
    o.sackCount = 4;
    std::array<std::byte, 40> out{};
    ASSERT_EQ(writeTcpOptions(o, tcpflag::kAck, out), 36u);
    TcpOptions parsed;
    ASSERT_TRUE(parseTcpOptions(Bytes(out.data(), 36), parsed));
    EXPECT_EQ(parsed.sackCount, 4);
}

TEST(Builder, SynOnlyOptionsAreLeftOffOtherSegments) {
    TcpOptions o = referenceSyn().options;
    std::array<std::byte, 40> out{};
    std::size_t n = writeTcpOptions(o, tcpflag::kAck, out);
    ASSERT_EQ(n, 12u);  // NOP NOP TS only
    TcpOptions parsed;
    ASSERT_TRUE(parseTcpOptions(Bytes(out.data(), n), parsed));
    EXPECT_FALSE(parsed.mss);
    EXPECT_FALSE(parsed.windowScale);
    EXPECT_FALSE(parsed.sackPermitted);
    EXPECT_TRUE(parsed.timestamps);
}

TEST(Builder, SynOptionLayouts) {
    std::array<std::byte, 40> out{};
    TcpOptions sackOnly;
    sackOnly.sackPermitted = true;
    ASSERT_EQ(writeTcpOptions(sackOnly, tcpflag::kSyn, out), 4u);
    EXPECT_EQ(ByteVec(out.begin(), out.begin() + 4), bytes({1, 1, 4, 2}));
    TcpOptions tsOnly;
    tsOnly.timestamps = TcpTimestamps{5, 6};
    ASSERT_EQ(writeTcpOptions(tsOnly, tcpflag::kSyn | tcpflag::kAck, out), 12u);
    EXPECT_EQ(ByteVec(out.begin(), out.begin() + 12), bytes({1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6}));
    TcpOptions wsOnly;
    wsOnly.windowScale = 14;
    ASSERT_EQ(writeTcpOptions(wsOnly, tcpflag::kSyn, out), 4u);
    EXPECT_EQ(ByteVec(out.begin(), out.begin() + 4), bytes({1, 3, 3, 14}));
}

TEST(Builder, NoOptionsWritesNothing) {
    std::array<std::byte, 40> out{};
    TcpOptions none;
    none.unknownCount = 3;  // unknown options are never written
    EXPECT_EQ(writeTcpOptions(none, tcpflag::kSyn, out), 0u);
    EXPECT_EQ(writeTcpOptions(none, tcpflag::kAck, out), 0u);
}

TEST(Builder, OptionsBufferTooSmall) {
    std::array<std::byte, 8> out{};
    EXPECT_EQ(writeTcpOptions(referenceSyn().options, tcpflag::kSyn, out), 0u);
}

TEST(Builder, OutputTooSmallReturnsZero) {
    TcpSegment s = referenceSyn();
    std::array<std::byte, 59> out{};
    EXPECT_EQ(buildIpTcp(s, out), 0u);
    std::array<std::byte, 60> exact{};
    EXPECT_EQ(buildIpTcp(s, exact), 60u);
}

TEST(Builder, PayloadBeyondIpMaximumIsRefused) {
    ByteVec big(65535 - 40 + 1);
    TcpSegment s = referenceSyn();
    s.options = TcpOptions{};
    s.flags = tcpflag::kAck;
    s.payload = big;
    ByteVec out(70000);
    EXPECT_EQ(buildIpTcp(s, out), 0u);
    s.payload = Bytes(big.data(), big.size() - 1);
    EXPECT_EQ(buildIpTcp(s, out), 65535u);
}

}  // namespace
}  // namespace tcpcopy::net
