#pragma once
// One replayed connection: the client's TCP as the engine plays it toward the target. Pure
// logic: captured client segments, the target's segments and time go in; segments for the target
// go out through SessionContext::output. The session never calls back into the engine: after
// each call the engine reads closed() and nextDeadline() and files the session accordingly.
//
// session.cpp holds the life cycle (start, the target's segments, timers, close); sender.cpp the
// sending side (request pacing, windows, segmentation, retransmission).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/session/client_stream.h"
#include "tcpcopy/session/hook_stage.h"
#include "tcpcopy/session/path_rtt.h"
#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

struct EngineConfig;
struct EngineStats;
class Output;

// What a session may use of the engine: read-only configuration, the counters, the segment sink,
// whether the whole input has ended, and the path's round-trip estimate all sessions feed.
struct SessionContext {
    const EngineConfig& config;
    EngineStats& stats;
    Output& output;
    const bool& inputEnded;
    PathRtt& rtt;
    std::uint32_t tsClockBase = 1;  // TSval at time 0
};

class Session {
  public:
    enum class State : std::uint8_t {
        SynSent,      // our SYN is out, no SYN-ACK yet
        Established,  // both directions open
        FinWait,      // we sent our FIN; the target's side is open
        CloseWait,    // the target sent its FIN; ours is not out yet
        Closing,      // both FINs out: waiting for ours to be acknowledged
        Closed,       // over; the engine retires the session
    };

    Session(SessionContext& context, const net::FlowKey& captured, const net::FlowKey& replay, Time now);

    // Starts the connection from its captured SYN (the ISN, MSS, window scale and timestamps are
    // kept) or from a segment captured mid-stream (the handshake is made up).
    void startFromSyn(const net::TcpSegment& syn, Time now);
    void startMidstream(const net::TcpSegment& first, Time now, bool atRequestStart);
    // Gives the session a protocol hook (hook.h); before it starts.
    void attachHook(std::unique_ptr<ProtocolHook> hook) {
        hook_ = std::make_unique<HookStage>(std::move(hook));
    }
    // A captured client segment of this connection.
    void onCaptured(const net::TcpSegment& seg, Time now);
    // A segment the online server sent on this connection, from the capture (hooked sessions).
    void onCapturedServer(const net::TcpSegment& seg, Time now);
    // The payload of a target segment onResponse() had without it (hooked sessions).
    void onTargetPayload(const net::TcpSegment& seg, Time now);
    // A segment the target sent on this connection (headers; payloadLength counts).
    void onResponse(const net::TcpSegment& seg, Time now);
    // Time has reached nextDeadline() (or later): retransmit, release a paced request, time out.
    void onTimer(Time now);
    // The capture holds nothing more of this connection (a new connection reused its port).
    void detachFromInput() { inputDone_ = true; }
    // Resets the connection at the target (SIGTERM) and counts it aborted.
    void abort(Time now);

    // The earliest time at which onTimer() may have something to do; Time::max() when nothing
    // but a new segment can change this session. Never later than the session's real next
    // deadline (an early call is harmless: it re-arms).
    Time nextDeadline() const;

    State state() const { return state_; }
    bool closed() const { return state_ == State::Closed; }
    const net::FlowKey& replay() const { return replay_; }
    const net::FlowKey& captured() const { return captured_; }
    net::SeqNum capturedIsn() const { return capturedIsn_; }
    // Heap and object bytes this session holds now; 0 once closed (its buffers die with it).
    std::size_t footprint() const;

  private:
    // --- life cycle (session.cpp)
    bool synchronized() const { return state_ != State::SynSent && state_ != State::Closed; }
    bool finSent() const { return state_ == State::FinWait || state_ == State::Closing; }
    bool targetFin() const { return state_ == State::CloseWait || state_ == State::Closing; }
    bool inputOver() const { return inputDone_ || context_.inputEnded; }
    bool nothingPending() const;
    bool overBufferLimit() const;
    void establish(const net::TcpSegment& synAck, Time now);
    void onTargetFin();
    void checkDone(Time now);
    void close(Time now, bool sendReset);
    void fail(Time now);
    void refuse(HookRefusal reason, Time now);

