#include "tcpcopy/session/engine.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <deque>
#include <map>

namespace tcpcopy::session {

using net::Bytes;
using net::Endpoint;
using net::FlowKey;
using net::SeqNum;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;

namespace {

constexpr std::uint16_t kDefaultTargetMss = 536;  // RFC 1122 default when the SYN-ACK has none
constexpr std::uint8_t kAssumedWindowScale = 7;   // for sessions whose SYN we never saw
constexpr std::uint32_t kReleaseChunk = 64 * 1024;
constexpr std::uint32_t kPortFloor = 1024;
constexpr std::uint32_t kPortRange = 65536 - kPortFloor;
constexpr std::uint32_t kCopyPortStride = 4099;       // prime, far from neighbouring ports
constexpr std::uint32_t kInstancePortStride = 16411;  // prime, for -f
// Heap bytes a released client stream may keep as capacity; more is given back.
constexpr std::size_t kKeptStreamCapacity = 16 * 1024;
// Map/list node bookkeeping per out-of-order segment and per session (hash map nodes, the
// captured-flow index), beyond the objects' own sizes.
constexpr std::size_t kNodeOverhead = 64;

std::uint64_t mixHash(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// A point in the client byte stream where something must happen before the byte at `offset`
// goes out: wait for the target's response, change the advertised window, send FIN or RST.
struct Mark {
    std::uint64_t offset = 0;
    std::int64_t requiredServerBytes = -1;  // -1: no wait
    std::optional<std::uint16_t> window;
    bool fin = false;
    bool rst = false;
    bool request = false;  // data follows a response: one request
    // Set when the mark first blocks sending.
    std::optional<Time> waitingSince;
    std::uint64_t targetBytesAtWait = 0;
};

// The marks of a session, oldest first. A vector with a moving head rather than a std::deque:
// libstdc++'s deque allocates a 512-byte block and its map as soon as it is constructed, which
// was half of an idle session's memory. Emptied, it starts again at the front of its storage.
class MarkQueue {
public:
    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }
    Mark& front() { return items_[head_]; }
    const Mark& front() const { return items_[head_]; }
    void push_back(const Mark& m) {
        if (empty()) {
            items_.clear();
            head_ = 0;
        } else if (head_ >= 16 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        items_.push_back(m);
    }
    void pop_front() {
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        }
    }

private:
    std::vector<Mark> items_;
    std::size_t head_ = 0;
};

struct PendingSegment {
    std::vector<std::byte> data;
    std::int64_t relAck = -1;
    std::uint16_t window = 0;
    bool fin = false;
    bool rst = false;
};

// Out-of-order captured segments by stream offset. Most sessions never see one: the map is
// allocated on first use, so an in-order session pays one pointer instead of an empty std::map.
class OutOfOrderMap {
public:
    using Map = std::map<std::uint64_t, PendingSegment>;
    bool empty() const { return !map_ || map_->empty(); }
    std::size_t size() const { return map_ ? map_->size() : 0; }
    Map::iterator begin() { return map_->begin(); }  // not empty()
    void erase(Map::iterator it) { map_->erase(it); }
    std::pair<Map::iterator, bool> emplace(std::uint64_t offset, PendingSegment&& p) {
        if (!map_) map_ = std::make_unique<Map>();
        return map_->emplace(offset, std::move(p));
    }

private:
    std::unique_ptr<Map> map_;
};

}  // namespace

class Session {
public:
    enum class State : std::uint8_t { SynSent, Established, Closed };

    Session(Engine& engine, FlowKey captured, FlowKey replay, Time now)
        : engine_(engine), captured_(captured), replay_(replay), lastActivity_(now) {
        ipId_ = static_cast<std::uint16_t>(mixHash(net::FlowKeyHash{}(replay)));
    }

    const FlowKey& replay() const { return replay_; }
    const FlowKey& captured() const { return captured_; }
    SeqNum capturedIsn() const { return capturedIsn_; }
    bool closed() const { return state_ == State::Closed; }
    void detachFromInput() { inputDone_ = true; }

    void startFromSyn(const TcpSegment& syn, Time now) {
        capturedIsn_ = syn.seq;
        replayIsn_ = syn.seq;
        captureBase_ = syn.seq + 1;
        synWindow_ = syn.window;
        capturedMss_ = syn.options.mss;
        // RFC 7323 2.3: a shift above 14 is used as 14 (a larger one overflowed windowField;
        // found by fuzz_engine).
        if (syn.options.windowScale) capturedWscale_ = std::min<std::uint8_t>(*syn.options.windowScale, 14);
        wantTimestamps_ = syn.options.timestamps.has_value();
        sendSyn(now);
    }

    void startMidstream(const TcpSegment& first, Time now, bool atRequestStart) {
        midstream_ = true;
        capturedIsn_ = first.seq - 1;
        replayIsn_ = first.seq - 1;
        captureBase_ = first.seq;
        if (first.has(tcpflag::kAck)) {
            capturedServerIsn_ = first.ack - 1;
            haveServerIsn_ = true;
        }
        synWindow_ = 65535;
        capturedWscale_ = kAssumedWindowScale;
        wantTimestamps_ = first.options.timestamps.has_value();
        // A session seen mid-stream may begin inside a request: its first data is taken only
        // from a request boundary, i.e. once the client has acknowledged new server data (or
        // when the first packet seen is a pure ACK, from the next data on).
        skipUntilAckAbove_ = !atRequestStart && first.has(tcpflag::kAck);
        firstSeenAck_ = first.ack;
        sendSyn(now);
        onCaptured(first, now);
    }

