#include "tcpcopy/app/replay_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tcpcopy/net/builder.h"

namespace tcpcopy::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// A registry over counters the test sets, as the replay wires it.
struct Replay {
    session::EngineStats engine;
    inject::InjectCounters injector;
    FrameCounters frames;
    std::optional<capture::CaptureStats> capture;  // offline: no live capture
    std::optional<UdpCopyStats> udp;               // no -x udp: rule
    inject::InjectCounters udpInjector;
    std::optional<CompareCounters> compare;  // no --compare-*
    stats::Registry registry{"tcpcopy"};

    Replay() {
        registerReplayMetrics(
            registry,
            ReplaySources{[this]() -> const session::EngineStats& { return engine; },
                          [this]() -> const inject::InjectCounters& { return injector; },
                          [] { return static_cast<const tunnel::TunnelClient*>(nullptr); },
                          [this]() -> const FrameCounters& { return frames; }, [this] { return capture; },
                          [] { return std::uint64_t{5}; }, [] { return 2500ms; }, [] { return 450ms; },
                          64 << 20, [this] { return udp ? &*udp : nullptr; },
                          [this]() -> const inject::InjectCounters* { return udp ? &udpInjector : nullptr; },
                          [this] { return compare ? &*compare : nullptr; }});
    }
};

// The names docs/metrics.md documents for tcpcopy, without the prefix and _total.
const std::set<std::string> kDocumentedMetrics = {"frames_read",
                                                  "sessions_started",
                                                  "sessions_established",
                                                  "sessions_completed",
                                                  "sessions_reset_by_target",
                                                  "sessions_timed_out",
                                                  "sessions_failed",
                                                  "sessions_shed",
                                                  "requests_sent",
                                                  "segments_sent",
                                                  "bytes_sent",
                                                  "retransmissions",
                                                  "responses_seen",
                                                  "response_payloads",
                                                  "response_payload_bytes",
                                                  "response_payload_missing_bytes",
                                                  "response_bytes",
                                                  "resets_sent",
                                                  "packets_injected",
                                                  "inject_errors",
                                                  "inject_calls",
                                                  "inject_batches",
                                                  "capture_received",
                                                  "capture_kernel_dropped",
                                                  "capture_interface_dropped",
                                                  "capture_queue_freezes",
                                                  "tunnel_responses",
                                                  "tunnel_reconnects",
                                                  "port_reuses",
                                                  "sessions_active",
                                                  "bytes_buffered",
                                                  "path_rtt_microseconds",
                                                  "tunnel_connected",
                                                  "udp_datagrams_matched",
                                                  "udp_flows_answered",
                                                  "udp_packets_copied",
                                                  "udp_packets_sent",
                                                  "udp_send_errors",
                                                  "responses_paired",
                                                  "responses_compared",
                                                  "responses_matched",
                                                  "responses_mismatched",
                                                  "responses_not_compared",
                                                  "responses_slower",
                                                  "responses_sessions_dropped",
                                                  "protocol_sessions",
                                                  "protocol_refused_tls",
                                                  "protocol_refused_compression",
                                                  "protocol_refused_unknown_user",
                                                  "protocol_refused_unsupported_auth",
                                                  "protocol_refused_login_failed",
                                                  "protocol_refused_mid_stream",
                                                  "protocol_refused_malformed",
                                                  "protocol_refused_hold_overflow",
                                                  "udp_responses",
                                                  "udp_routes_sent"};