    // --- sending side (sender.cpp)
    void sendSyn(Time now);
    void emitSyn(Time now);
    void sendAck(Time now);
    void emitData(std::uint64_t offset, std::uint32_t len, bool push, Time now);
    void emitControl(std::uint8_t flags, std::uint64_t offset, Time now);
    net::TcpSegment addressedSegment();
    net::TcpSegment baseSegment(Time now);
    void transmit(const net::TcpSegment& s);
    bool gatePassed(Mark& m, Time now);
    // Sends what the marks, the target's window and the MSS allow; may close the session.
    void pump(Time now);
    void processAck(const net::TcpSegment& seg, Time now);
    void retransmit(Time now);
    void probeZeroWindow(Time now);
    // --- the stream as sent: the client stream itself, or a hook's output (hook_stage.h)
    bool markReached(const Mark& m) const;
    // Passes the client's bytes up to the next waiting point through the hook; false if it
    // refused the session (closed).
    bool feedHook(Time now);
    std::uint64_t sendEnd() const { return hook_ ? hook_->outEnd() : stream_.sendLimit(); }
    std::uint64_t dataEnd() const { return hook_ ? hook_->outEnd() : stream_.end(); }
    // Every captured client byte went out (or, hooked, through the hook and out).
    bool allInputSent() const {
        if (!hook_) return sndNxt_ >= stream_.end();
        return hook_->consumed() >= stream_.end() && sndNxt_ >= hook_->outEnd() && !hook_->hook().holding();
    }
    net::Bytes sentBytes(std::uint64_t offset, std::uint32_t len) const {
        return hook_ ? hook_->bytes(offset, len) : stream_.bytes(offset, len);
    }
    void armRto(Time now) { rtoDeadline_ = now + rto_; }
    // The retransmission timeout of a fresh (not backed-off) timer: for a SYN, or for data.
    Time baseRto(bool syn) const;
    // RTT sampling (one timed segment at a time; Karn: a retransmission cancels it).
    void startTiming(std::uint64_t ackedAt, Time now);
    void finishTiming(Time now);
    std::uint16_t effectiveMss() const;
    std::uint32_t mtuPayload() const;
    std::uint16_t windowField(std::uint16_t raw) const;
    std::uint32_t tsNow(Time now) const;
    net::SeqNum seqAt(std::uint64_t offset) const {
        return replayIsn_ + 1 + static_cast<std::uint32_t>(offset);
    }
    // The target's sequence space used so far: its data bytes and its FIN. A captured client's
    // ack covers the server's FIN too, so pacing compares against both (a request or FIN sent
    // after the server closed would otherwise wait for responseQuiet).
    std::uint64_t targetSequenceUsed() const { return targetBytes_ + (targetFin() ? 1 : 0); }
    // When the first mark's pacing gate would open by time alone, if it is waiting.
    std::optional<Time> gateDeadline() const;

    SessionContext& context_;
    net::FlowKey captured_;
    net::FlowKey replay_;
    State state_ = State::SynSent;
    bool midstream_ = false;
    bool inputDone_ = false;
    bool wantTimestamps_ = false;  // the captured SYN carried timestamps
    bool wscaleInEffect_ = false;
    bool tsOk_ = false;  // timestamps agreed with the target
    std::uint8_t retries_ = 0;
    std::uint8_t synRetries_ = 0;
    std::uint8_t targetWscale_ = 0;
    std::optional<std::uint8_t> capturedWscale_;
    std::optional<std::uint16_t> capturedMss_;
    std::uint16_t synWindow_ = 0;
    std::uint16_t targetMss_ = 536;
    std::uint16_t advWindow_ = 0;
    std::uint16_t ipId_ = 0;

    // The captured client side.
    net::SeqNum capturedIsn_;  // the captured SYN's sequence number
    net::SeqNum replayIsn_;    // the ISN we sent the target
    ClientStream stream_;
    std::unique_ptr<HookStage> hook_;  // only for rules with a protocol hook

    // The target's side.
    net::SeqNum rcvNxt_;
    std::uint32_t targetWindow_ = 0;  // bytes, scaled
    std::uint32_t tsRecent_ = 0;
    std::uint64_t targetBytes_ = 0;  // target data bytes received in order
    std::uint64_t targetBytesAtLastSend_ = 0;
    // How much longer (or shorter) the target's responses are than the captured ones, so far.
    std::int64_t serverBytesShift_ = 0;
    Time lastTargetData_{0};
    Time lastActivity_;  // the target's last segment (or our start)

    // Our sending side, as offsets in the client stream (0 = first data byte).
    std::uint64_t sndUna_ = 0;
    std::uint64_t sndNxt_ = 0;
    std::uint64_t sndMax_ = 0;
    Time rto_{0};
    Time rtoDeadline_{0};
    Time timedSentAt_{0};           // when the timed segment went out
    std::uint64_t timedAckAt_ = 0;  // the timing ends when sndUna_ reaches this
    bool timing_ = false;
    bool probing_ = false;  // a zero-window probe may send one byte beyond the window
};

}  // namespace tcpcopy::session
