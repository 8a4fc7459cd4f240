// Packet framing: pieces of any size, headers split across pieces, empty and maximal packets,
// >16 MiB messages, and the bounds-checked reader.

#include "tcpcopy/protocol/mysql_packet.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

TEST(MysqlFraming, PacketsComeOutWhateverThePieces) {
    const Bytes stream =
        concat({packet(0, toBytes("\x03SELECT 1")), packet(1, {}), packet(7, toBytes("ab"))});
    for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
        PacketAssembler assembler;
        std::vector<Packet> packets;
        for (std::size_t offset = 0; offset < stream.size(); offset += piece) {
            assembler.feed(ByteView(stream).subspan(offset, std::min(piece, stream.size() - offset)));
            while (auto p = assembler.next()) {
                packets.push_back(std::move(*p));
            }
        }
        ASSERT_EQ(packets.size(), 3u) << "piece " << piece;
        EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
        EXPECT_EQ(packets[1].seq, 1);
        EXPECT_TRUE(packets[1].payload.empty());
        EXPECT_EQ(packets[2].seq, 7);
        EXPECT_EQ(toString(packets[2].payload), "ab");
        EXPECT_EQ(assembler.buffered(), 0u);
    }
}

TEST(MysqlFraming, IncompletePacketWaits) {
    PacketAssembler assembler;
    assembler.feed(bytesOf({0x05, 0x00, 0x00}));
    EXPECT_FALSE(assembler.next());
    assembler.feed(bytesOf({0x00, 'a', 'b', 'c', 'd'}));
    EXPECT_FALSE(assembler.next());
    EXPECT_EQ(assembler.buffered(), 8u);
    assembler.feed(bytesOf({'e'}));
    const auto p = assembler.next();
    ASSERT_TRUE(p);
    EXPECT_EQ(toString(p->payload), "abcde");
}

TEST(MysqlFraming, MessageOfSixteenMebibytesIsCutAndReassembled) {
    Bytes payload(kMaxPacketPayload + 10, std::byte{'x'});
    payload[0] = std::byte{0x03};
    Bytes wire;
    EXPECT_EQ(appendMessage(wire, 0, payload), 2);
    ASSERT_EQ(wire.size(), payload.size() + 2 * kHeaderSize);
    EXPECT_EQ(wire[0], std::byte{0xFF});
    EXPECT_EQ(wire[3], std::byte{0});
    EXPECT_EQ(wire[kHeaderSize + kMaxPacketPayload + 3], std::byte{1});

    PacketAssembler assembler;
    assembler.feed(wire);
    const auto first = assembler.next();
    const auto second = assembler.next();
    ASSERT_TRUE(first && second);
    EXPECT_FALSE(first->continuation);
    EXPECT_TRUE(second->continuation);
    EXPECT_EQ(second->payload.size(), 10u);
}

TEST(MysqlFraming, ExactlyMaximalMessageEndsWithEmptyPacket) {
    const Bytes payload(kMaxPacketPayload, std::byte{'y'});
    Bytes wire;
    EXPECT_EQ(appendMessage(wire, 3, payload), 5);
    ASSERT_EQ(wire.size(), kMaxPacketPayload + 2 * kHeaderSize);
    EXPECT_EQ(ByteView(wire).last(4)[3], std::byte{4});

    PacketAssembler assembler;
    assembler.feed(wire);
    assembler.next();
    const auto terminator = assembler.next();
    ASSERT_TRUE(terminator);
    EXPECT_TRUE(terminator->payload.empty());
    EXPECT_TRUE(terminator->continuation);
    // The packet after a short one starts a new message.
    assembler.feed(packet(0, toBytes("\x0e")));
    EXPECT_FALSE(assembler.next()->continuation);
}

TEST(MysqlReader, LengthEncodedIntegersRoundTrip) {
    for (const std::uint64_t v :
         {0ull, 250ull, 251ull, 0xFFFFull, 0x10000ull, 0xFFFFFFull, 0x1000000ull, 0xFFFFFFFFFFFFFFFFull}) {
        Bytes out;
        putLenenc(out, v);
        Reader r(out);
        EXPECT_EQ(r.lenenc(), v);
        EXPECT_FALSE(r.failed());
        EXPECT_EQ(r.remaining(), 0u);
    }
}

TEST(MysqlReader, ShortReadsFailInsteadOfReadingPastTheEnd) {
    const Bytes data = bytesOf({0xFC, 0x01});
    Reader r(data);
    r.lenenc();
    EXPECT_TRUE(r.failed());

    const Bytes string = bytesOf({0x05, 'a', 'b'});
    Reader s(string);
    EXPECT_TRUE(s.lenencBytes().empty());
    EXPECT_TRUE(s.failed());

    const Bytes unterminated = toBytes("abc");
    Reader t(unterminated);
    t.nulTerminated();
    EXPECT_TRUE(t.failed());

    const Bytes nullMarker = bytesOf({0xFB});
    Reader u(nullMarker);
    u.lenenc();
    EXPECT_TRUE(u.failed());
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
