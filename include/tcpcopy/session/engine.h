#pragma once
// The client-side TCP engine of tcpcopy: pure logic, no I/O and no clock of its own.
//
// Captured client packets and the target's responses (IP+TCP headers returned by intercept) go
// in, each with the current monotonic time; segments to inject toward the target and tunnel
// route messages come out through an Output. onTick() drives timers. The engine plays the
// client's TCP: it opens each connection to the target (fabricating the handshake for sessions
// captured mid-stream), learns the target's ISN from the SYN-ACK, rewrites acks and timestamps
// into the target's sequence space, paces each request behind the response the captured client
// had seen, resends what the target does not acknowledge, resegments to the MSS and closes
// every session either cleanly or with a reset.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::session {

// Monotonic time in nanoseconds, supplied by the caller.
using Time = std::chrono::nanoseconds;

// Where the engine's effects go. Spans inside the segments are valid only during the call.
class Output {
public:
    virtual ~Output() = default;
    // A segment for the target, every field final (addresses, ports, seq/ack, options, payload).
    virtual void sendToTarget(const net::TcpSegment& segment) = 0;
    // Route messages for intercept: flow.client = replay client ip:port, flow.server = target.
    virtual void addRoute(const net::FlowKey& flow) = 0;
    virtual void removeRoute(const net::FlowKey& flow) = 0;
};

// One -x rule: captured traffic to [onlineAddr:]onlinePort goes to target.
struct AddressRule {
    std::optional<net::Ipv4Addr> onlineAddr;
    net::Port onlinePort;
    net::Endpoint target;
};

struct EngineConfig {
    std::vector<AddressRule> rules;
    std::vector<net::Ipv4Addr> clientPool;       // -c: replay client addresses (empty: keep captured)
    std::optional<net::Ipv4Addr> loopbackRewrite;  // -H: replaces captured 127.x client addresses
    unsigned copies = 1;                          // -n: replayed copies of each session (1..1023)
    unsigned portShiftFactor = 0;                 // -f: separates the ports of several instances
    unsigned samplePercent = 100;                 // -r: share of sessions replayed (by flow hash)
    // -g: over this long from the first captured packet, the share of new sessions replayed
    // grows linearly from 0 to 100% (chosen by flow hash), so a cold target warms up. 0: off.
    Time rampDuration{0};
    bool waitForResponse = true;                  // !-W
    bool onlyCompleteSessions = false;            // -O: skip sessions captured without their SYN
    std::uint16_t mss = 1460;                     // -D: upper bound on segment payload
    std::uint16_t mtu = 1500;                     // -M: upper bound on IP packet size
    Time sessionTimeout = std::chrono::seconds(120);   // -t: no progress at all for this long
    Time keepaliveTimeout = std::chrono::seconds(3600);  // -k: idle established session
    Time initialRto = std::chrono::milliseconds(200);  // -R: first retransmission timeout
    Time maxRto = std::chrono::seconds(3);
    unsigned maxRetransmits = 8;                  // then the session is reset and counted failed
    unsigned maxSynRetries = 4;
    // Pacing of a request behind the response the captured client had seen before sending it:
    // it goes out when the target has sent as many bytes, or once the target has sent something
    // and then been quiet for responseQuiet, or after gateTimeout whatever happened.
    Time responseQuiet = std::chrono::milliseconds(60);
    Time gateTimeout = std::chrono::seconds(2);
    // After the input ends, a session with nothing left to send or acknowledge and no traffic
    // for this long is closed (reset at the target) and counted as ended by the replay.
    Time drainGrace = std::chrono::milliseconds(300);
    // --max-active: at most this many sessions open at once; a new captured connection beyond
    // it waits (its packets kept, counted in bytesBuffered for -m) and starts, in capture
    // order, as soon as a session ends. Bursts then reach the target at a pace it can take
    // instead of overflowing its backlog. 0: no limit.
    std::size_t maxActiveSessions = 0;
    std::size_t maxSessions = 1'000'000;          // new sessions beyond this are shed and counted
    // Client bytes one session may buffer (captured but not yet acknowledged by the target, plus
    // out-of-order segments); a session over it is reset and counted. 0: no limit.
    std::size_t maxSessionBytes = std::size_t{64} << 20;
    // -m: while the bytes the engine buffers (see EngineStats::bytesBuffered) are at or above
    // this, new sessions are shed and counted; running sessions go on. 0: no limit.
    std::size_t memoryLimitBytes = 0;
    std::uint8_t ttl = 64;
};

