// StreamAssembler: one direction in order, whatever the capture or the tunnel did to it.

#include "tcpcopy/diff/stream.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace tcpcopy::diff::testing {
namespace {

class Collect : public ChunkSink {
  public:
    void onChunk(const Chunk& c) override {
        EXPECT_EQ(c.offset, next) << "chunks must be contiguous";
        next = c.offset + c.length;
        text += std::string(reinterpret_cast<const char*>(c.data.data()), c.data.size());
        text += std::string(c.length - c.data.size(), '?');  // a gap
    }
    void onEnd(Time t) override {
        ended = true;
        endTime = t;
    }
    std::uint64_t next = 0;
    std::string text;
    bool ended = false;
    Time endTime{0};
};

net::TcpSegment seg(std::uint32_t seq, std::string_view payload, std::uint8_t flags = net::tcpflag::kAck,
                    std::size_t known = std::string_view::npos) {
    net::TcpSegment s;
    s.seq = net::SeqNum(seq);
    s.flags = flags;
    s.payloadLength = static_cast<std::uint32_t>(payload.size());
    s.payload = asBytes(payload.substr(0, std::min(known, payload.size())));
    return s;
}

TEST(StreamAssembler, DeliversInOrderAndDropsDuplicates) {
    StreamAssembler a;
    Collect c;
    a.add(seg(100, "", net::tcpflag::kSyn), 0ns, c);
    a.add(seg(101, "hello "), 1ns, c);
    a.add(seg(101, "hello "), 2ns, c);  // retransmission
    a.add(seg(104, "lo wor"), 3ns, c);  // overlaps: only "wor" is new
    a.add(seg(110, "ld", net::tcpflag::kFin | net::tcpflag::kAck), 4ns, c);
    EXPECT_EQ(c.text, "hello world");
    EXPECT_TRUE(c.ended);
    EXPECT_EQ(a.stats().duplicateBytes, 9u);
}

TEST(StreamAssembler, HoldsReorderedSegmentsUntilTheHoleFills) {
    StreamAssembler a;
    Collect c;
    a.start(net::SeqNum(0xFFFFFFFAu));  // the stream wraps the sequence space
    a.add(seg(0xFFFFFFFBu + 6, "world"), 1ns, c);
    a.add(seg(0xFFFFFFFBu + 11, "", net::tcpflag::kFin), 2ns, c);
    EXPECT_EQ(c.text, "");
    a.add(seg(0xFFFFFFFBu, "hello "), 3ns, c);
    EXPECT_EQ(c.text, "hello world");
    EXPECT_TRUE(c.ended);
    EXPECT_EQ(a.stats().outOfOrder, 2u);
}

TEST(StreamAssembler, GivesUpAHoleBeyondItsBoundsAndDeliversItAsAGap) {
    StreamAssembler a({.maxHeldBytes = 8, .maxHeldSegments = 4});
    Collect c;
    a.start(net::SeqNum(0));
    a.add(seg(1, "ab"), 1ns, c);
    a.add(seg(5, "efgh"), 2ns, c);  // "cd" was never captured
    a.add(seg(9, "ijkl"), 3ns, c);
    EXPECT_EQ(c.text, "ab");
    a.add(seg(13, "m"), 4ns, c);  // 9 bytes held: over the bound
    EXPECT_EQ(c.text, "ab??efghijklm");
    EXPECT_EQ(a.stats().holeBytes, 2u);
    EXPECT_EQ(a.heldBytes(), 0u);
}

TEST(StreamAssembler, TruncatedPayloadsBecomeGapsAndFlushEndsTheStream) {
    StreamAssembler a;
    Collect c;
    a.add(seg(0, "", net::tcpflag::kSyn), 0ns, c);
    a.add(seg(1, "0123456789", net::tcpflag::kAck, 4), 1ns, c);
    a.add(seg(21, "xyz"), 2ns, c);  // held behind a hole
    a.flush(5ns, c);
    EXPECT_EQ(c.text, "0123??????" + std::string(10, '?') + "xyz");
    EXPECT_TRUE(c.ended);
    EXPECT_EQ(c.endTime, 5ns);
}

TEST(StreamAssembler, CountsDataBeforeTheStartAndEndsOnReset) {
    StreamAssembler a;
    Collect c;
    a.add(seg(50, "early"), 0ns, c);
    EXPECT_EQ(a.stats().beforeStart, 1u);
    a.start(net::SeqNum(49));
    a.add(seg(50, "late"), 1ns, c);
    a.add(seg(60, "held"), 2ns, c);
    a.add(seg(54, "", net::tcpflag::kRst), 3ns, c);
    EXPECT_TRUE(c.ended);
    EXPECT_EQ(c.text, "late??????held");
    a.add(seg(64, "more"), 4ns, c);
    EXPECT_EQ(c.text, "late??????held");
}

}  // namespace
}  // namespace tcpcopy::diff::testing