    void onCaptured(const TcpSegment& seg, Time now) {
        if (state_ == State::Closed || inputDone_) return;
        if (!haveServerIsn_ && seg.has(tcpflag::kAck) && !seg.has(tcpflag::kSyn)) {
            capturedServerIsn_ = seg.ack - 1;
            haveServerIsn_ = true;
        }
        if (seg.has(tcpflag::kSyn)) {
            if (seg.seq == capturedIsn_) ++stats().captureRetransmissions;
            return;
        }
        if (skipUntilAckAbove_) {
            if (!net::seqGt(seg.ack, firstSeenAck_)) {
                // Still inside the request the capture began in: skip its bytes in the stream.
                if (net::seqGt(seg.seq + seg.payloadLength, captureBase_)) captureBase_ = seg.seq + seg.payloadLength;
                return;
            }
            // The first request boundary: the stream starts here, and so does the server data
            // the client had seen.
            skipUntilAckAbove_ = false;
            captureBase_ = seg.seq;
            capturedServerIsn_ = seg.ack - 1;
        }
        lastCaptureActivity_ = now;
        std::int64_t relAck = -1;
        if (seg.has(tcpflag::kAck) && haveServerIsn_) {
            relAck = seg.ack.distanceFrom(capturedServerIsn_ + 1);
            if (relAck < 0) relAck = 0;
        }
        const std::uint32_t present = static_cast<std::uint32_t>(seg.payload.size());
        const std::uint32_t len = std::min(seg.payloadLength, present);
        if (len < seg.payloadLength) ++truncatedPayloads_;
        const bool fin = seg.has(tcpflag::kFin);
        const bool rst = seg.has(tcpflag::kRst);
        if (len == 0 && !fin && !rst) {
            noteWindow(seg.window);
            return;
        }
        const std::int64_t delta = seg.seq.distanceFrom(captureBase_ + static_cast<std::uint32_t>(capturedNext_));
        std::uint64_t offset;
        if (delta < 0 && static_cast<std::uint64_t>(-delta) > capturedNext_) {
            ++stats().captureRetransmissions;
            return;
        }
        offset = capturedNext_ + delta;
        if (offset > capturedNext_) {
            ++stats().captureOutOfOrder;
            PendingSegment p;
            p.data.assign(seg.payload.begin(), seg.payload.begin() + len);
            p.relAck = relAck;
            p.window = seg.window;
            p.fin = fin;
            p.rst = rst;
            if (ooo_.empty()) holeSince_ = now;
            if (ooo_.size() < 1024) {
                const std::size_t bytes = p.data.capacity();
                if (ooo_.emplace(offset, std::move(p)).second) oooBytes_ += bytes;
            }
            if (overBufferLimit()) {
                ++stats().sessionsOverBuffer;
                ++stats().sessionsFailed;
                close(/*sendReset=*/true);
            }
            return;
        }
        appendCaptured(offset, seg.payload.first(len), relAck, seg.window, fin, rst);
        drainOutOfOrder();
        pump(now);
        if (state_ != State::Closed && overBufferLimit()) {
            // The target stopped taking data while the capture keeps coming: give up on this
            // session rather than hold an unbounded backlog.
            ++stats().sessionsOverBuffer;
            ++stats().sessionsFailed;
            close(/*sendReset=*/true);
        }
    }

    bool overBufferLimit() const {
        const std::size_t cap = engine_.config_.maxSessionBytes;
        return cap > 0 && (capturedNext_ - streamBase_) + oooBytes_ > cap;
    }

    void onResponse(const TcpSegment& seg, Time now) {
        if (state_ == State::Closed) return;
        lastActivity_ = now;
        ++stats().responsesSeen;
        if (seg.has(tcpflag::kRst)) {
            ++stats().sessionsResetByTarget;
            close(/*sendReset=*/false);
            return;
        }
        if (seg.has(tcpflag::kSyn)) {
            if (!seg.has(tcpflag::kAck)) return;
            if (state_ == State::SynSent && seg.ack == replayIsn_ + 1) {
                establish(seg, now);
            } else if (state_ == State::Established) {
                sendAck(now);  // our handshake ACK was lost
            }
            return;
        }
        if (state_ != State::Established) return;
        if (tsOk_ && seg.options.timestamps) tsRecent_ = seg.options.timestamps->value;
        if (seg.has(tcpflag::kAck)) processAck(seg, now);
        bool needAck = false;
        const std::uint32_t len = seg.payloadLength;
        if (len > 0 || seg.has(tcpflag::kFin)) {
            const std::int32_t d = seg.seq.distanceFrom(rcvNxt_);
            if (d <= 0 && static_cast<std::int64_t>(d) + len > 0) {
                const std::uint32_t fresh = static_cast<std::uint32_t>(static_cast<std::int64_t>(d) + len);
                rcvNxt_ += fresh;
                targetBytes_ += fresh;
                stats().responseBytes += fresh;
                lastTargetData_ = now;
            }
            if (seg.has(tcpflag::kFin) && !targetFin_ && seg.seq + len == rcvNxt_) {
                rcvNxt_ += 1;
                targetFin_ = true;
            }
            needAck = true;
        }
        const std::uint64_t sentBefore = segmentsSent_;
        pump(now);
        if (needAck && segmentsSent_ == sentBefore && state_ == State::Established) sendAck(now);
        checkDone(now);
    }

