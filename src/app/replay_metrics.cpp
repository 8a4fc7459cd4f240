#include "tcpcopy/app/replay_metrics.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace tcpcopy::app {
namespace {

using stats::MetricType;
using stats::Unit;
using ReadFn = stats::Registry::ReadFn;

constexpr MetricType kCounter = MetricType::Counter;
constexpr MetricType kGauge = MetricType::Gauge;

// One counter: its name in the report (dots nest), its name on /metrics ("" for none), what it
// counts and where its value comes from.
struct Row {
    const char* name;
    const char* exposedAs;
    MetricType type;
    Unit unit;
    const char* help;
    ReadFn read;
};

// Readers of one field of a module's counters: `from(&S::field)`.
template <class Get>
auto fieldsOf(Get get) {
    return [get](auto field) -> ReadFn {
        return [get, field]() -> std::optional<std::uint64_t> { return get().*field; };
    };
}

// The same for counters that may be absent: `get` returns a pointer, null (or unset) for none,
// and the field then has no value.
template <class Get>
auto optionalFieldsOf(Get get) {
    return [get](auto field) -> ReadFn {
        return [get, field]() -> std::optional<std::uint64_t> {
            const auto* counters = get ? get() : nullptr;
            if (counters == nullptr) return std::nullopt;
            return counters->*field;
        };
    };
}

// The protocol hooks' refusals, one counter per reason (session::HookRefusal): their names live
// as long as the program, as Row's do.
void addRefusalRows(std::vector<Row>& out, const std::function<const session::EngineStats&()>& engine) {
    static const auto names = [] {
        std::array<std::pair<std::string, std::string>, session::kHookRefusals> n;
        for (std::size_t i = 0; i < n.size(); ++i) {
            const std::string reason(session::hookRefusalName(static_cast<session::HookRefusal>(i)));
            n[i] = {"protocol.refused." + reason, "protocol_refused_" + reason};
        }
        return n;
    }();
    for (std::size_t i = 0; i < names.size(); ++i) {
        out.push_back({names[i].first.c_str(), names[i].second.c_str(), kCounter, Unit::None,
                       "Sessions a protocol hook refused for this reason (docs/protocols.md)",
                       [engine, i]() -> std::optional<std::uint64_t> { return engine().hookRefusals[i]; }});
    }
    out.push_back({"protocol.refused_total", "", kCounter, Unit::None, "Sessions a protocol hook refused",
                   [engine]() -> std::optional<std::uint64_t> {
                       std::uint64_t sum = 0;
                       for (const std::uint64_t n : engine().hookRefusals) sum += n;
                       return sum;
                   }});
}

std::vector<Row> rows(const ReplaySources& src) {
    using S = session::EngineStats;
    using F = FrameCounters;
    using I = inject::InjectCounters;
    using C = capture::CaptureStats;
    using T = tunnel::TunnelClientCounters;
    using U = UdpCopyStats;
    using R = CompareCounters;
    const auto engine = fieldsOf(src.engine);
    const auto frames = fieldsOf(src.frames);
    const auto injector = fieldsOf(src.injector);
    const auto capture = [get = src.capture](auto field) -> ReadFn {
        return [get, field]() -> std::optional<std::uint64_t> {
            const std::optional<C> c = get();
            if (!c) return std::nullopt;
            return (*c).*field;
        };
    };
    const auto tunnel = [get = src.tunnel](auto field) -> ReadFn {
        return [get, field]() -> std::optional<std::uint64_t> {
            const tunnel::TunnelClient* t = get();
            if (t == nullptr) return std::nullopt;
            return t->counters().*field;
        };
    };
    const auto udp = optionalFieldsOf(src.udp);
    const auto udpInjector = optionalFieldsOf(src.udpInjector);
    const auto compare = optionalFieldsOf(src.compare);
    const auto nanoseconds = [](const std::function<std::chrono::nanoseconds()>& get) -> ReadFn {
        return [get]() -> std::optional<std::uint64_t> { return static_cast<std::uint64_t>(get().count()); };
    };
    return {
        {"seconds", "", kGauge, Unit::Nanoseconds, "Time since tcpcopy started", nanoseconds(src.elapsed)},
        {"frames", "frames_read", kCounter, Unit::None,
         "Frames read from the capture file or the live capture", frames(&F::frames)},
        {"frames_not_tcp", "", kCounter, Unit::None, "Frames that were neither IPv4 nor IPv6 TCP",
         frames(&F::notTcp)},
        {"frames_ipv6", "", kCounter, Unit::None, "IPv6 TCP frames decoded", frames(&F::ipv6)},
        {"frames_ipv6_extension_headers", "", kCounter, Unit::None,
         "IPv6 frames with extension headers (skipped to reach the upper layer)",
         frames(&F::ipv6ExtensionHeaders)},
        {"frames_fragments", "", kCounter, Unit::None, "IPv4 fragments (not reassembled)",
         frames(&F::fragments)},
        {"frames_malformed", "", kCounter, Unit::None, "Frames that did not decode", frames(&F::malformed)},
        {"packets_in", "", kCounter, Unit::None, "Captured TCP packets offered to the engine",
         engine(&S::packetsIn)},
        {"packets_ignored", "", kCounter, Unit::None,
         "Packets matching no rule, server-side, or of a skipped session", engine(&S::packetsIgnored)},
        {"idle_skipped_seconds", "", kCounter, Unit::Nanoseconds,
         "Capture time cut out of the replay by -I, every pass", nanoseconds(src.idleSkipped)},
        {"sessions.captured", "", kCounter, Unit::None, "Captured connections seen",
         engine(&S::sessionsCaptured)},
        {"sessions.started", "sessions_started", kCounter, Unit::None, "Sessions replayed (each copy counts)",
         engine(&S::sessionsStarted)},
        {"sessions.established", "sessions_established", kCounter, Unit::None,
         "Replayed sessions the target accepted", engine(&S::sessionsEstablished)},
        {"sessions.completed", "sessions_completed", kCounter, Unit::None,
         "Sessions closed as the capture closed them", engine(&S::sessionsCompleted)},
        {"sessions.ended_by_replay", "", kCounter, Unit::None,
         "Sessions reset by tcpcopy once the input was over and they were idle",
         engine(&S::sessionsEndedByReplay)},
        {"sessions.reset_by_target", "sessions_reset_by_target", kCounter, Unit::None,
         "Sessions the target reset", engine(&S::sessionsResetByTarget)},
        {"sessions.timed_out", "sessions_timed_out", kCounter, Unit::None,
         "Sessions reset for lack of progress", engine(&S::sessionsTimedOut)},
        {"sessions.failed", "sessions_failed", kCounter, Unit::None,
         "Sessions that got no SYN-ACK or ran out of retransmissions", engine(&S::sessionsFailed)},
        {"sessions.aborted", "", kCounter, Unit::None,
         "Sessions still open at SIGINT/SIGTERM, reset by tcpcopy", engine(&S::sessionsAborted)},
        {"sessions.active", "sessions_active", kGauge, Unit::None, "Sessions being replayed now",
         engine(&S::activeSessions)},
        {"sessions.no_syn_ack", "", kCounter, Unit::None, "Sessions that got no SYN-ACK",
         engine(&S::sessionsNoSynAck)},
        {"sessions.midstream", "", kCounter, Unit::None,
         "Sessions captured without their handshake, started with a fabricated one",
         engine(&S::sessionsMidstream)},
        {"sessions.sampled_out", "", kCounter, Unit::None, "Sessions left out by -r",
         engine(&S::sessionsSampledOut)},
        {"sessions.ramped_out", "", kCounter, Unit::None,
         "Sessions left out while the -g ramp was below 100%", engine(&S::sessionsRampedOut)},
        {"sessions.skipped_midstream", "", kCounter, Unit::None,
         "Sessions captured without their handshake, left out by -O", engine(&S::sessionsSkippedMidstream)},
        {"sessions.skipped_family", "", kCounter, Unit::None,
         "Sessions whose replay client and target differ in address family (no -c address of the "
         "target's family)",
         engine(&S::sessionsSkippedFamily)},
        {"sessions.shed", "sessions_shed", kCounter, Unit::None,
         "Sessions not replayed because of the memory limit", engine(&S::sessionsShed)},
        {"sessions.deferred", "", kCounter, Unit::None,
         "Connections that waited for a free slot (--max-active)", engine(&S::sessionsDeferred)},
        {"sessions.port_reuses", "port_reuses", kCounter, Unit::None,
         "Connections that waited for the replayed previous one on their client port",
         engine(&S::portReuses)},
        {"sessions.port_remaps", "", kCounter, Unit::None,
         "Connections moved to another port because the mapped one was taken (-n, -c, -H, -f)",
         engine(&S::portRemaps)},
        {"sessions.over_buffer", "", kCounter, Unit::None,
         "Sessions reset for holding more than --max-session-buffer", engine(&S::sessionsOverBuffer)},
        {"requests_sent", "requests_sent", kCounter, Unit::None,
         "Client requests (data runs) sent to the target", engine(&S::requestsSent)},
        {"segments_sent", "segments_sent", kCounter, Unit::None, "TCP segments with data sent to the target",
         engine(&S::segmentsSent)},
        {"bytes_sent", "bytes_sent", kCounter, Unit::Bytes, "Client payload bytes sent to the target",
         engine(&S::bytesSent)},
        {"retransmissions", "retransmissions", kCounter, Unit::None, "Segments sent again",
         engine(&S::retransmissions)},
        {"capture_retransmissions", "", kCounter, Unit::None, "Duplicate or overlapping data in the capture",
         engine(&S::captureRetransmissions)},
        {"capture_out_of_order", "", kCounter, Unit::None, "Captured segments that arrived out of order",
         engine(&S::captureOutOfOrder)},
        {"capture_gaps", "", kCounter, Unit::None,
         "Holes in captured streams closed over (data never captured)", engine(&S::captureGapsSkipped)},
        {"resegmented", "", kCounter, Unit::None, "Captured segments larger than the MSS, split",
         engine(&S::resegmented)},
        {"responses_seen", "responses_seen", kCounter, Unit::None,
         "Target segments received through intercept", engine(&S::responsesSeen)},
        {"response_bytes", "response_bytes", kCounter, Unit::Bytes, "Target payload bytes acknowledged",
         engine(&S::responseBytes)},
        {"responses_unknown", "", kCounter, Unit::None, "Target segments for no session",
         engine(&S::responsesUnknown)},
        {"responses_malformed", "", kCounter, Unit::None,
         "Response headers from the tunnel that did not decode", frames(&F::responsesMalformed)},
        {"response_payloads.received", "response_payloads", kCounter, Unit::None,
         "Responses that came with their payload (--response-payload)", frames(&F::payloadResponses)},
        {"response_payloads.bytes", "response_payload_bytes", kCounter, Unit::Bytes,
         "Response payload bytes received (at most --response-payload per response)",
         frames(&F::payloadBytes)},
        {"response_payloads.missing_bytes", "response_payload_missing_bytes", kCounter, Unit::Bytes,
         "Response payload bytes the target sent beyond those received (cut at the granted size, or "
         "left out by intercept's --payload-memory)",
         tunnel(&T::payloadMissing)},
        {"response_payloads.denied", "", kCounter, Unit::None,
         "Tunnel handshakes where payloads were asked for and the intercept granted none",
         tunnel(&T::payloadDenied)},
        {"responses.exchanges", "responses_paired", kCounter, Unit::None,
         "--compare-*: replayed requests paired with the online and the target response",
         compare(&R::exchanges)},
        {"responses.compared", "responses_compared", kCounter, Unit::None,
         "Of them, compared: both responses there and framed", compare(&R::compared)},
        {"responses.matched", "responses_matched", kCounter, Unit::None,
         "Compared responses that agree (by the --compare-* rules)", compare(&R::matched)},
        {"responses.mismatched", "responses_mismatched", kCounter, Unit::None,
         "Compared responses that differ", compare(&R::mismatched)},
        {"responses.not_compared", "responses_not_compared", kCounter, Unit::None,
         "Paired requests not compared (a response missing or not framed; the report says why)",
         compare(&R::notCompared)},
        {"responses.slower", "responses_slower", kCounter, Unit::None,
         "Requests the target answered much slower than the online server (--compare-slower-*)",
         compare(&R::slower)},
        {"responses.sessions", "", kCounter, Unit::None, "Replayed sessions whose responses were compared",
         compare(&R::sessions)},
        {"responses.sessions_dropped", "responses_sessions_dropped", kCounter, Unit::None,
         "Connections not compared: more than --compare-max-sessions followed at once",
         compare(&R::sessionsDropped)},
        {"responses.not_replayed", "", kCounter, Unit::None,
         "Captured connections followed for comparison that the engine did not replay (-r, -g, -O, shed)",
         compare(&R::notReplayed)},
        {"responses.collectors", "", kGauge, Unit::None, "Connections followed for comparison now",
         compare(&R::collectors)},
        {"responses.target_unknown", "", kCounter, Unit::None,
         "Target segments for no compared session (other -n copies, sessions not compared)",
         compare(&R::targetUnknown)},
        {"gate_timeouts", "", kCounter, Unit::None,
         "Requests released by timeout rather than by the response", engine(&S::gateTimeouts)},
        {"timer_wakeups", "", kCounter, Unit::None, "Session timers that fired", engine(&S::timerWakeups)},
        {"path_rtt.samples", "", kCounter, Unit::None, "Round-trip samples of the replay path",
         engine(&S::rttSamples)},
        {"path_rtt.smoothed_us", "path_rtt_microseconds", kGauge, Unit::Microseconds,
         "Smoothed round trip of the replay path (RFC 6298, all sessions)", engine(&S::rttSmoothedUs)},
        {"path_rtt.variation_us", "", kGauge, Unit::Microseconds,
         "Round-trip variation of the replay path (RFC 6298)", engine(&S::rttVariationUs)},
        {"flows_remembered", "", kGauge, Unit::None, "Skipped and idle flows remembered without a session",
         engine(&S::flowsRemembered)},
        {"flows_forgotten", "", kCounter, Unit::None,
         "Remembered flows forgotten early because --max-sessions were remembered",
         engine(&S::flowsForgotten)},
        {"resets_sent", "resets_sent", kCounter, Unit::None, "Resets sent to the target",
         engine(&S::resetsSent)},
        {"memory.limit_bytes", "", kGauge, Unit::Bytes, "The -m limit (0: none)",
         [limit = src.memoryLimitBytes]() -> std::optional<std::uint64_t> { return limit; }},
        {"memory.buffered_bytes", "bytes_buffered", kGauge, Unit::Bytes,
         "Bytes the engine holds (sessions, waiting connections, remembered flows)",
         engine(&S::bytesBuffered)},
        {"memory.buffered_peak_bytes", "", kGauge, Unit::Bytes, "The most bytes the engine held",
         engine(&S::bytesBufferedPeak)},
        {"injected_packets", "packets_injected", kCounter, Unit::None, "IP packets handed to the kernel",
         injector(&I::packets)},
        {"injected_bytes", "", kCounter, Unit::Bytes, "Their IP bytes", injector(&I::bytes)},
        {"inject_errors", "inject_errors", kCounter, Unit::None, "IP packets the injector failed to send",
         injector(&I::errors)},
        {"inject_malformed", "", kCounter, Unit::None, "Packets the injector refused before any system call",
         injector(&I::malformed)},
        {"inject_calls", "inject_calls", kCounter, Unit::None,
         "System calls that sent packets (sendmmsg sends up to 64 per call)", injector(&I::calls)},
        {"inject_batches", "inject_batches", kCounter, Unit::None,
         "Output batches handed to the injector (one per event-loop turn that sent)",
         [get = src.injectBatches]() -> std::optional<std::uint64_t> { return get(); }},
        {"udp.matched", "udp_datagrams_matched", kCounter, Unit::None,
         "Captured UDP datagrams matching a -x udp: rule", udp(&U::matched)},
        {"udp.sampled_out", "", kCounter, Unit::None, "Of them, left out by -r", udp(&U::sampledOut)},
        {"udp.truncated", "", kCounter, Unit::None,
         "Of them, not copied: the capture holds less than the datagram (snaplen)", udp(&U::truncated)},
        {"udp.fragments", "", kCounter, Unit::None, "IPv4 UDP fragments (not reassembled, not copied)",
         udp(&U::fragments)},
        {"udp.malformed", "", kCounter, Unit::None, "UDP headers too short or with an impossible length",
         udp(&U::malformed)},
        {"udp.copied", "udp_packets_copied", kCounter, Unit::None,
         "UDP packets built for the target (each -n copy counts)", udp(&U::copied)},
        {"udp.bytes", "", kCounter, Unit::Bytes, "Their UDP payload bytes", udp(&U::bytes)},
        {"udp.routes", "udp_routes_sent", kCounter, Unit::None,
         "UDP flows announced to intercept (with -s), so that it forwards their answers", udp(&U::routes)},
        {"udp.routes_evicted", "", kCounter, Unit::None,
         "Of them, withdrawn to keep at most 65536 announced at a time", udp(&U::routesEvicted)},
        {"udp.responses", "udp_responses", kCounter, Unit::None,
         "UDP answers of the target that intercept forwarded, for announced flows", udp(&U::responses)},
        {"udp.response_bytes", "", kCounter, Unit::Bytes,
         "Their UDP payload bytes (as their UDP length states)", udp(&U::responseBytes)},
        {"udp.flows_answered", "udp_flows_answered", kCounter, Unit::None,
         "Announced UDP flows that had at least one answer", udp(&U::flowsAnswered)},
        {"udp.responses_unmatched", "", kCounter, Unit::None,
         "UDP answers intercept forwarded for no flow announced now (withdrawn, or another's)",
         udp(&U::responsesUnmatched)},
        {"udp.responses_malformed", "", kCounter, Unit::None,
         "UDP items from intercept that are not an IPv4 header and a whole UDP header",
         udp(&U::responsesMalformed)},
        {"udp.sent", "udp_packets_sent", kCounter, Unit::None, "UDP packets handed to the kernel",
         udpInjector(&I::packets)},
        {"udp.send_errors", "udp_send_errors", kCounter, Unit::None,
         "UDP packets the injector failed to send", udpInjector(&I::errors)},
        {"capture.received", "capture_received", kCounter, Unit::None, "Packets the live capture handed over",
         capture(&C::received)},
        {"capture.kernel_dropped", "capture_kernel_dropped", kCounter, Unit::None,
         "Packets the live capture lost because its ring or buffer was full", capture(&C::kernelDropped)},
        {"capture.interface_dropped", "capture_interface_dropped", kCounter, Unit::None,
         "Packets the interface dropped (libpcap capture)", capture(&C::interfaceDropped)},
        {"capture.queue_freezes", "capture_queue_freezes", kCounter, Unit::None,
         "Times the packet ring was found full", capture(&C::queueFreezes)},
        {"capture.dropped", "", kCounter, Unit::None,
         "Packets the live capture lost, by the kernel or the interface",
         [get = src.capture]() -> std::optional<std::uint64_t> {
             const std::optional<C> c = get();
             if (!c) return std::nullopt;
             return c->kernelDropped + c->interfaceDropped;
         }},
        {"tunnel.connects", "", kCounter, Unit::None, "Tunnel handshakes completed", tunnel(&T::connects)},
        {"tunnel.reconnects", "tunnel_reconnects", kCounter, Unit::None,
         "Tunnel connection attempts after the first", tunnel(&T::reconnects)},
        {"tunnel.connected", "tunnel_connected", kGauge, Unit::None, "Tunnel connections past the handshake",
         tunnel(&T::connected)},
        {"tunnel.rejected", "", kCounter, Unit::None, "REJECT frames received from intercept",
         tunnel(&T::rejected)},
        {"tunnel.responses", "tunnel_responses", kCounter, Unit::None,
         "Response headers received from intercept", tunnel(&T::responses)},
        {"tunnel.routes_sent", "", kCounter, Unit::None, "ROUTE_ADD frames sent (re-sends included)",
         tunnel(&T::routesSent)},
        {"tunnel.route_dels_sent", "", kCounter, Unit::None, "ROUTE_DEL frames sent",
         tunnel(&T::routeDelsSent)},
        {"tunnel.frames_in", "", kCounter, Unit::None, "Tunnel frames received", tunnel(&T::framesIn)},
        {"tunnel.frames_out", "", kCounter, Unit::None, "Tunnel frames sent", tunnel(&T::framesOut)},
        {"tunnel.bytes_in", "", kCounter, Unit::Bytes, "Tunnel bytes received", tunnel(&T::bytesIn)},
        {"tunnel.bytes_out", "", kCounter, Unit::Bytes, "Tunnel bytes sent", tunnel(&T::bytesOut)},
        {"tunnel.malformed", "", kCounter, Unit::None, "Tunnel frames or messages that did not decode",
         tunnel(&T::malformed)},
    };
}

// The summary at exit, line by line (tests/e2e and bench/ read some of these lines).
constexpr const char* kSummary =
    "tcpcopy summary: {seconds:s}s, {frames} frames read\n"
    "  sessions: {sessions.started} started ({sessions.midstream} mid-stream), {sessions.established} "
    "established, {sessions.completed} completed, {sessions.ended_by_replay} ended by replay, "
    "{sessions.reset_by_target} reset by target, {sessions.timed_out} timed out, {sessions.failed} failed "
    "({sessions.no_syn_ack} without SYN-ACK)\n"
    "  skipped: {sessions.sampled_out} sampled out, {sessions.ramped_out} ramped out (-g), "
    "{sessions.skipped_midstream} mid-stream (-O), {sessions.skipped_family} of the other address family, "
    "{sessions.shed} shed; {sessions.deferred} waited for a "
    "slot (--max-active); {packets_ignored} ignored packets\n"
    "  requests sent: {requests_sent}, segments {segments_sent}, bytes {bytes_sent}, retransmissions "
    "{retransmissions}\n"
    "  capture: {capture_retransmissions} retransmitted/duplicate, {capture_out_of_order} out of order, "
    "{resegmented} resegmented\n"
    "  responses seen: {responses_seen} ({response_bytes} bytes), gate timeouts {gate_timeouts}, resets sent "
    "{resets_sent}; path RTT {path_rtt.smoothed_us:ms} ms (+- {path_rtt.variation_us:ms})\n"
    "  captured connections {sessions.captured}, aborted at exit {sessions.aborted}, still active "
    "{sessions.active}; buffered peak {memory.buffered_peak_bytes} bytes\n";
constexpr const char* kSummaryCapture =
    "  live capture ({capture.backend}): {capture.received} received, {capture.kernel_dropped} dropped by "
    "the kernel (ring full {capture.queue_freezes} times), {capture.interface_dropped} by the interface\n";
constexpr const char* kSummaryInjected =
    "  injected: {injected_packets} packets in {inject_calls} system calls ({inject_batches} batches), "
    "{inject_errors} errors\n";
constexpr const char* kSummaryUdp =
    "  udp: {udp.matched} datagrams matched ({udp.sampled_out} sampled out, {udp.truncated} truncated), "
    "{udp.copied} copies, {udp.sent} sent, {udp.send_errors} send errors; {udp.fragments} fragments, "
    "{udp.malformed} malformed\n";
constexpr const char* kSummaryUdpResponses =
    "  udp answers through intercept: {udp.responses} ({udp.response_bytes} bytes) for {udp.flows_answered} "
    "of {udp.routes} flows; {udp.responses_unmatched} unmatched\n";
constexpr const char* kSummaryTunnel =
    "  tunnel: {tunnel.connects} connects, {tunnel.reconnects} reconnects, {tunnel.responses} responses, "
    "{tunnel.routes_sent} routes sent\n";
constexpr const char* kSummaryPayload =
    "  response payloads: {response_payloads.received} responses, {response_payloads.bytes} bytes "
    "({response_payloads.missing_bytes} not received)\n";

constexpr const char* kSummaryCompare =
    "  responses: {responses.compared} compared, {responses.mismatched} differ ({responses.not_compared} not "
    "compared, {responses.slower} slower) in {responses.sessions} sessions; {responses.sessions_dropped} "
    "connections over --compare-max-sessions\n";

constexpr const char* kSummaryProtocol =
    "  protocol hooks: {protocol.sessions} sessions, {protocol.refused_total} refused (tls "
    "{protocol.refused.tls}, compression {protocol.refused.compression}, unknown user "
    "{protocol.refused.unknown_user}, unsupported auth {protocol.refused.unsupported_auth}, login failed "
    "{protocol.refused.login_failed}, mid-stream {protocol.refused.mid_stream}, malformed "
    "{protocol.refused.malformed}, hold overflow {protocol.refused.hold_overflow})\n";

constexpr const char* kStatsLine =
    "stats: frames={frames} sessions active={sessions.active} captured={sessions.captured} "
    "started={sessions.started} established={sessions.established} completed={sessions.completed} "
    "failed={sessions.failed} shed={sessions.shed} requests={requests_sent} retrans={retransmissions} "
    "responses={responses_seen} injected={injected_packets} inject_errors={inject_errors} "
    "buffered={memory.buffered_bytes} tunnel={tunnel} tunnel_connects={tunnel.connects} "
    "tunnel_reconnects={tunnel.reconnects} capture_dropped={capture.dropped}";

constexpr const char* kStatus =
    "sessions active={sessions.active} started={sessions.started} established={sessions.established} "
    "requests={requests_sent} responses={responses_seen}";

}  // namespace

