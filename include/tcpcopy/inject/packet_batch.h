#pragma once
// PacketBatch: packets built in place into one arena and handed to an Injector together, in the
// order they were queued, with one sendBatch() call (sendmmsg for the real injectors).
//
//     inject::PacketBatch batch(injector);
//     net::MutableBytes room = batch.reserve(net::kMaxHeadersLen + payload.size());
//     batch.commit(net::buildIpTcp(segment, room));   // 0: nothing queued
//     ...
//     batch.flush();                                      // at the end of the loop turn
//
// The batch flushes by itself when a commit fills it (Limits::maxPackets) and when a reserve()
// would not fit in what is left of the arena, so nothing waits beyond the caller's flush() and
// nothing is lost or reordered. Errors are the injector's: counted in its counters(). Reserving
// and committing allocate nothing once the batch is constructed.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::inject {

struct PacketBatchLimits {
    std::size_t maxPackets = 256;        // a commit that reaches this many flushes at once
    std::size_t arenaBytes = 512 << 10;  // bytes of packet data held before a flush
};

struct PacketBatchCounters {
    std::uint64_t flushes = 0;      // sendBatch calls made
    std::uint64_t fullFlushes = 0;  // of them, made because the batch or its arena was full
};

class PacketBatch {
  public:
    // The injector must outlive the batch. Precondition: limits are non-zero.
    explicit PacketBatch(Injector& injector, PacketBatchLimits limits = {});
    PacketBatch(const PacketBatch&) = delete;
    PacketBatch& operator=(const PacketBatch&) = delete;

    // Writable room for one packet of up to `bytes` bytes, queued after every packet before it.
    // Flushes first when the arena has less room left. Empty when `bytes` exceeds the arena.
    // The room is valid until the next reserve()/commit()/flush().
    net::MutableBytes reserve(std::size_t bytes);
    // Queues the first `size` bytes of the last reserve()'s room (size 0 queues nothing).
    // Flushes when the batch now holds maxPackets packets.
    void commit(std::size_t size);
    // Hands every queued packet to the injector in one sendBatch(); returns how many were sent.
    std::size_t flush();

    std::size_t pending() const { return ends_.size(); }
    bool empty() const { return ends_.empty(); }
    const PacketBatchCounters& counters() const { return counters_; }

  private:
    std::size_t flushNow();

    Injector& injector_;
    PacketBatchLimits limits_;
    std::vector<std::byte> arena_;
    std::vector<std::size_t> ends_;  // end offset in arena_ of each queued packet
    std::vector<net::Bytes> views_;  // rebuilt for each flush, capacity kept
    std::size_t used_ = 0;           // arena bytes taken by queued packets
    std::size_t reserved_ = 0;       // size of the last reserve(), 0 when none is open
    PacketBatchCounters counters_;
};

}  // namespace tcpcopy::inject
