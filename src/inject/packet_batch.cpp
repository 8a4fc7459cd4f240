#include "tcpcopy/inject/packet_batch.h"

#include <cstdlib>

namespace tcpcopy::inject {

PacketBatch::PacketBatch(Injector& injector, PacketBatchLimits limits)
    : injector_(injector), limits_(limits), arena_(limits.arenaBytes) {
    if (limits.maxPackets == 0 || limits.arenaBytes == 0) std::abort();  // a programming error
    ends_.reserve(limits.maxPackets);
    views_.reserve(limits.maxPackets);
}

net::MutableBytes PacketBatch::reserve(std::size_t bytes) {
    reserved_ = 0;
    if (bytes > arena_.size()) return {};
    if (arena_.size() - used_ < bytes) {
        ++counters_.fullFlushes;
        flushNow();
    }
    reserved_ = bytes;
    return net::MutableBytes(arena_.data() + used_, bytes);
}

void PacketBatch::commit(std::size_t size) {
    if (size == 0 || size > reserved_) {
        reserved_ = 0;
        return;
    }
    reserved_ = 0;
    used_ += size;
    ends_.push_back(used_);
    if (ends_.size() >= limits_.maxPackets) {
        ++counters_.fullFlushes;
        flushNow();
    }
}

std::size_t PacketBatch::flush() {
    reserved_ = 0;
    return flushNow();
}

std::size_t PacketBatch::flushNow() {
    if (ends_.empty()) return 0;
    views_.clear();
    std::size_t start = 0;
    for (std::size_t end : ends_) {
        views_.emplace_back(arena_.data() + start, end - start);
        start = end;
    }
    ++counters_.flushes;
    const std::size_t sent = injector_.sendBatch(views_);
    ends_.clear();
    used_ = 0;
    return sent;
}

}  // namespace tcpcopy::inject