TEST(ReplayMetrics, ServesExactlyTheDocumentedMetricsUnderTheTcpcopyPrefix) {
    Replay r;
    std::set<std::string> exposed;
    for (const stats::Sample& s : r.registry.snapshot()) {
        if (!s.exposedName.empty()) exposed.insert(std::string(s.exposedName));
    }
    EXPECT_EQ(exposed, kDocumentedMetrics);

    r.engine.requestsSent = 12;
    r.engine.activeSessions = 3;
    r.injector.packets = 40;
    r.injector.calls = 9;
    r.frames.frames = 7;
    const std::string text = stats::renderPrometheus(r.registry);
    EXPECT_THAT(text,
                HasSubstr("# TYPE tcpcopy_requests_sent_total counter\ntcpcopy_requests_sent_total 12\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE tcpcopy_sessions_active gauge\ntcpcopy_sessions_active 3\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_packets_injected_total 40\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_frames_read_total 7\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_tunnel_connected 0\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_inject_calls_total 9\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_inject_batches_total 5\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_capture_kernel_dropped_total 0\n"));

    r.capture = capture::CaptureStats{100, 3, 1, 2};  // live: the capture's own counts
    const std::string live = stats::renderPrometheus(r.registry);
    EXPECT_THAT(live, HasSubstr("tcpcopy_capture_received_total 100\n"));
    EXPECT_THAT(live, HasSubstr("tcpcopy_capture_kernel_dropped_total 3\n"));
    EXPECT_THAT(live, HasSubstr("tcpcopy_capture_interface_dropped_total 1\n"));
    EXPECT_THAT(live, HasSubstr("tcpcopy_capture_queue_freezes_total 2\n"));
}

TEST(ReplayMetrics, TheReportKeepsTheFieldsItsReadersUse) {
    Replay r;
    r.engine.sessionsStarted = 3;
    r.engine.rttSmoothedUs = 1500;
    r.capture = capture::CaptureStats{100, 3, 1, 2};
    const auto json = nlohmann::json::parse(stats::renderJson(r.registry, {{"input", "x.pcap"}}));
    // Every field the report had before the registry rendered it (bench/, tests/e2e read them).
    for (const char* path : {"/input",
                             "/seconds",
                             "/frames",
                             "/frames_not_tcp",
                             "/frames_ipv6",
                             "/frames_ipv6_extension_headers",
                             "/frames_fragments",
                             "/frames_malformed",
                             "/packets_ignored",
                             "/idle_skipped_seconds",
                             "/sessions/captured",
                             "/sessions/started",
                             "/sessions/established",
                             "/sessions/completed",
                             "/sessions/ended_by_replay",
                             "/sessions/reset_by_target",
                             "/sessions/timed_out",
                             "/sessions/failed",
                             "/sessions/aborted",
                             "/sessions/active",
                             "/sessions/no_syn_ack",
                             "/sessions/midstream",
                             "/sessions/sampled_out",
                             "/sessions/ramped_out",
                             "/sessions/skipped_midstream",
                             "/sessions/skipped_family",
                             "/sessions/shed",
                             "/sessions/deferred",
                             "/sessions/port_reuses",
                             "/sessions/port_remaps",
                             "/sessions/over_buffer",
                             "/requests_sent",
                             "/segments_sent",
                             "/bytes_sent",
                             "/retransmissions",
                             "/capture_retransmissions",
                             "/capture_out_of_order",
                             "/capture_gaps",
                             "/resegmented",
                             "/responses_seen",
                             "/response_bytes",
                             "/responses_unknown",
                             "/responses_malformed",
                             "/gate_timeouts",
                             "/timer_wakeups",
                             "/path_rtt/samples",
                             "/path_rtt/smoothed_us",
                             "/path_rtt/variation_us",
                             "/flows_remembered",
                             "/flows_forgotten",
                             "/resets_sent",
                             "/memory/limit_bytes",
                             "/memory/buffered_bytes",
                             "/memory/buffered_peak_bytes",
                             "/injected_packets",
                             "/inject_errors",
                             "/inject_calls",
                             "/inject_batches",
                             "/capture/received",
                             "/capture/kernel_dropped",
                             "/capture/interface_dropped",
                             "/capture/queue_freezes"}) {
        EXPECT_TRUE(json.contains(nlohmann::json::json_pointer(path))) << path;
    }
    EXPECT_EQ(json["sessions"]["started"], 3);
    EXPECT_EQ(json["path_rtt"]["smoothed_us"], 1500);
    EXPECT_EQ(json["memory"]["limit_bytes"], 64 << 20);
    EXPECT_DOUBLE_EQ(json["seconds"].get<double>(), 0.45);
    EXPECT_DOUBLE_EQ(json["idle_skipped_seconds"].get<double>(), 2.5);
    EXPECT_EQ(json["capture"]["kernel_dropped"], 3);
    EXPECT_FALSE(json.contains("tunnel"));  // -L: no tunnel, no tunnel counters
}

