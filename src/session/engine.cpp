// The engine: captured packets and the target's segments dispatched to sessions, sessions started
// (with their replay tuple), connections held until they can start, timers, accounting.

#include "tcpcopy/session/engine.h"

#include <algorithm>
#include <cassert>

#include "tcpcopy/session/client_map.h"
#include "tcpcopy/session/deadline_heap.h"
#include "tcpcopy/session/flow_set.h"
#include "tcpcopy/session/session.h"
#include "tcpcopy/session/session_table.h"
#include "tcpcopy/session/waiting_flows.h"

namespace tcpcopy::session {

using net::Endpoint;
using net::FlowKey;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;
using Slot = SessionTable::Slot;

namespace {

constexpr std::uint64_t kRampSalt = 0x5bd1e995u;
// How often the remembered-flow sets are swept (their entries live sessionTimeout).
constexpr Time kSweepInterval = std::chrono::seconds(1);

}  // namespace

class Engine::Impl {
  public:
    Impl(EngineConfig config, Output& output)
        : config_(normalized(std::move(config))),
          output_(output),
          context_{config_, stats_, output_, inputEnded_, rtt_, 1},
          pools_(splitPool(config_.clientPool)),
          table_(config_.copies > 1 || !config_.clientPool.empty() || config_.loopbackRewrite.has_value() ||
                 config_.portShiftFactor != 0),
          skipped_(config_.sessionTimeout, config_.maxSessions),
          idleAckSeen_(config_.sessionTimeout, config_.maxSessions),
          waiting_(config_.maxSessions, config_.maxSessionBytes),
          hooked_(std::any_of(config_.rules.begin(), config_.rules.end(),
                              [](const AddressRule& r) { return r.hook != nullptr; })) {}

    void onCaptured(const TcpSegment& seg, Time now) {
        now_ = now;
        dispatchCaptured(seg, now);
        reap();
    }

    void onResponse(const TcpSegment& seg, Time now) {
        now_ = now;
        const Slot slot = table_.byReplay(seg.serverToClientKey());
        if (slot == SessionTable::kNone) {
            ++stats_.responsesUnknown;
            return;
        }
        table_.get(slot)->onResponse(seg, now);
        settle(slot);
        reap();
    }

    void onTargetPayload(const TcpSegment& seg, Time now) {
        if (!hooked_) return;
        now_ = now;
        const Slot slot = table_.byReplay(seg.serverToClientKey());
        if (slot == SessionTable::kNone) return;
        table_.get(slot)->onTargetPayload(seg, now);
        settle(slot);
        reap();
    }

    void onTick(Time now) {
        now_ = now;
        while (const std::optional<Slot> slot = timers_.popDue(now)) {
            ++stats_.timerWakeups;
            table_.get(*slot)->onTimer(now);
            settle(*slot, now);
        }
        reap();
        if (now - lastSweep_ >= kSweepInterval) {
            lastSweep_ = now;
            skipped_.expire(now);
            idleAckSeen_.expire(now);
            updateRemembered();
        }
    }

    void onInputEnd(Time now) {
        now_ = now;
        inputEnded_ = true;
        skipped_.clear();
        idleAckSeen_.clear();
        updateRemembered();
        // Every session's deadlines change once the input is over (draining, holes): re-arm all.
        // A single walk at the end of the input, not one per tick.
        for (const Slot slot : table_.slots()) settle(slot);
        reap();
        onTick(now);
    }

    void abortAll(Time now) {
        now_ = now;
        for (const Slot slot : table_.slots()) {
            table_.get(slot)->abort(now);
            settle(slot);
        }
        reap();
    }

    bool inputEnded() const { return inputEnded_; }
    bool finished() const { return inputEnded_ && table_.empty() && waiting_.empty(); }
    Time nextDeadline() const { return timers_.earliest(); }
    std::size_t waitingSessions() const { return waiting_.size(); }
    const EngineStats& stats() const { return stats_; }
    std::size_t activeSessions() const { return table_.size(); }
    const EngineConfig& config() const { return config_; }
    std::size_t bytesBuffered() const { return buffered_; }

  private:
    static EngineConfig normalized(EngineConfig c) {
        if (c.copies == 0) c.copies = 1;
        return c;
    }

    const AddressRule* matchRule(const TcpSegment& seg) const {
        return session::matchRule(config_.rules, seg.dst, seg.dport);
    }

    // The replay client a copy of a captured client maps to (client_map.h).
    Endpoint replayClient(const Endpoint& captured, unsigned copy, const Endpoint& target) const {
        return replayClientFor(captured, copy, config_.loopbackRewrite, pools_.forTarget(target.addr),
                               config_.portShiftFactor);
    }