void FrameCounters::count(const net::DecodeResult& decoded) {
    ++frames;
    if (decoded.extensionHeaders > 0) ++ipv6ExtensionHeaders;
    switch (decoded.status) {
        case net::DecodeStatus::Ok:
            if (decoded.segment.src.isV6()) ++ipv6;
            break;
        case net::DecodeStatus::NotIp:
        case net::DecodeStatus::NotTcp:
            ++notTcp;
            break;
        case net::DecodeStatus::Fragment:
            ++fragments;
            break;
        default:
            ++malformed;
            break;
    }
}

void registerReplayMetrics(stats::Registry& registry, const ReplaySources& sources) {
    std::vector<Row> all = rows(sources);
    all.push_back({"protocol.sessions", "protocol_sessions", kCounter, Unit::None,
                   "Sessions replayed through a protocol hook (--protocol)",
                   fieldsOf(sources.engine)(&session::EngineStats::sessionsHooked)});
    addRefusalRows(all, sources.engine);
    for (Row& row : all) {
        registry.add(stats::MetricInfo{row.name, row.help, row.type, row.unit, std::string(row.exposedAs)},
                     std::move(row.read));
    }
}

std::string renderReplaySummary(const stats::Registry& registry, const stats::Labels& labels, bool live,
                                bool tunnel, bool udp, bool payloads, bool hooks, bool compare) {
    std::string text = stats::renderText(registry, kSummary, labels);
    if (live) text += stats::renderText(registry, kSummaryCapture, labels);
    text += stats::renderText(registry, kSummaryInjected, labels);
    if (udp) text += stats::renderText(registry, kSummaryUdp, labels);
    if (udp && tunnel) text += stats::renderText(registry, kSummaryUdpResponses, labels);
    if (tunnel) text += stats::renderText(registry, kSummaryTunnel, labels);
    if (tunnel && payloads) text += stats::renderText(registry, kSummaryPayload, labels);
    if (hooks) text += stats::renderText(registry, kSummaryProtocol, labels);
    if (compare) text += stats::renderText(registry, kSummaryCompare, labels);
    return text;
}

std::string renderReplayStatsLine(const stats::Registry& registry, const stats::Labels& labels) {
    return stats::renderText(registry, kStatsLine, labels);
}

std::string renderReplayStatus(const stats::Registry& registry) {
    return stats::renderText(registry, kStatus);
}

}  // namespace tcpcopy::app