    void onTick(Time now) {
        if (state_ == State::Closed) return;
        if (state_ == State::SynSent) {
            if (now >= rtoDeadline_) {
                if (synRetries_ >= engine_.config_.maxSynRetries) {
                    ++stats().sessionsNoSynAck;
                    ++stats().sessionsFailed;
                    close(/*sendReset=*/false);
                    return;
                }
                ++synRetries_;
                ++stats().retransmissions;
                rto_ = std::min(rto_ * 2, engine_.config_.maxRto * 2);
                emitSyn(now);
            }
            return;
        }
        const auto& cfg = engine_.config_;
        if (sndUna_ < sndMax_ && now >= rtoDeadline_) {
            if (retries_ >= cfg.maxRetransmits) {
                ++stats().sessionsFailed;
                close(/*sendReset=*/true);
                return;
            }
            ++retries_;
            rto_ = std::min(rto_ * 2, cfg.maxRto);
            retransmit(now);
        }
        pump(now);
        if (state_ == State::Closed) return;
        // Zero window: probe with one byte once the retransmission timer would have fired.
        if (sndUna_ == sndMax_ && targetWindow_ == 0 && sndNxt_ < sendLimit() && now >= rtoDeadline_) {
            probe_ = 1;
            pump(now);
            probe_ = 0;
            rtoDeadline_ = now + rto_;
        }
        checkDone(now);
        if (state_ == State::Closed) return;
        const Time idle = now - std::max(lastActivity_, lastCaptureActivity_);
        if (idle >= cfg.sessionTimeout) {
            ++stats().sessionsTimedOut;
            close(/*sendReset=*/true);
            return;
        }
        if (nothingPending() && now - lastActivity_ >= cfg.keepaliveTimeout) {
            ++stats().sessionsTimedOut;
            close(/*sendReset=*/true);
            return;
        }
        // The capture lost data this stream needs (a kernel drop, a snaplen cut): once the input
        // is over, or the hole has stayed open far longer than any reordering lasts, nothing
        // more can be delivered.
        const bool holeStale = inputOver() ? now - lastActivity_ >= cfg.gateTimeout
                                           : now - holeSince_ >= 3 * cfg.gateTimeout;
        if (!ooo_.empty() && holeStale) {
            ++stats().captureGapsSkipped;
            ++stats().sessionsEndedByReplay;
            close(/*sendReset=*/true);
        }
    }

    void abort() {
        if (state_ == State::Closed) return;
        ++stats().sessionsAborted;
        close(/*sendReset=*/state_ == State::Established);
    }

    // Heap and object bytes this session holds now; 0 once closed (its buffers die with it).
    std::size_t footprint() const {
        if (state_ == State::Closed) return 0;
        return sizeof(Session) + 2 * kNodeOverhead + stream_.capacity() + oooBytes_ +
               ooo_.size() * (sizeof(PendingSegment) + kNodeOverhead) + marks_.size() * sizeof(Mark);
    }
    // Brings the engine's total up to date with footprint().
    void account() {
        const std::size_t now = footprint();
        engine_.adjustBuffered(accounted_, now);
        accounted_ = now;
    }

private:
    EngineStats& stats() { return engine_.stats_; }
    SeqNum seqAt(std::uint64_t offset) const {
        return replayIsn_ + 1 + static_cast<std::uint32_t>(offset);
    }
    bool inputOver() const { return inputDone_ || engine_.inputEnded_; }
    std::uint32_t tsNow(Time now) const {
        return engine_.tsClockBase_ +
               static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    }
    std::uint64_t sendLimit() const {
        std::uint64_t limit = capturedNext_;
        if (!marks_.empty()) limit = std::min(limit, marks_.front().offset);
        return limit;
    }
    bool nothingPending() const {
        return marks_.empty() && sndNxt_ >= capturedNext_ && sndUna_ == sndMax_ && ooo_.empty();
    }

    // Pure ACKs matter for their window only when it closes or reopens (zero-window episodes);
    // other window changes ride on the data segments.
    void noteWindow(std::uint16_t window) {
        if (window == lastCapturedWindow_ || (window != 0 && lastCapturedWindow_ != 0)) return;
        lastCapturedWindow_ = window;
        Mark m;
        m.offset = capturedNext_;
        m.window = window;
        marks_.push_back(m);
    }