TEST(ReplayMetrics, TheSummaryReadsAsBefore) {
    Replay r;
    r.frames.frames = 84;
    r.engine.sessionsStarted = 3;
    r.engine.sessionsEstablished = 3;
    r.engine.sessionsCompleted = 3;
    r.engine.sessionsCaptured = 3;
    r.engine.requestsSent = 30;
    r.engine.segmentsSent = 42;
    r.engine.bytesSent = 2604;
    r.engine.rttSmoothedUs = 1234;
    r.engine.rttVariationUs = 560;
    r.injector.packets = 120;
    r.injector.calls = 20;
    EXPECT_EQ(
        renderReplaySummary(r.registry, {}, false, false),
        "tcpcopy summary: 0.45s, 84 frames read\n"
        "  sessions: 3 started (0 mid-stream), 3 established, 3 completed, 0 ended by replay, 0 reset by "
        "target, 0 timed out, 0 failed (0 without SYN-ACK)\n"
        "  skipped: 0 sampled out, 0 ramped out (-g), 0 mid-stream (-O), 0 of the other address family, 0 "
        "shed; 0 waited for a slot "
        "(--max-active); 0 ignored packets\n"
        "  requests sent: 30, segments 42, bytes 2604, retransmissions 0\n"
        "  capture: 0 retransmitted/duplicate, 0 out of order, 0 resegmented\n"
        "  responses seen: 0 (0 bytes), gate timeouts 0, resets sent 0; path RTT 1.2 ms (+- 0.6)\n"
        "  captured connections 3, aborted at exit 0, still active 0; buffered peak 0 bytes\n"
        "  injected: 120 packets in 20 system calls (5 batches), 0 errors\n");
    r.capture = capture::CaptureStats{100, 3, 1, 2};
    EXPECT_THAT(
        renderReplaySummary(r.registry, {{"capture.backend", "packet-ring"}}, true, true),
        HasSubstr("\n  live capture (packet-ring): 100 received, 3 dropped by the kernel (ring full 2 "
                  "times), 1 by the interface\n  injected: 120 packets in 20 system calls (5 batches), 0 "
                  "errors\n  tunnel: 0 connects, 0 reconnects, 0 responses, 0 routes sent\n"));
}

TEST(ReplayMetrics, UdpCountersReadTheCopierAndItsInjector) {
    Replay r;
    r.udp = UdpCopyStats{};
    r.udp->matched = 5;
    r.udp->sampledOut = 1;
    r.udp->copied = 8;
    r.udpInjector.packets = 7;
    r.udpInjector.errors = 1;
    const std::string text = stats::renderPrometheus(r.registry);
    EXPECT_THAT(text, HasSubstr("tcpcopy_udp_datagrams_matched_total 5\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_udp_packets_copied_total 8\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_udp_packets_sent_total 7\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_udp_send_errors_total 1\n"));
    const auto json = nlohmann::json::parse(stats::renderJson(r.registry, {}));
    EXPECT_EQ(json["udp"]["sent"], 7);
    EXPECT_THAT(
        renderReplaySummary(r.registry, {}, false, false, true),
        HasSubstr("\n  udp: 5 datagrams matched (1 sampled out, 0 truncated), 8 copies, 7 sent, 1 send "
                  "errors; 0 fragments, 0 malformed\n"));
    EXPECT_THAT(renderReplaySummary(r.registry, {}, false, false), Not(HasSubstr("udp:")));
}

TEST(ReplayMetrics, ComparisonCountersAndTheSummaryLineComeFromTheWiring) {
    Replay r;
    EXPECT_THAT(renderReplaySummary(r.registry, {}, false, true, false, true), Not(HasSubstr("responses:")));
    EXPECT_FALSE(nlohmann::json::parse(stats::renderJson(r.registry, {})).contains("responses"));
    r.compare = CompareCounters{};
    r.compare->exchanges = 31;
    r.compare->compared = 30;
    r.compare->matched = 18;
    r.compare->mismatched = 12;
    r.compare->notCompared = 1;
    r.compare->slower = 2;
    r.compare->sessions = 3;
    const std::string text = stats::renderPrometheus(r.registry);
    EXPECT_THAT(text, HasSubstr("tcpcopy_responses_compared_total 30\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_responses_mismatched_total 12\n"));
    EXPECT_THAT(text, HasSubstr("tcpcopy_responses_paired_total 31\n"));
    const auto json = nlohmann::json::parse(stats::renderJson(r.registry, {}));
    EXPECT_EQ(json["responses"]["mismatched"], 12);
    EXPECT_THAT(renderReplaySummary(r.registry, {}, false, true, false, true, false, true),
                HasSubstr("\n  responses: 30 compared, 12 differ (1 not compared, 2 slower) in 3 sessions; 0 "
                          "connections over --compare-max-sessions\n"));
}

