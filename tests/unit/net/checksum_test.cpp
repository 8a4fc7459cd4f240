#include <gtest/gtest.h>

#include <random>

#include "packets.h"
#include "tcpcopy/net/builder.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;

// A deliberately naive RFC 1071 sum to compare the optimised one against.
std::uint16_t referenceSum(Bytes data, std::uint32_t initial = 0) {
    std::uint64_t sum = initial;
    for (std::size_t i = 0; i < data.size(); i += 2) {
        std::uint32_t hi = static_cast<std::uint8_t>(data[i]);
        std::uint32_t lo = i + 1 < data.size() ? static_cast<std::uint8_t>(data[i + 1]) : 0;
        sum += (hi << 8) | lo;
    }
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

TEST(Checksum, Rfc1071Example) {
    ByteVec data = bytes({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
    EXPECT_EQ(onesComplementSum(data), 0xddf2);
    EXPECT_EQ(internetChecksum(data), 0x220d);
}

TEST(Checksum, EmptyAndOddLengths) {
    EXPECT_EQ(onesComplementSum({}), 0);
    EXPECT_EQ(internetChecksum({}), 0xFFFF);
    EXPECT_EQ(onesComplementSum(bytes({0xAB})), 0xAB00);
    EXPECT_EQ(onesComplementSum(bytes({0x12, 0x34, 0x56})), 0x1234 + 0x5600);
    EXPECT_EQ(onesComplementSum({}, 0x1FFFF), 0x0001);  // the initial value is folded too
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
    std::mt19937 rng(1071);
    ByteVec buf(300);
    for (auto& b : buf) b = static_cast<std::byte>(rng());
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t len = 0; len + offset <= buf.size(); ++len) {
            Bytes view(buf.data() + offset, len);
            std::uint32_t initial = rng() & 0x3FFFF;
            ASSERT_EQ(onesComplementSum(view, initial), referenceSum(view, initial)) << offset << "/" << len;
        }
    }
}

TEST(Checksum, AllOnesDataCarries) {
    ByteVec data(1500, std::byte{0xFF});
    EXPECT_EQ(onesComplementSum(data), referenceSum(data));
    EXPECT_EQ(internetChecksum(data), 0);
}

TEST(Checksum, ValidHeaderSumsToAllOnes) {
    ByteVec p = test::synPacket();
    EXPECT_EQ(onesComplementSum(Bytes(p.data(), 20)), 0xFFFF);
    EXPECT_EQ(internetChecksum(Bytes(p.data(), 20)), 0);
}

TEST(Checksum, TcpChecksumOfReferencePackets) {
    for (const ByteVec& p : {test::synPacket(), test::dataPacket()}) {
        std::uint16_t stored =
            static_cast<std::uint16_t>((std::to_integer<int>(p[36]) << 8) | std::to_integer<int>(p[37]));
        ByteVec tcp(p.begin() + 20, p.end());
        tcp[16] = tcp[17] = std::byte{0};
        EXPECT_EQ(tcpChecksumV4(Ipv4Addr::fromOctets(192, 0, 2, 1), Ipv4Addr::fromOctets(198, 18, 0, 1), tcp),
                  stored);
    }
}

TEST(Checksum, TcpChecksumOddPayload) {
    // 21-byte segment: header plus one payload byte; checked against the naive sum.
    ByteVec tcp(21, std::byte{0});
    tcp[0] = std::byte{0x9c};
    tcp[12] = std::byte{0x50};
    tcp[20] = std::byte{'x'};
    Ipv4Addr src(0x0A000001), dst(0xC6120001);
    std::uint32_t pseudo = 0x0A00 + 0x0001 + 0xC612 + 0x0001 + 6 + 21;
    EXPECT_EQ(tcpChecksumV4(src, dst, tcp), static_cast<std::uint16_t>(~referenceSum(tcp, pseudo)));
}

TEST(Checksum, IncrementalUpdate16MatchesRecompute) {
    std::mt19937 rng(1624);
    ByteVec header = test::synPacket();
    header.resize(20);
    for (int round = 0; round < 2000; ++round) {
        std::size_t field = (rng() % 10) * 2;
        if (field == 10) continue;  // the checksum field itself
        header[10] = header[11] = std::byte{0};
        std::uint16_t check = internetChecksum(header);
        std::uint16_t oldValue = static_cast<std::uint16_t>((std::to_integer<int>(header[field]) << 8) |
                                                            std::to_integer<int>(header[field + 1]));
        std::uint16_t newValue = static_cast<std::uint16_t>(rng());
        if (field == 0)
            newValue = static_cast<std::uint16_t>(0x4500 | (newValue & 0xFF));  // keep it non-zero
        header[field] = static_cast<std::byte>(newValue >> 8);
        header[field + 1] = static_cast<std::byte>(newValue);
        std::uint16_t updated = checksumUpdate16(check, oldValue, newValue);
        ASSERT_EQ(updated, internetChecksum(header)) << "round " << round;
    }
}

TEST(Checksum, IncrementalUpdate32MatchesRecompute) {
    // Rewrite the destination address of the reference SYN and the TCP checksum must follow.
    ByteVec p = test::synPacket();
    std::uint16_t tcpCheck =
        static_cast<std::uint16_t>((std::to_integer<int>(p[36]) << 8) | std::to_integer<int>(p[37]));
    std::uint16_t ipCheck =
        static_cast<std::uint16_t>((std::to_integer<int>(p[10]) << 8) | std::to_integer<int>(p[11]));
    Ipv4Addr oldDst = Ipv4Addr::fromOctets(198, 18, 0, 1);
    Ipv4Addr newDst = Ipv4Addr::fromOctets(198, 19, 255, 254);
    std::uint16_t newTcpCheck = checksumUpdate32(tcpCheck, oldDst.value(), newDst.value());
    std::uint16_t newIpCheck = checksumUpdate32(ipCheck, oldDst.value(), newDst.value());
    ByteVec tcp(p.begin() + 20, p.end());
    tcp[16] = tcp[17] = std::byte{0};
    EXPECT_EQ(newTcpCheck, tcpChecksumV4(Ipv4Addr::fromOctets(192, 0, 2, 1), newDst, tcp));
    ByteVec ip(p.begin(), p.begin() + 20);
    ip[16] = std::byte{198};
    ip[17] = std::byte{19};
    ip[18] = std::byte{255};
    ip[19] = std::byte{254};
    ip[10] = ip[11] = std::byte{0};
    EXPECT_EQ(newIpCheck, internetChecksum(ip));
}

TEST(Checksum, IncrementalUpdateNoChangeIsIdentity) {
    EXPECT_EQ(checksumUpdate16(0x1234, 0xABCD, 0xABCD), 0x1234);
    EXPECT_EQ(checksumUpdate32(0x1234, 0xDEADBEEF, 0xDEADBEEF), 0x1234);
}

}  // namespace
}  // namespace tcpcopy::net