    void dispatchCaptured(const TcpSegment& seg, Time now) {
        ++stats_.packetsIn;
        if (!firstPacketAt_) firstPacketAt_ = now;
        const AddressRule* rule = matchRule(seg);
        if (rule == nullptr) {
            if (hooked_) toHooks(seg, now);
            ++stats_.packetsIgnored;
            return;
        }
        const FlowKey captured = seg.clientToServerKey();
        if (waiting_.contains(captured)) {
            hold(captured, seg, WaitingFlows::Reason::ForSlot);  // joins the connection that waits
            return;
        }
        if (seg.has(tcpflag::kSyn)) {
            onCapturedSyn(captured, seg, *rule, now);
            return;
        }
        if (skipped_.refresh(captured, now)) {
            ++stats_.packetsIgnored;
            return;
        }
        const Slot first = table_.firstByCaptured(captured);
        if (first != SessionTable::kNone) {
            forEachCopy(first, [&](Session& s) { s.onCaptured(seg, now); });
            return;
        }
        if (seg.has(tcpflag::kRst) || seg.payloadLength == 0) {
            // A pure ACK, FIN or RST of a connection we never saw start: nothing to replay yet, but
            // a pure ACK tells that the client's next data starts a request.
            if (!seg.has(tcpflag::kRst) && !seg.has(tcpflag::kFin) && !overMemoryLimit()) {
                idleAckSeen_.touch(captured, now);
                updateRemembered();
            }
            ++stats_.packetsIgnored;
            return;
        }
        if (mustWaitForSlot()) {
            hold(captured, seg, WaitingFlows::Reason::ForSlot);  // replayed later through here
            return;
        }
        const bool afterIdleAck = idleAckSeen_.erase(captured);
        startSessions(seg, *rule, now, afterIdleAck);
    }

    // A captured segment from the server side of a rule with a hook: the online server's answers,
    // which the hooks of its sessions read (the ids a server handed out, say).
    void toHooks(const TcpSegment& seg, Time now) {
        const AddressRule* rule = session::matchRule(config_.rules, seg.src, seg.sport);
        if (rule == nullptr || rule->hook == nullptr) return;
        const Slot first = table_.firstByCaptured(seg.serverToClientKey());
        if (first != SessionTable::kNone)
            forEachCopy(first, [&](Session& s) { s.onCapturedServer(seg, now); });
    }

    void onCapturedSyn(const FlowKey& captured, const TcpSegment& seg, const AddressRule& rule, Time now) {
        if (seg.has(tcpflag::kAck)) {
            ++stats_.packetsIgnored;
            return;
        }
        const Slot first = table_.firstByCaptured(captured);
        if (first != SessionTable::kNone) {
            if (table_.get(first)->capturedIsn() == seg.seq) {
                ++stats_.captureRetransmissions;
                return;
            }
            // A new connection on a client ip:port whose previous connection is still being
            // replayed. The real client could reuse the port because that connection had ended;
            // the new one waits for the replayed one to end too, then starts on the same tuple
            // with its own ISN, as the real one did (RFC 6191: the target accepts a SYN on a
            // TIME_WAIT tuple with a higher ISN or timestamp). Moving it to another port instead
            // would meet the target's state from some other connection there.
            ++stats_.portReuses;
            for (Slot s = first; s != SessionTable::kNone; s = table_.next(s)) {
                table_.get(s)->detachFromInput();
                settle(s);
            }
            skipped_.erase(captured);
            hold(captured, seg, WaitingFlows::Reason::BehindOldSession);
            return;
        }
        skipped_.erase(captured);
        if (mustWaitForSlot()) {
            hold(captured, seg, WaitingFlows::Reason::ForSlot);
            return;
        }
        startSessions(seg, rule, now, false);
    }