    void appendCaptured(std::uint64_t offset, Bytes data, std::int64_t relAck, std::uint16_t window, bool fin,
                        bool rst) {
        if (offset < capturedNext_) {
            const std::uint64_t overlap = capturedNext_ - offset;
            if (overlap >= data.size()) {
                if (data.size() > 0 || (!fin && !rst)) ++stats().captureRetransmissions;
                if (data.size() > 0 && !fin && !rst) return;
                if ((fin && finQueued_) || (rst && rstQueued_)) return;
                data = {};
            } else {
                ++stats().captureRetransmissions;
                data = data.subspan(overlap);
            }
            offset = capturedNext_;
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
            if (window != lastCapturedWindow_) {
                m.window = window;
                lastCapturedWindow_ = window;
                want = true;
            }
            if (want) marks_.push_back(m);
            sawData_ = true;
            stream_.insert(stream_.end(), data.begin(), data.end());
            capturedNext_ += data.size();
        }
        if ((fin && !finQueued_) || (rst && !rstQueued_)) {
            Mark m;
            m.offset = capturedNext_;
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

    void drainOutOfOrder() {
        while (!ooo_.empty()) {
            auto it = ooo_.begin();
            if (it->first > capturedNext_) return;
            PendingSegment p = std::move(it->second);
            const std::uint64_t offset = it->first;
            oooBytes_ -= p.data.capacity();
            ooo_.erase(it);
            appendCaptured(offset, Bytes(p.data), p.relAck, p.window, p.fin, p.rst);
        }
    }

    std::uint16_t effectiveMss() const {
        const auto& cfg = engine_.config_;
        std::uint32_t mss = targetMss_;
        mss = std::min<std::uint32_t>(mss, cfg.mss);
        mss = std::min<std::uint32_t>(mss, cfg.mtu > 40 ? cfg.mtu - 40 : 536);
        if (tsOk_) mss = mss > 12 ? mss - 12 : 0;  // RFC 6691: the MSS counts data only; our options take room too
        return static_cast<std::uint16_t>(std::max<std::uint32_t>(mss, 64));
    }

    // The window field to advertise for the captured raw window `raw`.
    std::uint16_t windowField(std::uint16_t raw) const {
        const std::uint8_t capturedShift = capturedWscale_.value_or(0);
        const std::uint64_t bytes = static_cast<std::uint64_t>(raw) << capturedShift;
        const std::uint8_t ourShift = wscaleInEffect_ ? capturedWscale_.value_or(0) : 0;
        return static_cast<std::uint16_t>(std::min<std::uint64_t>(bytes >> ourShift, 65535));
    }

    // A segment of this replayed connection, addressed to the target.
    TcpSegment addressedSegment() {
        TcpSegment s;
        s.src = replay_.client.addr;
        s.sport = replay_.client.port;
        s.dst = replay_.server.addr;
        s.dport = replay_.server.port;
        s.ttl = engine_.config_.ttl;
        s.ipId = ipId_++;
        return s;
    }

    // An established-state segment: acknowledging what the target sent, our window, timestamps.
    TcpSegment baseSegment(Time now) {
        TcpSegment s = addressedSegment();
        s.ack = rcvNxt_;
        s.window = windowField(advWindow_);
        if (tsOk_) s.options.timestamps = net::TcpTimestamps{tsNow(now), tsRecent_};
        return s;
    }

    void transmit(const TcpSegment& s) {
        engine_.output_.sendToTarget(s);
        ++stats().segmentsSent;
        ++segmentsSent_;
    }

    void sendSyn(Time now) {
        ++stats().sessionsStarted;
        if (midstream_) ++stats().sessionsMidstream;
        rto_ = std::max(engine_.config_.initialRto * 5, Time(std::chrono::seconds(1)));
        emitSyn(now);
    }

    void emitSyn(Time now) {
        TcpSegment s = addressedSegment();
        s.seq = replayIsn_;
        s.flags = tcpflag::kSyn;
        s.window = synWindow_;
        const auto& cfg = engine_.config_;
        std::uint32_t mss = capturedMss_.value_or(cfg.mss);
        mss = std::min<std::uint32_t>({mss, cfg.mss, cfg.mtu > 40u ? cfg.mtu - 40u : 536u});
        s.options.mss = static_cast<std::uint16_t>(mss);
        s.options.windowScale = capturedWscale_;
        if (wantTimestamps_) s.options.timestamps = net::TcpTimestamps{tsNow(now), 0};
        transmit(s);
        rtoDeadline_ = now + rto_;
    }

    void establish(const TcpSegment& synAck, Time now) {
        state_ = State::Established;
        ++stats().sessionsEstablished;
        rcvNxt_ = synAck.seq + 1;
        targetMss_ = synAck.options.mss.value_or(kDefaultTargetMss);
        wscaleInEffect_ = synAck.options.windowScale.has_value() && capturedWscale_.has_value();
        targetWscale_ = wscaleInEffect_ ? std::min<std::uint8_t>(*synAck.options.windowScale, 14) : 0;
        tsOk_ = wantTimestamps_ && synAck.options.timestamps.has_value();
        if (tsOk_) tsRecent_ = synAck.options.timestamps->value;
        targetWindow_ = synAck.window;  // never scaled in a SYN-ACK (RFC 7323)
        advWindow_ = lastCapturedWindow_ != 0 ? lastCapturedWindow_ : synWindow_;
        rto_ = engine_.config_.initialRto;
        retries_ = 0;
        lastActivity_ = now;
        sendAck(now);
        pump(now);
    }

    void sendAck(Time now) {
        TcpSegment s = baseSegment(now);
        s.seq = seqAt(sndNxt_);
        s.flags = tcpflag::kAck;
        transmit(s);
    }

    void emitData(std::uint64_t offset, std::uint32_t len, bool push, Time now) {
        TcpSegment s = baseSegment(now);
        s.seq = seqAt(offset);
        s.flags = tcpflag::kAck | (push ? tcpflag::kPsh : 0);
        const std::size_t index = offset - streamBase_;
        s.payload = Bytes(stream_).subspan(index, len);
        s.payloadLength = len;
        transmit(s);
        stats().bytesSent += len;
    }

    void emitControl(std::uint8_t flags, std::uint64_t offset, Time now) {
        TcpSegment s = baseSegment(now);
        s.seq = seqAt(offset);
        s.flags = flags;
        transmit(s);
    }

    bool gatePassed(Mark& m, Time now) {
        const auto& cfg = engine_.config_;
        if (!cfg.waitForResponse || m.requiredServerBytes < 0) return true;
        const std::int64_t expected = m.requiredServerBytes + serverBytesShift_;
        const auto have = static_cast<std::int64_t>(targetBytes_);
        if (have >= expected) return true;
        if (!m.waitingSince) {
            m.waitingSince = now;
            m.targetBytesAtWait = targetBytesAtLastSend_;
        }
        const bool responded = targetBytes_ > m.targetBytesAtWait;
        const bool quiet = responded && now - lastTargetData_ >= cfg.responseQuiet;
        const bool expired = now - *m.waitingSince >= cfg.gateTimeout;
        // Nothing outstanding from us and a response that stopped short: the target's reply
        // differs in length from the capture's. Re-base and go on.
        if (quiet || expired) {
            if (expired && !quiet) ++stats().gateTimeouts;
            serverBytesShift_ = have - m.requiredServerBytes;
            return true;
        }
        return false;
    }

    void pump(Time now) {
        if (state_ != State::Established) return;
        const std::uint16_t mss = effectiveMss();
        for (;;) {
            while (!marks_.empty() && marks_.front().offset <= sndNxt_) {
                Mark& m = marks_.front();
                if (!gatePassed(m, now)) return;
                if (m.window) advWindow_ = *m.window;
                if (m.request) ++stats().requestsSent;
                if (m.rst) {
                    emitControl(tcpflag::kRst | tcpflag::kAck, sndNxt_, now);
                    ++stats().resetsSent;
                    ++stats().sessionsCompleted;
                    close(/*sendReset=*/false);
                    return;
                }
                if (m.fin) {
                    emitControl(tcpflag::kFin | tcpflag::kAck, sndNxt_, now);
                    finSent_ = true;
                    sndNxt_ += 1;
                    sndMax_ = std::max(sndMax_, sndNxt_);
                    armRto(now);
                }
                const bool isWindowOnly = m.window && m.requiredServerBytes < 0 && !m.fin && !m.rst &&
                                          m.offset == capturedNext_ && sndNxt_ == capturedNext_;
                marks_.pop_front();
                if (isWindowOnly && sndUna_ == sndMax_) sendAck(now);  // a window update
            }
            if (finSent_) return;
            const std::uint64_t limit = sendLimit();
            const std::uint64_t windowEdge = sndUna_ + std::max<std::uint64_t>(targetWindow_, probe_);
            if (sndNxt_ >= limit || sndNxt_ >= windowEdge) return;
            const std::uint64_t room = std::min(limit, windowEdge) - sndNxt_;
            const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(room, mss));
            const bool push = sndNxt_ + len == limit;
            if (len < room) ++stats().resegmented;
            emitData(sndNxt_, len, push, now);
            if (sndUna_ == sndMax_) armRto(now);
            sndNxt_ += len;
            sndMax_ = std::max(sndMax_, sndNxt_);
            targetBytesAtLastSend_ = targetBytes_;
        }
    }

    void armRto(Time now) { rtoDeadline_ = now + rto_; }

    void processAck(const TcpSegment& seg, Time now) {
        const std::int64_t d = seg.ack.distanceFrom(seqAt(sndUna_));
        if (d > 0 && sndUna_ + static_cast<std::uint64_t>(d) <= sndMax_) {
            sndUna_ += static_cast<std::uint64_t>(d);
            if (sndNxt_ < sndUna_) sndNxt_ = sndUna_;
            retries_ = 0;
            rto_ = engine_.config_.initialRto;
            rtoDeadline_ = now + rto_;
            releaseAcked();
        }
        std::uint32_t window = seg.window;
        window <<= targetWscale_;
        targetWindow_ = window;
    }

    void releaseAcked() {
        const std::uint64_t acked = std::min(sndUna_, capturedNext_);
        const std::uint64_t releasable = acked - streamBase_;
        if (releasable >= kReleaseChunk || (releasable > 0 && releasable == stream_.size())) {
            stream_.erase(stream_.begin(), stream_.begin() + static_cast<std::ptrdiff_t>(releasable));
            streamBase_ += releasable;
            // A large upload, fully acknowledged: give its buffer back (-m counts capacity).
            if (stream_.empty() && stream_.capacity() > kKeptStreamCapacity) stream_.shrink_to_fit();
        }
    }

    void retransmit(Time now) {
        ++stats().retransmissions;
        const std::uint64_t dataEnd = std::min(sndMax_, capturedNext_);
        if (sndUna_ < dataEnd) {
            const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(dataEnd - sndUna_, effectiveMss()));
            emitData(sndUna_, len, true, now);
        } else if (finSent_) {
            emitControl(tcpflag::kFin | tcpflag::kAck, capturedNext_, now);
        }
        rtoDeadline_ = now + rto_;
    }

