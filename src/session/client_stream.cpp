#include "tcpcopy/session/client_stream.h"

#include <algorithm>

#include "tcpcopy/session/engine.h"

namespace tcpcopy::session {

using net::SeqNum;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;

namespace {
// Map node bookkeeping per out-of-order segment, beyond the segment object itself.
constexpr std::size_t kNodeOverhead = 64;
// Heap bytes a released stream may keep as capacity; more is given back.
constexpr std::size_t kKeptCapacity = 16 * 1024;
// Released bytes are erased from the front of the buffer in chunks of at least this much.
constexpr std::uint64_t kReleaseChunk = 64 * 1024;
}  // namespace

void MarkQueue::push_back(const Mark& m) {
    if (empty()) {
        items_.clear();
        head_ = 0;
    } else if (head_ >= 16 && std::size_t{head_} * 2 >= items_.size()) {
        items_.erase(items_.begin(), items_.begin() + head_);
        head_ = 0;
    }
    items_.push_back(m);
}

void MarkQueue::pop_front() {
    if (++head_ == items_.size()) {
        items_.clear();
        head_ = 0;
    }
}

void ClientStream::startMidstream(const TcpSegment& first, bool atRequestStart) {
    captureBase_ = first.seq;
    if (first.has(tcpflag::kAck)) {
        serverStart_ = first.ack;
        highestAck_ = first.ack;
        haveServerStart_ = true;
    }
    // A session seen mid-stream may begin inside a request: its first data is taken only from a
    // request boundary, i.e. once the client has acknowledged new server data (or, when the first
    // packet seen is a pure ACK, from the next data on).
    skipUntilNewAck_ = !atRequestStart && first.has(tcpflag::kAck);
    firstSeenAck_ = first.ack;
}

std::int64_t ClientStream::serverBytesAcked(const TcpSegment& seg) {
    if (!seg.has(tcpflag::kAck) || !haveServerStart_) return -1;
    const std::int32_t d = seg.ack.distanceFrom(highestAck_);
    if (d > 0) {
        highestAck_ = seg.ack;
        highestAckOffset_ += static_cast<std::uint32_t>(d);
        return static_cast<std::int64_t>(highestAckOffset_);
    }
    return std::max<std::int64_t>(static_cast<std::int64_t>(highestAckOffset_) + d, 0);
}

AddResult ClientStream::add(const TcpSegment& seg, Time now, EngineStats& stats) {
    if (!haveServerStart_ && seg.has(tcpflag::kAck) && !seg.has(tcpflag::kSyn)) {
        serverStart_ = seg.ack;
        highestAck_ = seg.ack;
        haveServerStart_ = true;
    }
    if (seg.has(tcpflag::kSyn)) return AddResult::Ignored;
    if (skipUntilNewAck_) {
        if (!net::seqGt(seg.ack, firstSeenAck_)) {
            // Still inside the request the capture began in: skip its bytes in the stream.
            if (net::seqGt(seg.seq + seg.payloadLength, captureBase_))
                captureBase_ = seg.seq + seg.payloadLength;
            return AddResult::Ignored;
        }
        // The first request boundary: the stream starts here, and so does the server data the
        // client had seen.
        skipUntilNewAck_ = false;
        captureBase_ = seg.seq;
        serverStart_ = seg.ack;
        highestAck_ = seg.ack;
        highestAckOffset_ = 0;
    }
    lastActivity_ = now;
    const std::int64_t relAck = serverBytesAcked(seg);
    const auto present = static_cast<std::uint32_t>(seg.payload.size());
    const std::uint32_t len = std::min(seg.payloadLength, present);
    const bool fin = seg.has(tcpflag::kFin);
    const bool rst = seg.has(tcpflag::kRst);
    if (len == 0 && !fin && !rst) {
        const std::size_t before = marks_.size();
        noteWindow(seg.window);
        return marks_.size() != before ? AddResult::Appended : AddResult::Ignored;
    }
    const std::int64_t delta = seg.seq.distanceFrom(captureBase_ + static_cast<std::uint32_t>(next_));
    if (delta < 0 && static_cast<std::uint64_t>(-delta) > next_) {
        ++stats.captureRetransmissions;
        return AddResult::Ignored;
    }
    const std::uint64_t offset = next_ + delta;
    if (offset > next_) {
        ++stats.captureOutOfOrder;
        if (!hasHole()) holeSince_ = now;
        if (!ooo_) ooo_ = std::make_unique<OutOfOrder>();
        if (ooo_->size() < kMaxOutOfOrder) {
            PendingSegment p;
            p.data.assign(seg.payload.begin(), seg.payload.begin() + len);
            p.relAck = relAck;
            p.window = seg.window;
            p.fin = fin;
            p.rst = rst;
            const auto bytes = static_cast<std::uint32_t>(p.data.capacity());
            if (ooo_->emplace(offset, std::move(p)).second) oooBytes_ += bytes;
        }
        return AddResult::OutOfOrder;
    }
    append(offset, seg.payload.first(len), relAck, seg.window, fin, rst, stats);
    drainOutOfOrder(stats);
    return AddResult::Appended;
}

// Pure ACKs matter for their window only when it closes or reopens (zero-window episodes); other
// window changes ride on the data segments.
void ClientStream::noteWindow(std::uint16_t window) {
    if (window == lastWindow_ || (window != 0 && lastWindow_ != 0)) return;
    lastWindow_ = window;
    Mark m;
    m.offset = next_;
    m.window = window;
    marks_.push_back(m);
}

void ClientStream::append(std::uint64_t offset, net::Bytes data, std::int64_t relAck, std::uint16_t window,
                          bool fin, bool rst, EngineStats& stats) {
    if (offset < next_) {
        const std::uint64_t overlap = next_ - offset;
        if (overlap >= data.size()) {
            if (data.size() > 0 || (!fin && !rst)) ++stats.captureRetransmissions;
            if (data.size() > 0 && !fin && !rst) return;
            if ((fin && finQueued_) || (rst && rstQueued_)) return;
            data = {};
        } else {
            ++stats.captureRetransmissions;
            data = data.subspan(overlap);
        }
        offset = next_;
    }
    if (!data.empty()) {
        Mark m;
        m.offset = offset;
        bool want = false;
        if (relAck > lastMarkAck_ || !sawData_) {
            m.requiredServerBytes = std::max<std::int64_t>(relAck, 0);
            m.request = true;
            lastMarkAck_ = std::max(relAck, lastMarkAck_);
            want = true;
        }
        if (window != lastWindow_) {
            m.window = window;
            lastWindow_ = window;
            want = true;
        }
        if (want) marks_.push_back(m);
        sawData_ = true;
        data_.insert(data_.end(), data.begin(), data.end());
        next_ += data.size();
    }
    if ((fin && !finQueued_) || (rst && !rstQueued_)) {
        Mark m;
        m.offset = next_;
        m.fin = fin;
        m.rst = rst;
        finQueued_ = finQueued_ || fin;
        rstQueued_ = rstQueued_ || rst;
        if (relAck > lastMarkAck_) {
            m.requiredServerBytes = relAck;
            lastMarkAck_ = relAck;
        }
        marks_.push_back(m);
    }
}

void ClientStream::drainOutOfOrder(EngineStats& stats) {
    while (hasHole()) {
        auto it = ooo_->begin();
        if (it->first > next_) return;
        PendingSegment p = std::move(it->second);
        const std::uint64_t offset = it->first;
        oooBytes_ -= static_cast<std::uint32_t>(p.data.capacity());
        ooo_->erase(it);
        append(offset, net::Bytes(p.data), p.relAck, p.window, p.fin, p.rst, stats);
    }
    if (ooo_ && ooo_->empty()) ooo_.reset();
}

void releaseFront(std::vector<std::byte>& bytes, std::uint64_t& base, std::uint64_t acked) {
    acked = std::min(acked, base + bytes.size());
    if (acked <= base) return;
    const std::uint64_t releasable = acked - base;
    if (releasable >= kReleaseChunk || releasable == bytes.size()) {
        bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(releasable));
        base += releasable;
        // A large upload, fully acknowledged: give its buffer back (-m counts capacity).
        if (bytes.empty() && bytes.capacity() > kKeptCapacity) bytes.shrink_to_fit();
    }
}

void ClientStream::release(std::uint64_t acked) { releaseFront(data_, streamBase_, acked); }

net::Bytes ClientStream::bytes(std::uint64_t offset, std::uint32_t len) const {
    return net::Bytes(data_).subspan(static_cast<std::size_t>(offset - streamBase_), len);
}

std::size_t ClientStream::footprint() const {
    const std::size_t oooCount = ooo_ ? ooo_->size() : 0;
    return data_.capacity() + oooBytes_ + oooCount * (sizeof(PendingSegment) + kNodeOverhead) +
           marks_.size() * sizeof(Mark);
}

}  // namespace tcpcopy::session
