// The life cycle of one replayed connection: start, the target's segments, timers and close.
// The sending side is in sender.cpp.

#include "tcpcopy/session/session.h"

#include <algorithm>

#include "tcpcopy/session/engine.h"

namespace tcpcopy::session {

using net::SeqNum;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;

namespace {
constexpr std::uint8_t kAssumedWindowScale = 7;  // for sessions whose SYN we never saw
// A hole in a live capture that stays open this many gate timeouts cannot be a reordering: the
// capture lost those bytes.
constexpr int kHoleGateTimeouts = 3;

std::uint16_t ipIdSeed(const net::FlowKey& replay) {
    std::uint64_t h = net::FlowKeyHash{}(replay);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<std::uint16_t>(h);
}
}  // namespace

Session::Session(SessionContext& context, const net::FlowKey& captured, const net::FlowKey& replay, Time now)
    : context_(context), captured_(captured), replay_(replay), ipId_(ipIdSeed(replay)), lastActivity_(now) {}

void Session::startFromSyn(const TcpSegment& syn, Time now) {
    capturedIsn_ = syn.seq;
    replayIsn_ = syn.seq;
    stream_.startAfterSyn(syn.seq);
    synWindow_ = syn.window;
    capturedMss_ = syn.options.mss;
    // RFC 7323 2.3: a shift above 14 is used as 14 (a larger one overflowed windowField; found by
    // fuzz_engine).
    if (syn.options.windowScale) capturedWscale_ = std::min<std::uint8_t>(*syn.options.windowScale, 14);
    wantTimestamps_ = syn.options.timestamps.has_value();
    sendSyn(now);
}

void Session::startMidstream(const TcpSegment& first, Time now, bool atRequestStart) {
    midstream_ = true;
    capturedIsn_ = first.seq - 1;
    replayIsn_ = first.seq - 1;
    stream_.startMidstream(first, atRequestStart);
    synWindow_ = 65535;
    capturedWscale_ = kAssumedWindowScale;
    if (hook_ && !hook_->hook().startMidstream()) {
        refuse(HookRefusal::Midstream, now);  // before anything went out
        return;
    }
    wantTimestamps_ = first.options.timestamps.has_value();
    sendSyn(now);
    onCaptured(first, now);
}

void Session::onCaptured(const TcpSegment& seg, Time now) {
    if (closed() || inputDone_) return;
    if (seg.has(tcpflag::kSyn)) {
        if (seg.seq == capturedIsn_) ++context_.stats.captureRetransmissions;
        return;
    }
    const AddResult added = stream_.add(seg, now, context_.stats);
    if (added == AddResult::Appended) pump(now);
    if (!closed() && added != AddResult::Ignored && overBufferLimit()) {
        // The target stopped taking data while the capture keeps coming: give up on this session
        // rather than hold an unbounded backlog.
        ++context_.stats.sessionsOverBuffer;
        fail(now);
    }
}

bool Session::overBufferLimit() const {
    const std::size_t cap = context_.config.maxSessionBytes;
    return cap > 0 && stream_.heldBytes() + (hook_ ? hook_->heldBytes() : 0) > cap;
}

void Session::onCapturedServer(const TcpSegment& seg, Time now) {
    if (!hook_ || closed()) return;
    hook_->onCapturedServer(seg);
    pump(now);
    checkDone(now);
}

void Session::onTargetPayload(const TcpSegment& seg, Time now) {
    if (!hook_ || closed() || !hook_->onTargetPayload(seg)) return;
    pump(now);
    checkDone(now);
}

void Session::onResponse(const TcpSegment& seg, Time now) {
    if (closed()) return;
    lastActivity_ = now;
    ++context_.stats.responsesSeen;
    if (seg.has(tcpflag::kRst)) {
        ++context_.stats.sessionsResetByTarget;
        close(now, /*sendReset=*/false);
        return;
    }
    if (seg.has(tcpflag::kSyn)) {
        if (!seg.has(tcpflag::kAck)) return;
        if (state_ == State::SynSent && seg.ack == replayIsn_ + 1) {
            establish(seg, now);
        } else if (synchronized()) {
            sendAck(now);  // our handshake ACK was lost
        }
        return;
    }
    if (!synchronized()) return;
    if (tsOk_ && seg.options.timestamps) tsRecent_ = seg.options.timestamps->value;
    if (seg.has(tcpflag::kAck)) processAck(seg, now);
    bool needAck = false;
    const std::uint32_t len = seg.payloadLength;
    if (len > 0 || seg.has(tcpflag::kFin)) {
        const std::int32_t d = seg.seq.distanceFrom(rcvNxt_);
        if (d <= 0 && static_cast<std::int64_t>(d) + len > 0) {
            const auto fresh = static_cast<std::uint32_t>(static_cast<std::int64_t>(d) + len);
            if (hook_) hook_->onTargetSegment(seg, len - fresh, fresh);
            rcvNxt_ += fresh;
            targetBytes_ += fresh;
            context_.stats.responseBytes += fresh;
            lastTargetData_ = now;
        }
        if (seg.has(tcpflag::kFin) && !targetFin() && seg.seq + len == rcvNxt_) {
            rcvNxt_ += 1;
            onTargetFin();
        }
        needAck = true;
    }
    const std::uint64_t sentBefore = context_.stats.segmentsSent;
    pump(now);
    if (needAck && context_.stats.segmentsSent == sentBefore && synchronized()) sendAck(now);
    checkDone(now);
}

void Session::onTargetFin() { state_ = state_ == State::FinWait ? State::Closing : State::CloseWait; }

void Session::establish(const TcpSegment& synAck, Time now) {
    finishTiming(now);  // the SYN's round trip, unless it was resent
    state_ = State::Established;
    ++context_.stats.sessionsEstablished;
    rcvNxt_ = synAck.seq + 1;
    targetMss_ = synAck.options.mss.value_or(targetMss_);
    wscaleInEffect_ = synAck.options.windowScale.has_value() && capturedWscale_.has_value();
    targetWscale_ = wscaleInEffect_ ? std::min<std::uint8_t>(*synAck.options.windowScale, 14) : 0;
    tsOk_ = wantTimestamps_ && synAck.options.timestamps.has_value();
    if (tsOk_) tsRecent_ = synAck.options.timestamps->value;
    targetWindow_ = synAck.window;  // never scaled in a SYN-ACK (RFC 7323)
    advWindow_ = stream_.lastWindow() != 0 ? stream_.lastWindow() : synWindow_;
    rto_ = baseRto(/*syn=*/false);
    retries_ = 0;
    lastActivity_ = now;
    sendAck(now);
    pump(now);
}

void Session::onTimer(Time now) {
    if (closed()) return;
    const EngineConfig& cfg = context_.config;
    if (state_ == State::SynSent) {
        if (now < rtoDeadline_) return;
        if (synRetries_ >= cfg.maxSynRetries) {
            ++context_.stats.sessionsNoSynAck;
            ++context_.stats.sessionsFailed;
            close(now, /*sendReset=*/false);
            return;
        }
        ++synRetries_;
        ++context_.stats.retransmissions;
        timing_ = false;  // Karn
        rto_ = std::min(rto_ * 2, std::max(cfg.maxRto * 2, baseRto(/*syn=*/true)));
        emitSyn(now);
        return;
    }
    if (sndUna_ < sndMax_ && now >= rtoDeadline_) {
        if (retries_ >= cfg.maxRetransmits) {
            fail(now);
            return;
        }
        ++retries_;
        rto_ = std::min(rto_ * 2, std::max(cfg.maxRto, baseRto(/*syn=*/false)));
        retransmit(now);
    }
    pump(now);
    if (closed()) return;
    probeZeroWindow(now);
    checkDone(now);
    if (closed()) return;
    const Time idle = now - std::max(lastActivity_, stream_.lastActivity());
    if (idle >= cfg.sessionTimeout) {
        ++context_.stats.sessionsTimedOut;
        close(now, /*sendReset=*/true);
        return;
    }
    if (nothingPending() && now - lastActivity_ >= cfg.keepaliveTimeout) {
        ++context_.stats.sessionsTimedOut;
        close(now, /*sendReset=*/true);
        return;
    }
    // The capture lost data this stream needs (a kernel drop, a snaplen cut): once the input is
    // over, or the hole has stayed open far longer than any reordering lasts, nothing more can be
    // delivered.
    if (stream_.hasHole()) {
        const bool stale = inputOver() ? now - lastActivity_ >= cfg.gateTimeout
                                       : now - stream_.holeSince() >= kHoleGateTimeouts * cfg.gateTimeout;
        if (stale) {
            ++context_.stats.captureGapsSkipped;
            ++context_.stats.sessionsEndedByReplay;
            close(now, /*sendReset=*/true);
        }
    }
}

Time Session::nextDeadline() const {
    if (closed()) return Time::max();
    if (state_ == State::SynSent) return rtoDeadline_;
    const EngineConfig& cfg = context_.config;
    Time next = std::max(lastActivity_, stream_.lastActivity()) + cfg.sessionTimeout;
    const bool idle = nothingPending();
    if (idle) next = std::min(next, lastActivity_ + cfg.keepaliveTimeout);
    // Retransmission, or a zero-window probe, both on the retransmission timer.
    if (sndUna_ < sndMax_ || (targetWindow_ == 0 && sndNxt_ < sendEnd())) {
        next = std::min(next, rtoDeadline_);
    }
    if (const std::optional<Time> gate = gateDeadline()) next = std::min(next, *gate);
    if (inputOver() && idle) next = std::min(next, lastActivity_ + cfg.drainGrace);
    if (stream_.hasHole()) {
        next = std::min(next, inputOver() ? lastActivity_ + cfg.gateTimeout
                                          : stream_.holeSince() + kHoleGateTimeouts * cfg.gateTimeout);
    }
    return next;
}

bool Session::nothingPending() const {
    return stream_.marks().empty() && allInputSent() && sndUna_ == sndMax_ && !stream_.hasHole();
}

void Session::checkDone(Time now) {
    if (!synchronized()) return;
    const bool allAcked = sndUna_ == sndMax_;
    if (state_ == State::Closing && allAcked) {
        ++context_.stats.sessionsCompleted;
        close(now, /*sendReset=*/false);
        return;
    }
    if (!inputOver() || !nothingPending()) return;
    const Time quietFor = now - lastActivity_;
    if (quietFor < context_.config.drainGrace) return;
    if (state_ == State::FinWait && allAcked) {
        // We closed our side and the target keeps its open (half-close): finish it.
        ++context_.stats.sessionsCompleted;
        close(now, /*sendReset=*/true);
        return;
    }
    if (!finSent()) {
        ++context_.stats.sessionsEndedByReplay;
        close(now, /*sendReset=*/true);
    }
}

void Session::abort(Time now) {
    if (closed()) return;
    ++context_.stats.sessionsAborted;
    close(now, /*sendReset=*/synchronized());
}

void Session::fail(Time now) {
    ++context_.stats.sessionsFailed;
    close(now, /*sendReset=*/true);
}

void Session::refuse(HookRefusal reason, Time now) {
    ++context_.stats.hookRefusals[static_cast<std::size_t>(reason)];
    close(now, /*sendReset=*/rtoDeadline_ != Time{0});  // unless nothing went out yet
}

void Session::close(Time now, bool sendReset) {
    if (closed()) return;
    if (sendReset) {
        if (synchronized()) {
            emitControl(tcpflag::kRst | tcpflag::kAck, sndMax_, now);
        } else {
            emitControl(tcpflag::kRst, 0, now);
        }
        ++context_.stats.resetsSent;
    }
    state_ = State::Closed;
}

std::size_t Session::footprint() const {
    if (closed()) return 0;
    return sizeof(Session) + stream_.footprint() + (hook_ ? hook_->footprint() : 0);
}

}  // namespace tcpcopy::session
