// The sending side of a replayed connection: each request held until the target has answered
// the one before it as the captured server had, segments cut to the MSS and the target's window,
// timestamps, retransmission and zero-window probes.

#include <algorithm>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/session/session.h"

namespace tcpcopy::session {

using net::TcpSegment;
namespace tcpflag = net::tcpflag;

namespace {
constexpr std::uint32_t kTimestampOptionRoom = 12;
constexpr std::uint32_t kMinimumMss = 64;
constexpr std::uint32_t kDefaultMss = 536;  // RFC 1122
}  // namespace

std::uint32_t Session::tsNow(Time now) const {
    return context_.tsClockBase +
           static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

// The payload an -M packet has room for: the MTU less the IP (20 or 40 bytes) and TCP headers.
// IPv6 routers do not fragment (RFC 8200 5), so the bound matters there the more.
std::uint32_t Session::mtuPayload() const {
    const std::uint32_t headers = static_cast<std::uint32_t>(net::ipTcpHeadersLen(replay_.server.addr));
    const std::uint32_t mtu = context_.config.mtu;
    return mtu > headers ? mtu - headers : kDefaultMss;
}

std::uint16_t Session::effectiveMss() const {
    const EngineConfig& cfg = context_.config;
    std::uint32_t mss = std::min<std::uint32_t>(targetMss_, cfg.mss);
    mss = std::min<std::uint32_t>(mss, mtuPayload());
    // RFC 6691: the MSS counts data only; our options take room too.
    if (tsOk_) mss = mss > kTimestampOptionRoom ? mss - kTimestampOptionRoom : 0;
    return static_cast<std::uint16_t>(std::max<std::uint32_t>(mss, kMinimumMss));
}

// The window field to advertise for the captured raw window `raw`.
std::uint16_t Session::windowField(std::uint16_t raw) const {
    const std::uint8_t capturedShift = capturedWscale_.value_or(0);
    const std::uint64_t bytes = static_cast<std::uint64_t>(raw) << capturedShift;
    const std::uint8_t ourShift = wscaleInEffect_ ? capturedWscale_.value_or(0) : 0;
    return static_cast<std::uint16_t>(std::min<std::uint64_t>(bytes >> ourShift, 65535));
}

// A segment of this replayed connection, addressed to the target.
TcpSegment Session::addressedSegment() {
    TcpSegment s;
    s.src = replay_.client.addr;
    s.sport = replay_.client.port;
    s.dst = replay_.server.addr;
    s.dport = replay_.server.port;
    s.ttl = context_.config.ttl;
    s.ipId = ipId_++;
    return s;
}

// An established-state segment: acknowledging what the target sent, our window, timestamps.
TcpSegment Session::baseSegment(Time now) {
    TcpSegment s = addressedSegment();
    s.ack = rcvNxt_;
    s.window = windowField(advWindow_);
    if (tsOk_) s.options.timestamps = net::TcpTimestamps{tsNow(now), tsRecent_};
    return s;
}

void Session::transmit(const TcpSegment& s) {
    context_.output.sendToTarget(s);
    ++context_.stats.segmentsSent;
}

Time Session::baseRto(bool syn) const {
    const EngineConfig& cfg = context_.config;
    // RFC 6298 2.1: a SYN's first timeout is 1 s (or more) until the path is measured.
    const Time floor = syn ? std::max(cfg.initialRto * 5, Time(std::chrono::seconds(1))) : cfg.initialRto;
    return context_.rtt.rto(floor);
}

void Session::startTiming(std::uint64_t ackedAt, Time now) {
    timing_ = true;
    timedSentAt_ = now;
    timedAckAt_ = ackedAt;
}

void Session::finishTiming(Time now) {
    if (!timing_) return;
    timing_ = false;
    context_.rtt.sample(now - timedSentAt_);
}

void Session::sendSyn(Time now) {
    ++context_.stats.sessionsStarted;
    if (midstream_) ++context_.stats.sessionsMidstream;
    rto_ = baseRto(/*syn=*/true);
    startTiming(0, now);
    emitSyn(now);
}

void Session::emitSyn(Time now) {
    TcpSegment s = addressedSegment();
    s.seq = replayIsn_;
    s.flags = tcpflag::kSyn;
    s.window = synWindow_;
    const EngineConfig& cfg = context_.config;
    std::uint32_t mss = capturedMss_.value_or(cfg.mss);
    mss = std::min<std::uint32_t>({mss, cfg.mss, mtuPayload()});
    s.options.mss = static_cast<std::uint16_t>(mss);
    s.options.windowScale = capturedWscale_;
    if (wantTimestamps_) s.options.timestamps = net::TcpTimestamps{tsNow(now), 0};
    transmit(s);
    armRto(now);
}

void Session::sendAck(Time now) {
    TcpSegment s = baseSegment(now);
    s.seq = seqAt(sndNxt_);
    s.flags = tcpflag::kAck;
    transmit(s);
}

void Session::emitData(std::uint64_t offset, std::uint32_t len, bool push, Time now) {
    TcpSegment s = baseSegment(now);
    s.seq = seqAt(offset);
    s.flags = tcpflag::kAck | (push ? tcpflag::kPsh : 0);
    s.payload = sentBytes(offset, len);
    s.payloadLength = len;
    transmit(s);
    context_.stats.bytesSent += len;
}

void Session::emitControl(std::uint8_t flags, std::uint64_t offset, Time now) {
    TcpSegment s = baseSegment(now);
    s.seq = seqAt(offset);
    s.flags = flags;
    transmit(s);
}

// Whether the request at mark `m` may go out: the target has sent as many bytes as the captured
// server had, or it answered and then went quiet for responseQuiet (its answer is shorter than the
// captured one), or gateTimeout passed whatever happened.
bool Session::gatePassed(Mark& m, Time now) {
    const EngineConfig& cfg = context_.config;
    if (!cfg.waitForResponse || m.requiredServerBytes < 0) return true;
    const std::int64_t expected = m.requiredServerBytes + serverBytesShift_;
    const auto have = static_cast<std::int64_t>(targetSequenceUsed());
    if (have >= expected) return true;
    if (!m.waitingSince) {
        m.waitingSince = now;
        m.targetBytesAtWait = targetBytesAtLastSend_;
    }
    const bool responded = targetSequenceUsed() > m.targetBytesAtWait;
    const bool quiet = responded && now - lastTargetData_ >= cfg.responseQuiet;
    const bool expired = now - *m.waitingSince >= cfg.gateTimeout;
    if (quiet || expired) {
        if (expired && !quiet) ++context_.stats.gateTimeouts;
        // The target's reply differs in length from the capture's: re-base and go on.
        serverBytesShift_ = have - m.requiredServerBytes;
        return true;
    }
    return false;
}

std::optional<Time> Session::gateDeadline() const {
    const MarkQueue& marks = stream_.marks();
    if (marks.empty() || !synchronized()) return std::nullopt;
    const Mark& m = marks.front();
    if (!m.waitingSince || m.offset > sndNxt_) return std::nullopt;
    Time at = *m.waitingSince + context_.config.gateTimeout;
    if (targetSequenceUsed() > m.targetBytesAtWait)
        at = std::min(at, lastTargetData_ + context_.config.responseQuiet);
    return at;
}

void Session::pump(Time now) {
    if (!synchronized()) return;
    const std::uint16_t mss = effectiveMss();
    MarkQueue& marks = stream_.marks();
    for (;;) {
        while (!marks.empty() && markReached(marks.front())) {
            Mark& m = marks.front();
            if (!gatePassed(m, now)) return;
            if (m.window) advWindow_ = *m.window;
            if (m.request) ++context_.stats.requestsSent;
            if (m.rst) {
                emitControl(tcpflag::kRst | tcpflag::kAck, sndNxt_, now);
                ++context_.stats.resetsSent;
                ++context_.stats.sessionsCompleted;
                close(now, /*sendReset=*/false);
                return;
            }
            if (m.fin) {
                emitControl(tcpflag::kFin | tcpflag::kAck, sndNxt_, now);
                state_ = targetFin() ? State::Closing : State::FinWait;
                sndNxt_ += 1;
                sndMax_ = std::max(sndMax_, sndNxt_);
                armRto(now);
            }
            const bool windowOnly = m.window && m.requiredServerBytes < 0 && !m.fin && !m.rst &&
                                    m.offset == stream_.end() && allInputSent();
            marks.pop_front();
            if (windowOnly && sndUna_ == sndMax_) sendAck(now);  // a window update
        }
        if (finSent()) return;
        if (hook_ && !feedHook(now)) return;
        const std::uint64_t limit = sendEnd();
        const std::uint64_t windowEdge = sndUna_ + std::max<std::uint64_t>(targetWindow_, probing_ ? 1 : 0);
        if (sndNxt_ >= limit || sndNxt_ >= windowEdge) return;
        const std::uint64_t room = std::min(limit, windowEdge) - sndNxt_;
        const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(room, mss));
        const bool push = sndNxt_ + len == limit;
        if (len < room) ++context_.stats.resegmented;
        if (!timing_ && sndNxt_ == sndMax_) startTiming(sndNxt_ + len, now);  // new data only
        emitData(sndNxt_, len, push, now);
        if (sndUna_ == sndMax_) armRto(now);
        sndNxt_ += len;
        sndMax_ = std::max(sndMax_, sndNxt_);
        targetBytesAtLastSend_ = targetSequenceUsed();
    }
}

// Zero window: probe with one byte once the retransmission timer would have fired.
void Session::probeZeroWindow(Time now) {
    if (sndUna_ != sndMax_ || targetWindow_ != 0 || sndNxt_ >= sendEnd() || now < rtoDeadline_) return;
    probing_ = true;
    pump(now);
    probing_ = false;
    armRto(now);
}

void Session::processAck(const TcpSegment& seg, Time now) {
    const std::int64_t d = seg.ack.distanceFrom(seqAt(sndUna_));
    if (d > 0 && sndUna_ + static_cast<std::uint64_t>(d) <= sndMax_) {
        sndUna_ += static_cast<std::uint64_t>(d);
        if (sndNxt_ < sndUna_) sndNxt_ = sndUna_;
        if (timing_ && sndUna_ >= timedAckAt_) finishTiming(now);
        retries_ = 0;
        rto_ = baseRto(/*syn=*/false);
        armRto(now);
        if (hook_) {
            hook_->release(sndUna_);
        } else {
            stream_.release(sndUna_);
        }
    }
    targetWindow_ = static_cast<std::uint32_t>(seg.window) << targetWscale_;
}

void Session::retransmit(Time now) {
    ++context_.stats.retransmissions;
    timing_ = false;  // Karn: an ack may now be for either copy
    const std::uint64_t sentEnd = std::min(sndMax_, dataEnd());
    if (sndUna_ < sentEnd) {
        const auto len =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(sentEnd - sndUna_, effectiveMss()));
        emitData(sndUna_, len, true, now);
    } else if (finSent()) {
        emitControl(tcpflag::kFin | tcpflag::kAck, dataEnd(), now);
    }
    armRto(now);
}

