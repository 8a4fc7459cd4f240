// ClientStream: the captured client bytes of one session reassembled, with their marks.

#include "tcpcopy/session/client_stream.h"

#include <gtest/gtest.h>

#include <string>

#include "sim_target.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {
namespace {

std::string text(net::Bytes b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

class ClientStreamTest : public ::testing::Test {
  protected:
    ClientStreamTest() : client("192.0.2.10", 40000, "192.0.2.1", 80, 1000, 500000) {
        stream.startAfterSyn(client.syn().seq);
        stream.add(client.handshakeAck(), now, stats);
    }
    Time now{std::chrono::seconds(1)};
    EngineStats stats;
    CapturedClient client;
    ClientStream stream;
};

TEST_F(ClientStreamTest, RequestsBecomeBytesWithAPacingMarkEach) {
    EXPECT_EQ(stream.add(client.data("GET /a\r\n\r\n", 0), now, stats), AddResult::Appended);
    EXPECT_EQ(stream.add(client.data("GET /b\r\n\r\n", 300), now, stats), AddResult::Appended);
    EXPECT_EQ(stream.end(), 20u);
    EXPECT_EQ(text(stream.bytes(0, 20)), "GET /a\r\n\r\nGET /b\r\n\r\n");
    // The handshake ACK's window first (a window-only mark), then one mark per request.
    ASSERT_EQ(stream.marks().size(), 3u);
    EXPECT_EQ(stream.marks().front().window, 502);
    EXPECT_FALSE(stream.marks().front().request);
    stream.marks().pop_front();
    EXPECT_EQ(stream.marks().front().requiredServerBytes, 0);
    EXPECT_TRUE(stream.marks().front().request);
    stream.marks().pop_front();
    EXPECT_EQ(stream.marks().front().offset, 10u);
    EXPECT_EQ(stream.marks().front().requiredServerBytes, 300) << "after the 300-byte response";
    EXPECT_EQ(stream.sendLimit(), 10u) << "sending stops at the mark";
}

TEST_F(ClientStreamTest, DuplicatesAndOverlapsAreTakenOnce) {
    CapturedClient copy = client;
    const TcpSegment a = client.data("0123456789", 0);
    EXPECT_EQ(stream.add(a, now, stats), AddResult::Appended);
    EXPECT_EQ(stream.add(a, now, stats), AddResult::Appended) << "a retransmission is counted, not added";
    EXPECT_EQ(stream.end(), 10u);
    EXPECT_EQ(stats.captureRetransmissions, 1u);
    // Overlap: bytes 5..14 where 0..9 are in.
    TcpSegment overlap = copy.data("0123456789", 0);
    std::string shifted = "56789abcde";
    overlap.seq = overlap.seq + 5;
    overlap.payload = net::Bytes(reinterpret_cast<const std::byte*>(shifted.data()), shifted.size());
    stream.add(overlap, now, stats);
    EXPECT_EQ(text(stream.bytes(0, static_cast<std::uint32_t>(stream.end()))), "0123456789abcde");
}

TEST_F(ClientStreamTest, OutOfOrderSegmentsWaitForTheHoleThenJoin) {
    const TcpSegment first = client.data("first.", 0);
    const TcpSegment second = client.data("second", 0);
    EXPECT_EQ(stream.add(second, now, stats), AddResult::OutOfOrder);
    EXPECT_TRUE(stream.hasHole());
    EXPECT_EQ(stream.holeSince(), now);
    EXPECT_EQ(stream.end(), 0u);
    EXPECT_GT(stream.heldBytes(), 0u);
    EXPECT_EQ(stream.add(first, now, stats), AddResult::Appended);
    EXPECT_FALSE(stream.hasHole());
    EXPECT_EQ(text(stream.bytes(0, 12)), "first.second");
    EXPECT_EQ(stats.captureOutOfOrder, 1u);
}

TEST_F(ClientStreamTest, ReleasedBytesLeaveMemory) {
    stream.add(client.data(std::string(100000, 'x'), 0), now, stats);
    EXPECT_GE(stream.footprint(), 100000u);
    stream.release(100000);
    EXPECT_EQ(stream.base(), 100000u);
    EXPECT_LT(stream.footprint(), 16u * 1024);
}

TEST_F(ClientStreamTest, PacingSurvivesMoreThanFourGigabytesOfServerData) {
    // The captured client acknowledges server data past 2^32 bytes: offsets stay 64-bit.
    constexpr std::uint64_t kStep = 1u << 30;  // 1 GiB of response per request
    std::uint64_t acked = 0;
    for (int i = 0; i < 6; ++i) {
        TcpSegment seg = client.data("GET /next\r\n\r\n", 0);
        acked += kStep;
        seg.ack = net::SeqNum(static_cast<std::uint32_t>(500001 + acked));
        stream.add(seg, now, stats);
    }
    std::int64_t last = -1;
    std::size_t marks = 0;
    stream.marks().pop_front();  // the handshake ACK's window
    while (!stream.marks().empty()) {
        const Mark& m = stream.marks().front();
        EXPECT_GT(m.requiredServerBytes, last) << "mark " << marks;
        last = m.requiredServerBytes;
        stream.marks().pop_front();
        ++marks;
    }
    EXPECT_EQ(marks, 6u);
    EXPECT_EQ(static_cast<std::uint64_t>(last), 6 * kStep);
}

}  // namespace
}  // namespace tcpcopy::session::testing