    void checkDone(Time now) {
        if (state_ != State::Established) return;
        const bool allAcked = sndUna_ == sndMax_;
        if (finSent_ && allAcked && targetFin_) {
            ++stats().sessionsCompleted;
            close(/*sendReset=*/false);
            return;
        }
        if (!inputOver() || !nothingPending()) return;
        const Time quietFor = now - lastActivity_;
        if (finSent_ && allAcked && !targetFin_ && quietFor >= engine_.config_.drainGrace) {
            // We closed our side and the target keeps its open (half-close): finish it.
            ++stats().sessionsCompleted;
            close(/*sendReset=*/true);
            return;
        }
        if (!finSent_ && quietFor >= engine_.config_.drainGrace) {
            ++stats().sessionsEndedByReplay;
            close(/*sendReset=*/true);
        }
    }

    void close(bool sendReset) {
        if (state_ == State::Closed) return;
        if (sendReset) {
            if (state_ == State::Established) {
                emitControl(tcpflag::kRst | tcpflag::kAck, sndMax_, engine_.now_);
            } else {
                emitControl(tcpflag::kRst, 0, engine_.now_);
            }
            ++stats().resetsSent;
        }
        state_ = State::Closed;
        engine_.retire(this);
    }

    Engine& engine_;
    FlowKey captured_;
    FlowKey replay_;
    State state_ = State::SynSent;
    bool midstream_ = false;
    bool inputDone_ = false;

