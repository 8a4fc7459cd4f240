#include <gtest/gtest.h>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::bytes;
using test::ByteVec;

TEST(TcpOptions, ParsesSynOptionSet) {
    ByteVec area = bytes({0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
                          0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07});
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    EXPECT_EQ(o.mss, 1460);
    EXPECT_EQ(o.windowScale, 7);
    EXPECT_TRUE(o.sackPermitted);
    ASSERT_TRUE(o.timestamps);
    EXPECT_EQ(o.timestamps->value, 1u);
    EXPECT_EQ(o.timestamps->echo, 0u);
    EXPECT_EQ(o.sackCount, 0);
    EXPECT_EQ(o.unknownCount, 0);
    EXPECT_EQ(o.raw.data(), area.data());
    EXPECT_EQ(o.raw.size(), area.size());
}

TEST(TcpOptions, ParsesSackBlocks) {
    ByteVec area = bytes({0x01, 0x01, 0x05, 0x12,                            // NOP NOP SACK len 18
                          0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00,    // 4096-8192
                          0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00});  // wraps
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    ASSERT_EQ(o.sackCount, 2);
    EXPECT_EQ(o.sack[0].left, SeqNum(4096));
    EXPECT_EQ(o.sack[0].right, SeqNum(8192));
    EXPECT_EQ(o.sack[1].left, SeqNum(0xffffff00u));
    EXPECT_EQ(o.sack[1].right, SeqNum(256));
    EXPECT_TRUE(seqLt(o.sack[1].left, o.sack[1].right));
}

TEST(TcpOptions, ParsesFourSackBlocks) {
    ByteVec area = bytes({0x05, 34});
    for (int b = 0; b < 8; ++b) {
        for (int v : {0, 0, 0, b + 1}) area.push_back(static_cast<std::byte>(v));
    }
    area.push_back(std::byte{1});
    area.push_back(std::byte{1});
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    ASSERT_EQ(o.sackCount, 4);
    EXPECT_EQ(o.sack[3].left, SeqNum(7));
    EXPECT_EQ(o.sack[3].right, SeqNum(8));
}

TEST(TcpOptions, EolStopsParsingAndPaddingIsIgnored) {
    ByteVec area = bytes({0x02, 0x04, 0x05, 0xb4, 0x00, 0x03, 0xff, 0xff});  // junk after EOL
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    EXPECT_EQ(o.mss, 1460);
    EXPECT_FALSE(o.windowScale);
    EXPECT_EQ(o.raw.size(), 8u);
}

TEST(TcpOptions, CountsAndPreservesUnknownOptions) {
    // TCP-AO style kind 29 len 6, MPTCP kind 30 len 4, experimental 254 len 4, then WS.
    ByteVec area = bytes({29, 6, 1, 2, 3, 4, 30, 4, 0x10, 0x00, 254, 4, 0xf9, 0x89, 1, 3, 3, 2});
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    EXPECT_EQ(o.unknownCount, 3);
    EXPECT_EQ(o.windowScale, 2);
    ASSERT_EQ(o.raw.size(), area.size());
    EXPECT_TRUE(std::equal(o.raw.begin(), o.raw.end(), area.begin()));
}

TEST(TcpOptions, ModelledKindWithWrongLengthIsIgnoredAndCounted) {
    ByteVec area = bytes({2, 3, 5, 3, 4, 1, 1, 1, 8, 6, 0, 0, 0, 1});  // MSS len 3, WS len 4, TS len 6
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    EXPECT_FALSE(o.mss);
    EXPECT_FALSE(o.windowScale);
    EXPECT_FALSE(o.timestamps);
    EXPECT_EQ(o.unknownCount, 3);
    ByteVec badSack = bytes({5, 7, 0, 0, 0, 1, 0});  // not 2 + 8n
    ASSERT_TRUE(parseTcpOptions(badSack, o));
    EXPECT_EQ(o.sackCount, 0);
    EXPECT_EQ(o.unknownCount, 1);
}

TEST(TcpOptions, ResetsOutput) {
    TcpOptions o;
    o.mss = 1;
    o.sackCount = 3;
    o.unknownCount = 9;
    ASSERT_TRUE(parseTcpOptions({}, o));
    EXPECT_FALSE(o.mss);
    EXPECT_EQ(o.sackCount, 0);
    EXPECT_EQ(o.unknownCount, 0);
}

TEST(TcpOptions, UnknownCountSaturates) {
    ByteVec area;
    for (int i = 0; i < 300; ++i) {
        for (int b : {99, 2}) area.push_back(static_cast<std::byte>(b));
    }
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    EXPECT_EQ(o.unknownCount, 255);
}

TEST(TcpOptions, RejectsLengthsThatRunPastTheArea) {
    TcpOptions o;
    EXPECT_FALSE(parseTcpOptions(bytes({2}), o));        // kind without length
    EXPECT_FALSE(parseTcpOptions(bytes({2, 4, 5}), o));  // MSS cut short
    EXPECT_FALSE(parseTcpOptions(bytes({1, 1, 8, 10, 0, 0}), o));
    EXPECT_FALSE(parseTcpOptions(bytes({99, 0}), o));        // length 0 would loop forever
    EXPECT_FALSE(parseTcpOptions(bytes({99, 1, 1, 1}), o));  // length 1 is impossible
    EXPECT_FALSE(parseTcpOptions(bytes({5, 255, 0, 0}), o));
}

TEST(TcpOptions, EveryTruncationOfAnOptionFails) {
    ByteVec area = bytes({0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2});
    TcpOptions o;
    ASSERT_TRUE(parseTcpOptions(area, o));
    for (std::size_t len = 1; len < area.size(); ++len) {
        ByteVec prefix(area.begin(), area.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_FALSE(parseTcpOptions(prefix, o)) << len;
    }
}

TEST(TcpOptions, BadOptionsInAPacketReportStatus) {
    ByteVec p = test::synPacket();
    p[41] = std::byte{30};  // MSS length runs past the 20-byte option area
    EXPECT_EQ(decodeIpTcp(p).status, DecodeStatus::BadTcpOptions);
}

}  // namespace
}  // namespace tcpcopy::net