    // Calls `feed` on every session of a captured flow's chain, each settled after its call.
    template <class Feed>
    void forEachCopy(Slot first, Feed feed) {
        // Slots first: a session may end (and leave the chain) while it is fed.
        Slot copies[16];
        std::size_t n = 0;
        std::vector<Slot> more;
        for (Slot s = first; s != SessionTable::kNone; s = table_.next(s)) {
            if (n < std::size(copies)) {
                copies[n++] = s;
            } else {
                more.push_back(s);
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            feed(*table_.get(copies[i]));
            settle(copies[i]);
        }
        for (const Slot s : more) {
            feed(*table_.get(s));
            settle(s);
        }
    }

    bool skipBySampling(const FlowKey& captured, bool midstream, Time now) {
        if (!sampledIn(captured, config_.samplePercent)) {
            ++stats_.sessionsSampledOut;
            return true;
        }
        if (config_.rampDuration > Time{0} && firstPacketAt_ &&
            now - *firstPacketAt_ < config_.rampDuration) {
            const auto share = static_cast<std::uint64_t>(100 * (now - *firstPacketAt_).count() /
                                                          config_.rampDuration.count());
            if (net::mix64(net::FlowKeyHash{}(captured) ^ kRampSalt) % 100 >= share) {
                ++stats_.sessionsRampedOut;
                return true;
            }
        }
        if (midstream && config_.onlyCompleteSessions) {
            ++stats_.sessionsSkippedMidstream;
            return true;
        }
        return false;
    }

    void startSessions(const TcpSegment& seg, const AddressRule& rule, Time now, bool atRequestStart) {
        const FlowKey captured = seg.clientToServerKey();
        ++stats_.sessionsCaptured;
        const bool midstream = !seg.has(tcpflag::kSyn);
        if (skipBySampling(captured, midstream, now)) {
            skip(captured, now);
            return;
        }
        for (unsigned copy = 0; copy < config_.copies; ++copy) {
            if (table_.size() >= config_.maxSessions || overMemoryLimit()) {
                ++stats_.sessionsShed;
                continue;
            }
            const Endpoint client = replayClient(captured.client, copy, rule.target);
            if (client.addr.isV4() != rule.target.addr.isV4()) {
                ++stats_.sessionsSkippedFamily;
                break;
            }
            bool remapped = false;
            const std::optional<FlowKey> tuple = table_.claimTuple(FlowKey{client, rule.target}, remapped);
            if (!tuple) {
                ++stats_.sessionsShed;
                continue;
            }
            if (remapped) ++stats_.portRemaps;
            const Slot slot = table_.insert(std::make_unique<Session>(context_, captured, *tuple, now));
            output_.addRoute(*tuple);
            output_.sessionStarted(captured, *tuple, copy);
            Session* session = table_.get(slot);
            if (rule.hook != nullptr) {
                session->attachHook(rule.hook->create(captured));
                ++stats_.sessionsHooked;
            }
            if (midstream) {
                session->startMidstream(seg, now, atRequestStart);
            } else {
                session->startFromSyn(seg, now);
            }
            settle(slot);
        }
        // Every copy shed: drop the rest of this connection rather than pick it up mid-stream
        // once memory frees up. (settle() already skipped it if a copy started and ended.)
        if (table_.firstByCaptured(captured) == SessionTable::kNone) skip(captured, now);
    }

    void skip(const FlowKey& captured, Time now) {
        skipped_.touch(captured, now);
        updateRemembered();
    }

    // After any call into the session in `slot`: its memory counted, its timer re-armed, or, if
    // it closed, its retirement. `now` bounds a re-armed deadline from below (see onTick).
    void settle(Slot slot, std::optional<Time> firedAt = std::nullopt) {
        Session* session = table_.get(slot);
        const std::size_t footprint =
            session->closed() ? 0 : session->footprint() + SessionTable::kPerSessionOverhead;
        std::size_t& accounted = table_.accounted(slot);
        adjustBuffered(accounted, footprint);
        accounted = footprint;
        if (session->closed()) {
            retire(slot);
            return;
        }
        Time next = session->nextDeadline();
        if (next == Time::max()) {
            timers_.erase(slot);
            return;
        }
        if (firedAt && next <= *firedAt) {
            // A timer that fired must have moved its deadline; if it did not, waiting until the
            // next tick keeps the loop from spinning on it.
            assert(false && "session deadline did not advance after its timer fired");
            next = *firedAt + Time(1);
        }
        timers_.set(slot, next);
    }

    void retire(Slot slot) {
        timers_.erase(slot);
        std::unique_ptr<Session> session = table_.remove(slot);
        output_.removeRoute(session->replay());
        const FlowKey captured = session->captured();
        output_.sessionEnded(captured, session->replay());
        retired_.push_back(std::move(session));
        if (table_.firstByCaptured(captured) != SessionTable::kNone) return;
        if (waiting_.contains(captured)) {
            readyBehind_.push_back(captured);  // the reused port is free: the next connection starts
        } else if (!inputEnded_) {
            // The capture may still hold the rest of this connection (the target reset it, it
            // timed out): those packets belong to the session that just ended, not to a new
            // mid-stream one. Only a new SYN on the flow starts a session again.
            skip(captured, now_);
        }
    }

    // At the end of every call: ended sessions die, and connections that can start now do, in
    // order: those that waited behind an ended session, then those waiting for a slot.
    void reap() {
        if (reaping_) return;  // re-entered from the replays below
        reaping_ = true;
        for (;;) {
            retired_.clear();
            if (!readyBehind_.empty()) {
                const FlowKey flow = readyBehind_.front();
                readyBehind_.erase(readyBehind_.begin());
                if (auto packets = waiting_.releaseBehind(flow)) replay(*packets);
                continue;
            }
            if (waiting_.anyForSlot() && !mustWaitForSlot()) {
                if (auto packets = waiting_.releaseNextForSlot()) replay(*packets);
                continue;
            }
            break;
        }
        reaping_ = false;
        adjustBuffered(0, 0);
        stats_.activeSessions = table_.size();
        stats_.rttSamples = rtt_.samples();
        stats_.rttSmoothedUs = static_cast<std::uint64_t>(rtt_.srtt().count() / 1000);
        stats_.rttVariationUs = static_cast<std::uint64_t>(rtt_.rttvar().count() / 1000);
    }

    void replay(std::vector<WaitingFlows::Packet>& packets) {
        adjustBuffered(0, 0);
        for (const WaitingFlows::Packet& p : packets) {
            --stats_.packetsIn;  // counted when it first came in
            dispatchCaptured(p.segment, now_);
        }
    }

    bool mustWaitForSlot() const {
        // Over -m the connection is shed (startSessions counts it), not kept waiting.
        return config_.maxActiveSessions > 0 && table_.size() >= config_.maxActiveSessions &&
               !overMemoryLimit();
    }

    void hold(const FlowKey& captured, const TcpSegment& seg, WaitingFlows::Reason reason) {
        switch (waiting_.add(captured, seg, reason)) {
            case WaitingFlows::AddResult::NewFlow:
                if (reason == WaitingFlows::Reason::ForSlot) ++stats_.sessionsDeferred;
                break;
            case WaitingFlows::AddResult::Added:
                break;
            case WaitingFlows::AddResult::FlowDropped:
            case WaitingFlows::AddResult::Refused:
                ++stats_.sessionsCaptured;
                ++stats_.sessionsShed;
                skip(captured, now_);
                break;
        }
        adjustBuffered(0, 0);
    }

    bool overMemoryLimit() const {
        return config_.memoryLimitBytes > 0 && buffered_ >= config_.memoryLimitBytes;
    }

    void updateRemembered() {
        stats_.flowsForgotten = skipped_.evicted() + idleAckSeen_.evicted();
        stats_.flowsRemembered = skipped_.size() + idleAckSeen_.size();
        adjustBuffered(0, 0);
    }

    // The engine's total: sessions (adjusted by before/after), waiting packets, remembered flows.
    void adjustBuffered(std::size_t before, std::size_t after) {
        assert(sessionBytes_ >= before);
        sessionBytes_ = sessionBytes_ - before + after;
        buffered_ = sessionBytes_ + waiting_.bytes() +
                    (skipped_.size() + idleAckSeen_.size()) * Engine::kRememberedFlowBytes;
        stats_.bytesBuffered = buffered_;
        stats_.bytesBufferedPeak = std::max<std::uint64_t>(stats_.bytesBufferedPeak, buffered_);
    }

    EngineConfig config_;
    Output& output_;
    EngineStats stats_;
    bool inputEnded_ = false;
    Time now_{0};  // time of the call being processed
    PathRtt rtt_;
    SessionContext context_;
    const FamilyPools pools_;  // -c by family
    SessionTable table_;
    DeadlineHeap timers_;
    FlowSet skipped_;      // flows whose packets are dropped until they go quiet
    FlowSet idleAckSeen_;  // flows of unknown start whose client acknowledged without data
    WaitingFlows waiting_;
    const bool hooked_;  // some rule has a protocol hook: server-side packets and payloads matter
    std::vector<std::unique_ptr<Session>> retired_;
    std::vector<FlowKey> readyBehind_;
    bool reaping_ = false;
    Time lastSweep_{0};
    std::optional<Time> firstPacketAt_;  // start of the -g ramp
    std::size_t sessionBytes_ = 0;       // sum of every live session's footprint
    std::size_t buffered_ = 0;
};

Engine::Engine(EngineConfig config, Output& output)
    : impl_(std::make_unique<Impl>(std::move(config), output)) {}
Engine::~Engine() = default;
void Engine::onCaptured(const TcpSegment& segment, Time now) { impl_->onCaptured(segment, now); }
void Engine::onResponse(const TcpSegment& segment, Time now) { impl_->onResponse(segment, now); }
void Engine::onTargetPayload(const TcpSegment& segment, Time now) { impl_->onTargetPayload(segment, now); }
void Engine::onTick(Time now) { impl_->onTick(now); }
void Engine::onInputEnd(Time now) { impl_->onInputEnd(now); }
void Engine::abortAll(Time now) { impl_->abortAll(now); }
bool Engine::inputEnded() const { return impl_->inputEnded(); }
bool Engine::finished() const { return impl_->finished(); }
Time Engine::nextDeadline() const { return impl_->nextDeadline(); }
std::size_t Engine::waitingSessions() const { return impl_->waitingSessions(); }
const EngineStats& Engine::stats() const { return impl_->stats(); }
std::size_t Engine::activeSessions() const { return impl_->activeSessions(); }
const EngineConfig& Engine::config() const { return impl_->config(); }
std::size_t Engine::bytesBuffered() const { return impl_->bytesBuffered(); }

}  // namespace tcpcopy::session
