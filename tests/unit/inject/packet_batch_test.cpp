#include "tcpcopy/inject/packet_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tcpcopy::inject {
namespace {

// A well-formed IPv4 header of `size` bytes whose identification field carries `id`.
std::size_t writePacket(net::MutableBytes room, std::size_t size, std::uint16_t id) {
    std::memset(room.data(), 0, size);
    room[0] = std::byte{0x45};
    room[2] = static_cast<std::byte>(size >> 8);
    room[3] = static_cast<std::byte>(size & 0xff);
    room[4] = static_cast<std::byte>(id >> 8);
    room[5] = static_cast<std::byte>(id & 0xff);
    return size;
}

std::vector<std::uint16_t> ids(const RecordingInjector& injector) {
    std::vector<std::uint16_t> out;
    for (const auto& p : injector.packets()) {
        out.push_back(static_cast<std::uint16_t>((std::to_integer<unsigned>(p[4]) << 8) |
                                                 std::to_integer<unsigned>(p[5])));
    }
    return out;
}

void queue(PacketBatch& batch, std::uint16_t id, std::size_t size = 60) {
    batch.commit(writePacket(batch.reserve(size), size, id));
}

TEST(PacketBatch, HoldsPacketsUntilFlushThenSendsThemInOneBatchInOrder) {
    RecordingInjector injector;
    PacketBatch batch(injector);
    for (std::uint16_t id = 1; id <= 5; ++id) queue(batch, id);
    EXPECT_EQ(batch.pending(), 5u);
    EXPECT_TRUE(injector.packets().empty());
    EXPECT_EQ(batch.flush(), 5u);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(injector.batches(), std::vector<std::size_t>{5});
    EXPECT_EQ(ids(injector), (std::vector<std::uint16_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(batch.flush(), 0u);  // nothing queued: no call
    EXPECT_EQ(injector.batches().size(), 1u);
    EXPECT_EQ(batch.counters().flushes, 1u);
}

TEST(PacketBatch, CommitThatFillsTheBatchSendsIt) {
    RecordingInjector injector;
    PacketBatch batch(injector, {.maxPackets = 3, .arenaBytes = 4096});
    for (std::uint16_t id = 1; id <= 7; ++id) queue(batch, id);
    EXPECT_EQ(injector.batches(), (std::vector<std::size_t>{3, 3}));
    EXPECT_EQ(batch.pending(), 1u);
    batch.flush();
    EXPECT_EQ(ids(injector), (std::vector<std::uint16_t>{1, 2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(batch.counters().fullFlushes, 2u);
    EXPECT_EQ(batch.counters().flushes, 3u);
}

TEST(PacketBatch, ReserveFlushesWhenTheArenaLacksRoom) {
    RecordingInjector injector;
    PacketBatch batch(injector, {.maxPackets = 100, .arenaBytes = 1000});
    queue(batch, 1, 400);
    queue(batch, 2, 400);
    EXPECT_TRUE(injector.packets().empty());
    queue(batch, 3, 400);  // 200 bytes left: the first two go first
    EXPECT_EQ(injector.batches(), std::vector<std::size_t>{2});
    batch.flush();
    EXPECT_EQ(ids(injector), (std::vector<std::uint16_t>{1, 2, 3}));
}

TEST(PacketBatch, OnlyTheCommittedBytesAreSent) {
    RecordingInjector injector;
    PacketBatch batch(injector);
    net::MutableBytes room = batch.reserve(1500);
    ASSERT_EQ(room.size(), 1500u);
    batch.commit(writePacket(room, 40, 9));
    batch.commit(writePacket(batch.reserve(1500), 52, 10));
    batch.flush();
    ASSERT_EQ(injector.packets().size(), 2u);
    EXPECT_EQ(injector.packets()[0].size(), 40u);
    EXPECT_EQ(injector.packets()[1].size(), 52u);
}

TEST(PacketBatch, RefusesMoreThanTheArenaAndQueuesNothingForAnEmptyCommit) {
    RecordingInjector injector;
    PacketBatch batch(injector, {.maxPackets = 8, .arenaBytes = 1000});
    EXPECT_TRUE(batch.reserve(1001).empty());
    batch.commit(0);
    EXPECT_TRUE(batch.empty());
    batch.reserve(100);
    batch.commit(0);  // the build failed: nothing queued
    EXPECT_TRUE(batch.empty());
    batch.commit(50);  // no open reservation: ignored
    EXPECT_TRUE(batch.empty());
}

TEST(PacketBatch, FailedPacketsAreTheInjectorsErrorsAndTheRestStillGo) {
    RecordingInjector injector;
    PacketBatch batch(injector);
    for (std::uint16_t id = 1; id <= 4; ++id) queue(batch, id);
    injector.failNext(1);
    EXPECT_EQ(batch.flush(), 3u);
    EXPECT_EQ(injector.counters().errors, 1u);
    EXPECT_EQ(ids(injector), (std::vector<std::uint16_t>{2, 3, 4}));
}

}  // namespace
}  // namespace tcpcopy::inject