struct EngineStats {
    std::uint64_t packetsIn = 0;           // captured packets offered
    std::uint64_t packetsIgnored = 0;      // not matching a rule, server-side, or of a skipped session
    std::uint64_t sessionsCaptured = 0;    // distinct captured connections seen (incarnations)
    std::uint64_t sessionsSampledOut = 0;  // -r
    std::uint64_t sessionsRampedOut = 0;   // -g: skipped while the ramp was below 100%
    std::uint64_t sessionsSkippedMidstream = 0;  // -O
    std::uint64_t sessionsDeferred = 0;    // --max-active: connections that waited for a free slot
    std::uint64_t sessionsShed = 0;        // over maxSessions or memoryLimitBytes
    std::uint64_t sessionsStarted = 0;     // replayed sessions (copies count separately)
    std::uint64_t sessionsMidstream = 0;   // started with a fabricated handshake
    std::uint64_t sessionsEstablished = 0;
    std::uint64_t sessionsCompleted = 0;   // FIN exchanged both ways, or closed as the capture did
    std::uint64_t sessionsEndedByReplay = 0;  // input over, nothing left: reset by us
    std::uint64_t sessionsResetByTarget = 0;
    std::uint64_t sessionsTimedOut = 0;
    std::uint64_t sessionsFailed = 0;      // no SYN-ACK, or retransmissions exhausted
    std::uint64_t sessionsAborted = 0;     // still open at abortAll() (SIGTERM), reset by us
    std::uint64_t sessionsNoSynAck = 0;
    std::uint64_t sessionsOverBuffer = 0;  // reset: more than maxSessionBytes buffered
    std::uint64_t portReuses = 0;          // a captured ip:port reused while its old session ran
    std::uint64_t portRemaps = 0;          // replay port moved to avoid a collision
    std::uint64_t requestsSent = 0;        // client data runs sent (one per gate / request)
    std::uint64_t segmentsSent = 0;
    std::uint64_t bytesSent = 0;
    std::uint64_t retransmissions = 0;
    std::uint64_t captureRetransmissions = 0;  // duplicate or overlapping data in the capture
    std::uint64_t captureOutOfOrder = 0;
    std::uint64_t captureGapsSkipped = 0;  // data never captured; the stream was closed over it
    std::uint64_t resegmented = 0;         // captured segments larger than the MSS, split
    std::uint64_t responsesSeen = 0;       // target segments received
    std::uint64_t responseBytes = 0;       // target payload bytes acknowledged
    std::uint64_t responsesUnknown = 0;    // target segments for no session
    std::uint64_t gateTimeouts = 0;        // requests released by timeout, not by a response
    std::uint64_t resetsSent = 0;
    std::uint64_t activeSessions = 0;
    // Memory the sessions hold: client stream buffers (allocated capacity), out-of-order
    // segments, pacing marks and a fixed per-session overhead. Current value and high-water mark.
    std::uint64_t bytesBuffered = 0;
    std::uint64_t bytesBufferedPeak = 0;
};

class Session;

class Engine {
public:
    Engine(EngineConfig config, Output& output);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // A captured packet (any direction; only client-to-server packets of a rule are used).
    void onCaptured(const net::TcpSegment& segment, Time now);
    // A packet the target sent (headers only: payloadLength counts, payload may be empty).
    void onResponse(const net::TcpSegment& segment, Time now);
    // Timers: retransmission, pacing, timeouts. Call every few milliseconds.
    void onTick(Time now);
    // No more captured packets will come (end of file).
    void onInputEnd(Time now);
    // Resets every open session at the target (SIGTERM).
    void abortAll(Time now);

