#include "tcpcopy/diff/stream.h"

#include <algorithm>

namespace tcpcopy::diff {

void StreamAssembler::start(net::SeqNum isn) {
    if (started_) return;
    base_ = isn + 1;
    started_ = true;
}

void StreamAssembler::add(const net::TcpSegment& seg, Time time, ChunkSink& sink) {
    if (seg.has(net::tcpflag::kSyn)) start(seg.seq);
    const bool fin = seg.has(net::tcpflag::kFin);
    const bool rst = seg.has(net::tcpflag::kRst);
    if (seg.payloadLength == 0 && !fin && !rst) return;
    if (!started_) {
        ++stats_.beforeStart;
        return;
    }
    if (ended_) return;
    ++stats_.segments;
    if (rst) {  // the connection is gone: what is held is all there will be
        flush(time, sink);
        return;
    }
    const net::SeqNum dataSeq = seg.seq + (seg.has(net::tcpflag::kSyn) ? 1u : 0u);
    const std::int64_t distance = dataSeq.distanceFrom(base_ + static_cast<std::uint32_t>(next_));
    if (distance < 0 && static_cast<std::uint64_t>(-distance) > next_) return;  // before the stream
    const std::uint64_t offset = next_ + distance;
    const std::uint64_t length = seg.payloadLength;
    const net::Bytes known = seg.payload.first(std::min<std::size_t>(seg.payload.size(), length));
    if (offset <= next_) {
        const std::uint64_t skip = next_ - offset;
        if (skip > length || (skip == length && !fin)) {
            stats_.duplicateBytes += length;
            return;
        }
        stats_.duplicateBytes += skip;
        const net::Bytes rest =
            skip < known.size() ? known.subspan(static_cast<std::size_t>(skip)) : net::Bytes{};
        deliver(next_, rest, length - skip, fin, time, sink);
        drain(time, sink);
        return;
    }
    ++stats_.outOfOrder;
    auto [it, inserted] = held_.try_emplace(offset);
    if (!inserted && it->second.length >= length && (it->second.fin || !fin)) return;
    heldBytes_ -= it->second.data.size();
    it->second.data.assign(known.begin(), known.end());
    it->second.length = length;
    it->second.time = time;
    it->second.fin = fin;
    heldBytes_ += known.size();
    while (!held_.empty() && (heldBytes_ > limits_.maxHeldBytes || held_.size() > limits_.maxHeldSegments)) {
        skipHole(time, sink);
    }
}

void StreamAssembler::deliver(std::uint64_t offset, net::Bytes data, std::uint64_t length, bool fin,
                              Time time, ChunkSink& sink) {
    if (length != 0) {
        sink.onChunk(Chunk{offset, data, length, time});
        next_ = offset + length;
    }
    if (fin) end(time, sink);
}

// Held segments that became in order; a chunk's time is when it became whole (`now`).
void StreamAssembler::drain(Time now, ChunkSink& sink) {
    while (!ended_ && !held_.empty() && held_.begin()->first <= next_) {
        auto node = held_.extract(held_.begin());
        Held& h = node.mapped();
        heldBytes_ -= h.data.size();
        const std::uint64_t offset = node.key();
        const std::uint64_t skip = next_ - offset;
        if (skip > h.length || (skip == h.length && !h.fin)) {
            stats_.duplicateBytes += h.length;
            continue;
        }
        stats_.duplicateBytes += skip;
        const net::Bytes known(h.data);
        const net::Bytes rest =
            skip < known.size() ? known.subspan(static_cast<std::size_t>(skip)) : net::Bytes{};
        deliver(next_, rest, h.length - skip, h.fin, std::max(h.time, now), sink);
    }
}

void StreamAssembler::skipHole(Time time, ChunkSink& sink) {
    const std::uint64_t to = held_.begin()->first;
    if (to > next_) {
        stats_.holeBytes += to - next_;
        sink.onChunk(Chunk{next_, {}, to - next_, time});
        next_ = to;
    }
    drain(time, sink);
}

void StreamAssembler::flush(Time time, ChunkSink& sink) {
    while (!ended_ && !held_.empty()) skipHole(time, sink);
    end(time, sink);
}

void StreamAssembler::end(Time time, ChunkSink& sink) {
    if (ended_) return;
    ended_ = true;
    held_.clear();
    heldBytes_ = 0;
    sink.onEnd(time);
}

}  // namespace tcpcopy::diff