// A mark is reached when every byte before it went out. With a hook, marks are input offsets:
// the hook must have used the input up to it and its output must be out; a mark that only changes
// the advertised window applies as soon as the hook used the input before it.
bool Session::markReached(const Mark& m) const {
    if (!hook_) return m.offset <= sndNxt_;
    if (m.offset > hook_->consumed()) return false;
    return !m.stopsSending() || (sndNxt_ >= hook_->outEnd() && !hook_->hook().holding());
}

bool Session::feedHook(Time now) {
    // The input the hook may see: up to the next mark that waits for the target or ends the
    // stream (window-only marks do not stop it: a hook may need bytes on both sides of one).
    const MarkQueue& marks = stream_.marks();
    std::uint64_t limit = stream_.end();
    for (std::size_t i = 0; i < marks.size(); ++i) {
        if (marks[i].stopsSending()) {
            limit = std::min(limit, marks[i].offset);
            break;
        }
    }
    const RewriteResult r = hook_->feed(stream_, limit);
    if (r.status == RewriteResult::Status::Refuse) {
        refuse(r.reason, now);
        return false;
    }
    if (const std::optional<HookRefusal> why = hook_->hook().refused()) {
        refuse(*why, now);
        return false;
    }
    stream_.release(hook_->consumed());
    return true;
}

}  // namespace tcpcopy::session