    bool inputEnded() const { return inputEnded_; }
    // Input ended and every session is over.
    bool finished() const { return inputEnded_ && sessions_.empty() && deferred_.empty(); }
    // Connections waiting for a free slot (--max-active).
    std::size_t deferredSessions() const { return deferred_.size(); }
    const EngineStats& stats() const { return stats_; }
    std::size_t activeSessions() const { return sessions_.size(); }
    const EngineConfig& config() const { return config_; }
    // Current EngineStats::bytesBuffered, exact after every call into the engine.
    std::size_t bytesBuffered() const { return buffered_; }

private:
    friend class Session;
    using SessionPtr = std::unique_ptr<Session>;

    const AddressRule* matchRule(const net::TcpSegment& segment) const;
    void startSessions(const net::TcpSegment& segment, const AddressRule& rule, Time now, bool atRequestStart = false);
    net::Endpoint allocateReplayClient(const net::Endpoint& captured, unsigned copy);
    void retire(Session* session);
    bool mustDefer() const;
    void defer(const net::FlowKey& captured, const net::TcpSegment& segment);
    void startDeferred();
    void reap();
    bool overMemoryLimit() const { return config_.memoryLimitBytes > 0 && buffered_ >= config_.memoryLimitBytes; }
    void adjustBuffered(std::size_t before, std::size_t after);

    EngineConfig config_;
    Output& output_;
    EngineStats stats_;
    bool inputEnded_ = false;
    Time now_{0};  // time of the call being processed
    std::uint32_t tsClockBase_ = 0;
    // Every live session, owned here; keyed by replay flow (client = replay client, server = target).
    std::unordered_map<net::FlowKey, SessionPtr, net::FlowKeyHash> sessions_;
    // Captured flow -> the sessions (one per copy) currently fed by it.
    // The sessions (one per copy, -n) one captured flow feeds: nearly always one, kept inline so
    // that an open session costs no separate vector allocation.
    class SessionList {
    public:
        Session* const* begin() const { return more_.empty() ? &one_ : more_.data(); }
        Session* const* end() const { return begin() + size(); }
        std::size_t size() const { return more_.empty() ? (one_ != nullptr ? 1 : 0) : more_.size(); }
        bool empty() const { return size() == 0; }
        void push_back(Session* s) {
            if (empty()) {
                one_ = s;
                return;
            }
            if (more_.empty()) more_.push_back(one_);
            more_.push_back(s);
        }
        // Removes `s`; false when it was not in the list.
        bool erase(Session* s) {
            if (more_.empty()) {
                if (one_ != s) return false;
                one_ = nullptr;
                return true;
            }
            if (std::erase(more_, s) == 0) return false;
            if (more_.size() <= 1) {
                one_ = more_.empty() ? nullptr : more_.front();
                more_.clear();
                more_.shrink_to_fit();
            }
            return true;
        }

    private:
        Session* one_ = nullptr;        // the only session while more_ is empty
        std::vector<Session*> more_;    // all of them once there are two or more
    };
    std::unordered_map<net::FlowKey, SessionList, net::FlowKeyHash> byCaptured_;
    // Captured flows whose packets are dropped (sampled out, -O, shed) until they go quiet.
    std::unordered_map<net::FlowKey, Time, net::FlowKeyHash> skipped_;
    // Captured flows of unknown start whose client was seen acknowledging without data: their
    // next data begins a request.
    std::unordered_map<net::FlowKey, Time, net::FlowKeyHash> idleAckSeen_;
    std::vector<Session*> retired_;
    Time lastSkippedSweep_{0};
    std::optional<Time> firstPacketAt_;  // start of the -g ramp
    std::size_t buffered_ = 0;  // sum of every live session's footprint
    // --max-active: captured packets of connections waiting to start, and their order.
    struct DeferredPacket {
        net::TcpSegment segment;         // payload re-pointed at `payload` when replayed
        std::vector<std::byte> payload;
    };
    std::unordered_map<net::FlowKey, std::vector<DeferredPacket>, net::FlowKeyHash> deferred_;
    std::deque<net::FlowKey> deferredOrder_;
    bool drainingDeferred_ = false;
};

}  // namespace tcpcopy::session