    // Captured client side.
    SeqNum capturedIsn_;  // the captured SYN's sequence number
    SeqNum replayIsn_;    // the ISN we sent the target
    SeqNum captureBase_;  // captured sequence number of stream offset 0
    SeqNum capturedServerIsn_;
    bool haveServerIsn_ = false;
    bool skipUntilAckAbove_ = false;
    SeqNum firstSeenAck_;
    std::uint16_t synWindow_ = 0;
    std::optional<std::uint16_t> capturedMss_;
    std::optional<std::uint8_t> capturedWscale_;
    bool wantTimestamps_ = false;
    std::uint16_t lastCapturedWindow_ = 0;
    bool sawData_ = false;
    bool finQueued_ = false;
    bool rstQueued_ = false;
    std::int64_t lastMarkAck_ = -1;
    std::uint64_t truncatedPayloads_ = 0;
    std::vector<std::byte> stream_;      // client bytes [streamBase_, capturedNext_)
    std::uint64_t streamBase_ = 0;
    std::uint64_t capturedNext_ = 0;
    MarkQueue marks_;
    OutOfOrderMap ooo_;
    std::size_t oooBytes_ = 0;  // payload capacity held in ooo_
    std::size_t accounted_ = 0;  // this session's share of Engine::buffered_
    Time lastCaptureActivity_{0};
    Time holeSince_{0};  // when the oldest open hole in the captured stream appeared

    // Target side.
    SeqNum rcvNxt_;
    std::uint64_t targetBytes_ = 0;
    std::uint64_t targetBytesAtLastSend_ = 0;
    std::int64_t serverBytesShift_ = 0;
    bool targetFin_ = false;
    std::uint32_t targetWindow_ = 0;
    std::uint8_t targetWscale_ = 0;
    std::uint16_t targetMss_ = kDefaultTargetMss;
    bool wscaleInEffect_ = false;
    bool tsOk_ = false;
    std::uint32_t tsRecent_ = 0;
    Time lastTargetData_{0};

