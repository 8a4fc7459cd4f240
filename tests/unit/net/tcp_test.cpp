#include <gtest/gtest.h>

#include <string_view>

#include "packets.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::net {
namespace {

using test::ByteVec;
using test::dataPacket;
using test::synPacket;

TEST(Tcp, DecodesSynHeader) {
    ByteVec p = synPacket();
    DecodeResult r = decodeIpTcp(p);
    test::expectReferenceSyn(r);
    EXPECT_EQ(r.segment.ack, SeqNum(0));
    EXPECT_EQ(r.segment.window, 64240);
    EXPECT_TRUE(r.segment.has(tcpflag::kSyn));
    EXPECT_FALSE(r.segment.has(tcpflag::kAck));
    EXPECT_EQ(r.segment.payloadLength, 0u);
    EXPECT_EQ(r.segment.seqLength(), 1u);
    EXPECT_EQ(r.segment.clientToServerKey().toString(), "192.0.2.1:40000>198.18.0.1:80");
    EXPECT_EQ(r.segment.serverToClientKey().toString(), "198.18.0.1:80>192.0.2.1:40000");
}

TEST(Tcp, DecodesDataSegmentAndPayloadView) {
    ByteVec p = dataPacket();
    DecodeResult r = decodeIpTcp(p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    const TcpSegment& s = r.segment;
    EXPECT_EQ(s.seq, SeqNum(0x01000000));
    EXPECT_EQ(s.ack, SeqNum(0x20000000));
    EXPECT_EQ(s.flags, tcpflag::kPsh | tcpflag::kAck);
    EXPECT_EQ(s.window, 502);
    EXPECT_EQ(s.payloadLength, 16u);
    ASSERT_EQ(s.payload.size(), 16u);
    EXPECT_EQ(s.payload.data(), p.data() + 52);
    std::string_view text(reinterpret_cast<const char*>(s.payload.data()), s.payload.size());
    EXPECT_EQ(text, "GET / HTTP/1.1\r\n");
    ASSERT_TRUE(s.options.timestamps);
    EXPECT_EQ(s.options.timestamps->value, 2u);
    EXPECT_EQ(s.options.timestamps->echo, 3u);
}

TEST(Tcp, AllFlagBits) {
    ByteVec p = synPacket();
    p[33] = std::byte{0xFF};
    DecodeResult r = decodeIpTcp(p);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_EQ(r.segment.flags, 0xFF);
    EXPECT_TRUE(r.segment.has(tcpflag::kCwr));
    EXPECT_TRUE(r.segment.has(tcpflag::kEce));
    EXPECT_TRUE(r.segment.has(tcpflag::kUrg));
    EXPECT_EQ(r.segment.seqLength(), 2u);  // SYN + FIN
}

TEST(Tcp, DataOffsetBelowFiveIsBad) {
    ByteVec p = synPacket();
    for (int doff = 0; doff < 5; ++doff) {
        p[32] = static_cast<std::byte>(doff << 4);
        EXPECT_EQ(decodeIpTcp(p).status, DecodeStatus::BadTcpHeader) << doff;
    }
}

TEST(Tcp, DataOffsetBeyondIpPayloadIsBad) {
    ByteVec p = synPacket();
    p[32] = std::byte{0xB0};  // 44 bytes of header in a 40-byte IP payload
    EXPECT_EQ(decodeIpTcp(p).status, DecodeStatus::BadTcpHeader);
}

TEST(Tcp, DataOffsetBeyondCapturedBytesIsTruncated) {
    ByteVec p = synPacket();
    ByteVec cut(p.begin(), p.begin() + 50);  // header says 40 bytes of TCP, 30 present
    EXPECT_EQ(decodeIpTcp(cut).status, DecodeStatus::TruncatedTcp);
    ByteVec headerOnly(p.begin(), p.begin() + 39);
    EXPECT_EQ(decodeIpTcp(headerOnly).status, DecodeStatus::TruncatedTcp);
}

TEST(Tcp, EveryTruncationOfTheHeadersFails) {
    ByteVec p = synPacket();
    for (std::size_t len = 20; len < p.size(); ++len) {
        ByteVec prefix(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(decodeIpTcp(prefix).status, DecodeStatus::TruncatedTcp) << len;
    }
}

TEST(Tcp, DecodeStatusNamesAreDistinct) {
    EXPECT_EQ(decodeStatusName(DecodeStatus::Ok), "ok");
    EXPECT_EQ(decodeStatusName(DecodeStatus::Fragment), "fragment");
    EXPECT_EQ(decodeStatusName(DecodeStatus::BadTcpOptions), "bad_tcp_options");
    std::vector<std::string_view> names;
    for (int s = 0; s <= static_cast<int>(DecodeStatus::BadTcpOptions); ++s) {
        std::string_view name = decodeStatusName(static_cast<DecodeStatus>(s));
        EXPECT_NE(name, "unknown");
        for (std::string_view other : names) EXPECT_NE(name, other);
        names.push_back(name);
    }
}

}  // namespace
}  // namespace tcpcopy::net
