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
#include <memory>
#include <optional>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/session/hook.h"
#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

// Where the engine's effects go. Spans inside the segments are valid only during the call.
class Output {
  public:
    virtual ~Output() = default;
    // A segment for the target, every field final (addresses, ports, seq/ack, options, payload).
    virtual void sendToTarget(const net::TcpSegment& segment) = 0;
    // Route messages for intercept: flow.client = replay client ip:port, flow.server = target.
    virtual void addRoute(const net::FlowKey& flow) = 0;
    virtual void removeRoute(const net::FlowKey& flow) = 0;
    // Observers for whoever follows sessions beside the engine (the regression diff): a replayed
    // session of the captured connection `captured` started on `replay` (copy `copy` of -n), right
    // after its addRoute; it ended, right after its removeRoute. No-ops unless overridden.
    virtual void sessionStarted(const net::FlowKey& captured, const net::FlowKey& replay, unsigned copy) {
        (void)captured, (void)replay, (void)copy;
    }
    virtual void sessionEnded(const net::FlowKey& captured, const net::FlowKey& replay) {
        (void)captured, (void)replay;
    }
};

// One -x rule: captured traffic to [onlineAddr:]onlinePort goes to target.
struct AddressRule {
    std::optional<net::IpAddr> onlineAddr;
    net::Port onlinePort;
    net::Endpoint target;
    // A protocol hook for the sessions of this rule (hook.h; not owned), or none.
    ProtocolHookFactory* hook = nullptr;
};

struct EngineConfig {
    std::vector<AddressRule> rules;
    // -c: replay client addresses (empty: keep captured). A session takes one of the family of
    // its rule's target; with none of that family it keeps its captured address.
    std::vector<net::IpAddr> clientPool;
    std::optional<net::IpAddr> loopbackRewrite;  // -H: replaces captured loopback clients of its family
    unsigned copies = 1;                         // -n: replayed copies of each session (1..1023)
    unsigned portShiftFactor = 0;                // -f: separates the ports of several instances
    unsigned samplePercent = 100;                // -r: share of sessions replayed (by flow hash)
    // -g: over this long from the first captured packet, the share of new sessions replayed
    // grows linearly from 0 to 100% (chosen by flow hash), so a cold target warms up. 0: off.
    Time rampDuration{0};
    bool waitForResponse = true;                         // !-W
    bool onlyCompleteSessions = false;                   // -O: skip sessions captured without their SYN
    std::uint16_t mss = 1460;                            // -D: upper bound on segment payload
    std::uint16_t mtu = 1500;                            // -M: upper bound on IP packet size
    Time sessionTimeout = std::chrono::seconds(120);     // -t: no progress at all for this long
    Time keepaliveTimeout = std::chrono::seconds(3600);  // -k: idle established session
    // -R: the retransmission timeout before the path's round trip is measured, and its floor
    // after (then SRTT + 4 RTTVAR of every session's samples, RFC 6298).
    Time initialRto = std::chrono::milliseconds(200);
    Time maxRto = std::chrono::seconds(3);  // cap of the backed-off timeout (unless the path's is higher)
    unsigned maxRetransmits = 8;            // then the session is reset and counted failed
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
    std::size_t maxSessions = 1'000'000;  // new sessions beyond this are shed and counted
    // Client bytes one session may buffer (captured but not yet acknowledged by the target, plus
    // out-of-order segments); a session over it is reset and counted. 0: no limit.
    std::size_t maxSessionBytes = std::size_t{64} << 20;
    // -m: while the bytes the engine buffers (see EngineStats::bytesBuffered) are at or above
    // this, new sessions are shed and counted; running sessions go on. 0: no limit.
    std::size_t memoryLimitBytes = 0;
    std::uint8_t ttl = 64;
};