    // Our sending side, as offsets in the client stream (0 = first data byte).
    std::uint64_t sndUna_ = 0;
    std::uint64_t sndNxt_ = 0;
    std::uint64_t sndMax_ = 0;
    bool finSent_ = false;
    std::uint16_t advWindow_ = 0;
    std::uint32_t probe_ = 0;
    Time rto_{0};
    Time rtoDeadline_{0};
    unsigned retries_ = 0;
    unsigned synRetries_ = 0;
    std::uint64_t segmentsSent_ = 0;
    std::uint16_t ipId_ = 0;
    Time lastActivity_;
};

Engine::Engine(EngineConfig config, Output& output) : config_(std::move(config)), output_(output) {
    if (config_.copies == 0) config_.copies = 1;
    tsClockBase_ = 1;
}

Engine::~Engine() = default;

const AddressRule* Engine::matchRule(const TcpSegment& seg) const {
    for (const AddressRule& rule : config_.rules) {
        if (rule.onlinePort != seg.dport) continue;
        if (rule.onlineAddr && *rule.onlineAddr != seg.dst) continue;
        return &rule;
    }
    return nullptr;
}

Endpoint Engine::allocateReplayClient(const Endpoint& captured, unsigned copy) {
    net::Ipv4Addr addr = captured.addr;
    if (addr.isLoopback() && config_.loopbackRewrite) addr = *config_.loopbackRewrite;
    if (!config_.clientPool.empty()) {
        addr = config_.clientPool[mixHash(addr.value()) % config_.clientPool.size()];
    }
    const std::uint32_t original = captured.port.value();
    std::uint32_t desired = original;
    if (copy != 0 || config_.portShiftFactor != 0) {
        const std::uint32_t base = original >= kPortFloor ? original - kPortFloor : original;
        desired = kPortFloor + (base + copy * kCopyPortStride + config_.portShiftFactor * kInstancePortStride) %
                                   kPortRange;
    }
    return Endpoint{addr, net::Port(static_cast<std::uint16_t>(desired))};
}

void Engine::startSessions(const TcpSegment& seg, const AddressRule& rule, Time now, bool atRequestStart) {
    const FlowKey captured = seg.clientToServerKey();
    ++stats_.sessionsCaptured;
    if (config_.samplePercent < 100 &&
        mixHash(net::FlowKeyHash{}(captured)) % 100 >= config_.samplePercent) {
        ++stats_.sessionsSampledOut;
        skipped_[captured] = now;
        return;
    }
    if (config_.rampDuration > Time{0} && firstPacketAt_ && now - *firstPacketAt_ < config_.rampDuration) {
        const auto share = static_cast<std::uint64_t>(100 * (now - *firstPacketAt_).count() / config_.rampDuration.count());
        if (mixHash(net::FlowKeyHash{}(captured) ^ 0x5bd1e995u) % 100 >= share) {
            ++stats_.sessionsRampedOut;
            skipped_[captured] = now;
            return;
        }
    }
    const bool midstream = !seg.has(tcpflag::kSyn);
    if (midstream && config_.onlyCompleteSessions) {
        ++stats_.sessionsSkippedMidstream;
        skipped_[captured] = now;
        return;
    }
    auto& fed = byCaptured_[captured];
    for (unsigned copy = 0; copy < config_.copies; ++copy) {
        if (sessions_.size() >= config_.maxSessions || overMemoryLimit()) {
            ++stats_.sessionsShed;
            continue;
        }
        // Probe for a replay tuple no live session holds: copies, reused ports and captured
        // connections never collide at the target.
        FlowKey replay{allocateReplayClient(captured.client, copy), rule.target};
        std::uint32_t port = replay.client.port.value();
        bool found = false;
        for (std::uint32_t i = 0; i < kPortRange; ++i) {
            if (!sessions_.contains(replay)) {
                found = true;
                break;
            }
            if (i == 0) ++stats_.portRemaps;
            port = port + 1 >= 65536 ? kPortFloor : port + 1;
            replay.client.port = net::Port(static_cast<std::uint16_t>(port));
        }
        if (!found) {
            ++stats_.sessionsShed;
            continue;
        }
        auto session = std::make_unique<Session>(*this, captured, replay, now);
        Session* raw = session.get();
        sessions_.emplace(replay, std::move(session));
        fed.push_back(raw);
        output_.addRoute(replay);
        if (midstream) {
            raw->startMidstream(seg, now, atRequestStart);
        } else {
            raw->startFromSyn(seg, now);
        }
        raw->account();
    }
    if (fed.empty()) {
        byCaptured_.erase(captured);
        // Every copy shed: drop the rest of this connection rather than pick it up mid-stream
        // once memory frees up.
        skipped_[captured] = now;
    }
}

void Engine::onCaptured(const TcpSegment& seg, Time now) {
    now_ = now;
    ++stats_.packetsIn;
    if (!firstPacketAt_) firstPacketAt_ = now;
    const AddressRule* rule = matchRule(seg);
    if (rule == nullptr) {
        ++stats_.packetsIgnored;
        return;
    }
    const FlowKey captured = seg.clientToServerKey();
    if (auto waiting = deferred_.find(captured); waiting != deferred_.end()) {
        defer(captured, seg);  // the rest of a connection that waits for a slot
        return;
    }
    if (seg.has(tcpflag::kSyn)) {
        if (seg.has(tcpflag::kAck)) {
            ++stats_.packetsIgnored;
            return;
        }
        auto it = byCaptured_.find(captured);
        if (it != byCaptured_.end()) {
            const bool sameConnection = std::any_of(it->second.begin(), it->second.end(), [&](Session* s) {
                return s->capturedIsn() == seg.seq;
            });
            if (sameConnection) {
                ++stats_.captureRetransmissions;
                return;
            }
            // A new connection on a client ip:port whose previous session is still running: the
            // old one finishes on its own, the new one gets its own replay tuple.
            ++stats_.portReuses;
            for (Session* s : it->second) s->detachFromInput();
            byCaptured_.erase(it);
        }
        skipped_.erase(captured);
        if (mustDefer()) {
            defer(captured, seg);
            return;
        }
        startSessions(seg, *rule, now);
        reap();
        return;
    }
    if (auto skip = skipped_.find(captured); skip != skipped_.end()) {
        skip->second = now;
        ++stats_.packetsIgnored;
        return;
    }
    auto it = byCaptured_.find(captured);
    if (it != byCaptured_.end()) {
        // Copy: a session may retire (and edit the vector) while we iterate.
        Session* fed[8];
        const std::size_t n = std::min<std::size_t>(it->second.size(), 8);
        if (it->second.size() <= 8) {
            std::copy_n(it->second.begin(), n, fed);
            for (std::size_t i = 0; i < n; ++i) {
                fed[i]->onCaptured(seg, now);
                fed[i]->account();
            }
        } else {
            std::vector<Session*> all(it->second.begin(), it->second.end());
            for (Session* s : all) {
                s->onCaptured(seg, now);
                s->account();
            }
        }
        reap();
        return;
    }
    if (seg.has(tcpflag::kRst) || seg.payloadLength == 0) {
        // A pure ACK, FIN or RST of a connection we never saw start: nothing to replay yet, but
        // a pure ACK tells that the client's next data starts a request.
        if (!seg.has(tcpflag::kRst) && !seg.has(tcpflag::kFin) && idleAckSeen_.size() < config_.maxSessions &&
            !overMemoryLimit()) {
            idleAckSeen_[captured] = now;
        }
        ++stats_.packetsIgnored;
        return;
    }
    if (mustDefer()) {
        defer(captured, seg);  // replayed later through here, idleAckSeen_ still telling
        return;
    }
    const bool afterIdleAck = idleAckSeen_.erase(captured) > 0;
    startSessions(seg, *rule, now, afterIdleAck);
    reap();
}

void Engine::onResponse(const TcpSegment& seg, Time now) {
    now_ = now;
    const FlowKey replay = seg.serverToClientKey();
    auto it = sessions_.find(replay);
    if (it == sessions_.end()) {
        ++stats_.responsesUnknown;
        return;
    }
    it->second->onResponse(seg, now);
    it->second->account();
    reap();
}

void Engine::onTick(Time now) {
    now_ = now;
    for (auto& [key, session] : sessions_) {
        session->onTick(now);
        session->account();
    }
    reap();
    if (now - lastSkippedSweep_ >= std::chrono::seconds(10)) {
        lastSkippedSweep_ = now;
        auto stale = [&](const auto& entry) { return now - entry.second >= config_.sessionTimeout; };
        std::erase_if(skipped_, stale);
        std::erase_if(idleAckSeen_, stale);
    }
    stats_.activeSessions = sessions_.size();
}

void Engine::onInputEnd(Time now) {
    now_ = now;
    inputEnded_ = true;
    skipped_.clear();
    idleAckSeen_.clear();
    onTick(now);
}

void Engine::abortAll(Time now) {
    now_ = now;
    for (auto& [key, session] : sessions_) session->abort();
    reap();
}

void Engine::retire(Session* session) {
    session->account();  // closed: its footprint leaves the total
    output_.removeRoute(session->replay());
    auto it = byCaptured_.find(session->captured());
    if (it != byCaptured_.end() && it->second.erase(session)) {
        if (it->second.empty()) {
            byCaptured_.erase(it);
            // The capture may still hold the rest of this connection (the target reset it, it
            // timed out): those packets belong to the session that just ended, not to a new
            // mid-stream one. Only a new SYN on the flow starts a session again.
            if (!inputEnded_) skipped_[session->captured()] = now_;
        }
    }
    retired_.push_back(session);
}

void Engine::reap() {
    for (Session* s : retired_) sessions_.erase(s->replay());
    retired_.clear();
    stats_.activeSessions = sessions_.size();
    if (!deferredOrder_.empty()) startDeferred();
}

bool Engine::mustDefer() const {
    // Over -m the connection is shed (startSessions counts it), not kept waiting.
    return config_.maxActiveSessions > 0 && sessions_.size() >= config_.maxActiveSessions && !overMemoryLimit();
}

void Engine::defer(const FlowKey& captured, const TcpSegment& segment) {
    auto [it, fresh] = deferred_.try_emplace(captured);
    if (fresh) {
        deferredOrder_.push_back(captured);
        ++stats_.sessionsDeferred;
    }
    DeferredPacket& p = it->second.emplace_back();
    p.segment = segment;
    p.segment.options.raw = {};  // views the caller's frame; the parsed fields are what we use
    p.payload.assign(segment.payload.begin(), segment.payload.end());
    p.segment.payload = {};
    adjustBuffered(0, sizeof(DeferredPacket) + p.payload.size());
}

void Engine::startDeferred() {
    if (drainingDeferred_) return;  // re-entered from the onCaptured calls below
    drainingDeferred_ = true;
    const Time now = now_;
    while (!deferredOrder_.empty() && (config_.maxActiveSessions == 0 || sessions_.size() < config_.maxActiveSessions)) {
        auto node = deferred_.extract(deferredOrder_.front());
        deferredOrder_.pop_front();
        if (node.empty()) continue;
        for (DeferredPacket& p : node.mapped()) {
            adjustBuffered(sizeof(DeferredPacket) + p.payload.size(), 0);
            p.segment.payload = Bytes(p.payload);
            --stats_.packetsIn;  // counted when it first came in
            onCaptured(p.segment, now);
        }
    }
    drainingDeferred_ = false;
}

void Engine::adjustBuffered(std::size_t before, std::size_t after) {
    assert(buffered_ >= before);
    buffered_ = buffered_ - before + after;
    stats_.bytesBuffered = buffered_;
    stats_.bytesBufferedPeak = std::max<std::uint64_t>(stats_.bytesBufferedPeak, buffered_);
}

}  // namespace tcpcopy::session