TEST(ReplayMetrics, TheStatsLineAndStatusReadAsBefore) {
    Replay r;
    r.frames.frames = 9;
    r.engine.activeSessions = 2;
    r.engine.sessionsStarted = 4;
    r.capture = capture::CaptureStats{100, 3, 1, 2};
    EXPECT_EQ(
        renderReplayStatsLine(r.registry, {{"tunnel", "none"}}),
        "stats: frames=9 sessions active=2 captured=0 started=4 established=0 completed=0 failed=0 shed=0 "
        "requests=0 retrans=0 responses=0 injected=0 inject_errors=0 buffered=0 tunnel=none "
        "tunnel_connects=0 tunnel_reconnects=0 capture_dropped=4");
    EXPECT_EQ(renderReplayStatus(r.registry),
              "sessions active=2 started=4 established=0 requests=0 responses=0");
}

TEST(FrameCounters, CountEveryFrameByWhatDecodingMadeOfIt) {
    FrameCounters c;
    for (net::DecodeStatus status :
         {net::DecodeStatus::Ok, net::DecodeStatus::NotIp, net::DecodeStatus::NotTcp, net::DecodeStatus::Ok,
          net::DecodeStatus::Fragment, net::DecodeStatus::TruncatedTcp, net::DecodeStatus::BadIpHeader}) {
        net::DecodeResult decoded;
        decoded.status = status;
        if (c.frames == 3) {  // the second Ok: IPv6 behind two extension headers
            decoded.segment.src = *net::IpAddr::parse("2001:db8::1");
            decoded.extensionHeaders = 2;
        }
        c.count(decoded);
    }
    EXPECT_EQ(c.frames, 7u);
    EXPECT_EQ(c.notTcp, 2u);
    EXPECT_EQ(c.ipv6, 1u);
    EXPECT_EQ(c.ipv6ExtensionHeaders, 1u);
    EXPECT_EQ(c.fragments, 1u);
    EXPECT_EQ(c.malformed, 2u);
}

// From real packets: IPv6 frames are counted, and those the decoder walked extension headers to
// reach TCP in are counted apart.
TEST(FrameCounters, CountIpv6FramesAndThoseWithExtensionHeaders) {
    net::TcpSegment seg;
    seg.src = *net::IpAddr::parse("2001:db8::1");
    seg.dst = *net::IpAddr::parse("fd00:198:18:1::2");
    seg.sport = net::Port(40000);
    seg.dport = net::Port(80);
    seg.flags = net::tcpflag::kSyn;
    std::vector<std::byte> plain(net::kMaxHeadersLen);
    plain.resize(net::buildIpTcp(seg, plain));
    std::vector<std::byte> hopByHop = plain;  // an 8-byte hop-by-hop options header (PadN) before TCP
    const std::byte options[8] = {std::byte{6}, std::byte{0}, std::byte{1}, std::byte{4}};
    hopByHop.insert(hopByHop.begin() + 40, std::begin(options), std::end(options));
    hopByHop[5] = std::byte{static_cast<std::uint8_t>(std::to_integer<int>(hopByHop[5]) + 8)};
    hopByHop[6] = std::byte{0};
    FrameCounters c;
    for (const auto* packet : {&plain, &hopByHop, &hopByHop}) {
        const net::DecodeResult decoded = net::decodeIpTcp(*packet);
        ASSERT_EQ(decoded.status, net::DecodeStatus::Ok) << net::decodeStatusName(decoded.status);
        c.count(decoded);
    }
    EXPECT_EQ(c.frames, 3u);
    EXPECT_EQ(c.ipv6, 3u);
    EXPECT_EQ(c.ipv6ExtensionHeaders, 2u);
}

}  // namespace
}  // namespace tcpcopy::app