struct EngineStats {
    std::uint64_t packetsIn = 0;                 // captured packets offered
    std::uint64_t packetsIgnored = 0;            // not matching a rule, server-side, or of a skipped session
    std::uint64_t sessionsCaptured = 0;          // distinct captured connections seen (incarnations)
    std::uint64_t sessionsSampledOut = 0;        // -r
    std::uint64_t sessionsRampedOut = 0;         // -g: skipped while the ramp was below 100%
    std::uint64_t sessionsSkippedMidstream = 0;  // -O
    // The replay client and the rule's target of different families (an IPv4 capture sent to
    // an IPv6 target without an IPv6 -c address, say): not replayable, skipped.
    std::uint64_t sessionsSkippedFamily = 0;
    std::uint64_t sessionsDeferred = 0;  // --max-active: connections that waited for a free slot
    // Over maxSessions or memoryLimitBytes, no free tuple, or dropped while waiting to start (over
    // maxSessionBytes, or more waiting connections than maxSessions).
    std::uint64_t sessionsShed = 0;
    std::uint64_t sessionsStarted = 0;    // replayed sessions (copies count separately)
    std::uint64_t sessionsMidstream = 0;  // started with a fabricated handshake
    std::uint64_t sessionsEstablished = 0;
    std::uint64_t sessionsCompleted = 0;      // FIN exchanged both ways, or closed as the capture did
    std::uint64_t sessionsEndedByReplay = 0;  // input over, nothing left: reset by us
    std::uint64_t sessionsResetByTarget = 0;
    std::uint64_t sessionsTimedOut = 0;
    std::uint64_t sessionsFailed = 0;   // no SYN-ACK, or retransmissions exhausted
    std::uint64_t sessionsAborted = 0;  // still open at abortAll() (SIGTERM), reset by us
    std::uint64_t sessionsNoSynAck = 0;
    std::uint64_t sessionsOverBuffer = 0;  // reset: more than maxSessionBytes buffered
    std::uint64_t sessionsHooked = 0;      // replayed through a protocol hook (hook.h)
    HookRefusalCounts hookRefusals{};      // sessions a hook refused, by HookRefusal
    // A captured ip:port reused while the replayed session of its previous connection still ran:
    // the new connection waited for it to end, then started on the same tuple.
    std::uint64_t portReuses = 0;
    std::uint64_t portRemaps = 0;  // -n/-c/-H/-f: mapped port taken, another one chosen
    // Skipped or idle flows forgotten before going quiet because maxSessions were remembered.
    std::uint64_t flowsForgotten = 0;
    std::uint64_t flowsRemembered = 0;  // gauge: skipped and idle flows remembered now
    std::uint64_t timerWakeups = 0;     // session timers that fired (work done by onTick)
    // The replay path's round trip (RFC 6298 estimate over every session's samples), which the
    // retransmission timeouts follow above -R.
    std::uint64_t rttSamples = 0;
    std::uint64_t rttSmoothedUs = 0;
    std::uint64_t rttVariationUs = 0;
    std::uint64_t requestsSent = 0;  // client data runs sent (one per gate / request)
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
    // Memory the engine holds: the sessions' client stream buffers (allocated capacity),
    // out-of-order segments, pacing marks and a fixed per-session overhead; the packets of
    // connections waiting to start; the flows it remembers without a session. Current value and
    // high-water mark.
    std::uint64_t bytesBuffered = 0;
    std::uint64_t bytesBufferedPeak = 0;
};

class Engine {
  public:
    // Bytes -m counts for each captured flow the engine remembers without a session (skipped
    // flows, idle clients): a map slot and an expiry entry.
    static constexpr std::size_t kRememberedFlowBytes = 64;

    Engine(EngineConfig config, Output& output);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // A captured packet (any direction; only client-to-server packets of a rule are used).
    void onCaptured(const net::TcpSegment& segment, Time now);
    // A packet the target sent (headers only: payloadLength counts, payload may be empty).
    void onResponse(const net::TcpSegment& segment, Time now);
    // The payload of a target segment given to onResponse() with headers only (the tunnel sends
    // it right after): the protocol hook of its session reads it. Nothing for rules without hooks.
    void onTargetPayload(const net::TcpSegment& segment, Time now);
    // Timers that are due: retransmission, pacing, timeouts. Costs O(due sessions), whatever the
    // number of open ones; call every few milliseconds, or at nextDeadline().
    void onTick(Time now);
    // No more captured packets will come (end of file).
    void onInputEnd(Time now);
    // Resets every open session at the target (SIGTERM).
    void abortAll(Time now);

    bool inputEnded() const;
    // Input ended and every session is over, none waiting.
    bool finished() const;
    // The earliest time onTick() has something to do; Time::max() when nothing is armed.
    Time nextDeadline() const;
    // Connections waiting to start: for a free slot (--max-active) or behind the previous
    // connection on their client port.
    std::size_t waitingSessions() const;
    const EngineStats& stats() const;
    std::size_t activeSessions() const;
    const EngineConfig& config() const;
    // Current EngineStats::bytesBuffered, exact after every call into the engine.
    std::size_t bytesBuffered() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tcpcopy::session
