// intercept's counters, each declared once (docs/metrics.md lists them; keep the two in step),
// the "stats: ..." line made from them, and the /metrics endpoint (--metrics).

#include "tcpcopy/app/intercept_app.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::app {
namespace {

// The periodic log line, the last words at SIGTERM and systemd's STATUS= (tests/e2e read it).
constexpr const char* kStatsLine =
    "stats: captured={frames_captured} forwarded={responses_forwarded} unrouted={responses_unrouted} "
    "nat-rewritten={responses_nat_rewritten} "
    "held={responses_held} held-delivered={responses_held_delivered} held-dropped={responses_held_dropped} "
    "not-tcp={frames_not_tcp} kernel-dropped={kernel_dropped} queue-dropped={tunnel_queue_drops} "
    "peers={peers} "
    "routes={routes} route-adds={route_adds} route-dels={route_dels} route-conflicts={route_conflicts} "
    "connections={tunnel_connections} refused={tunnel_refused} refused-busy={tunnel_refused_busy} "
    "auth-failures={tunnel_auth_failures} accept-errors={tunnel_accept_errors} passed={queue_passed} "
    "payload-peers={payload_peers} payload-responses={payload_responses} payload-bytes={payload_bytes} "
    "payload-trimmed={payload_trimmed} payload-queued={payload_queued_bytes}";

}  // namespace

void InterceptApp::registerMetrics() {
    stats::Registry& r = registry_;
    const auto ours = [this](auto field) { return [this, field] { return counters_.*field; }; };
    const auto routes = [this](auto field) { return [this, field] { return routes_.counters().*field; }; };
    const auto server = [this](auto field) { return [this, field] { return server_->counters().*field; }; };
    using C = InterceptCounters;
    using R = tunnel::RouteTableCounters;
    using S = tunnel::TunnelServerCounters;
    r.counterFn("frames_captured", "Frames handed over by libpcap", ours(&C::captured));
    r.counterFn("frames_not_tcp", "Captured frames that were not IPv4 or IPv6 TCP (nor an IPv4/UDP answer)",
                ours(&C::notTcp));
    r.counterFn("responses_forwarded", "Response headers sent to a tcpcopy", ours(&C::forwarded));
    r.counterFn("responses_udp_captured",
                "UDP answers captured (the filter takes UDP): forwarded, held or refused like TCP ones",
                ours(&C::udpCaptured));
    r.counterFn("responses_unrouted", "Response headers without a route on arrival (held or refused)",
                ours(&C::unrouted));
    r.counterFn("responses_nat_rewritten",
                "Responses whose source -D/--nat turned back into the address tcpcopy sent to",
                ours(&C::rewritten));
    r.counterFn("responses_held_delivered", "Held responses delivered once their route arrived",
                routes(&R::heldDelivered));
    r.counterFn("responses_held_dropped", "Held responses dropped (hold time over or queue full)",
                [this] { return routes_.counters().heldExpired + routes_.counters().heldOverflow; });
    r.counterFn("kernel_dropped",
                "Frames the kernel or the interface dropped before libpcap (or the NFQUEUE reader) read them",
                [this] {
                    std::uint64_t dropped = 0;
                    for (auto& capture : captures_) {
                        if (auto s = capture.stats()) dropped += s->kernelDropped + s->interfaceDropped;
                    }
                    return dropped + queueKernelDrops();
                });
    r.counterFn("queue_passed",
                "NFQUEUE: queued packets accepted (pass list, not TCP, no route within --hold-ms)",
                ours(&C::passed));
    r.counterFn("tunnel_accepted", "tcpcopy connections accepted", server(&S::accepted));
    r.counterFn("tunnel_refused", "tcpcopy connections refused by --allow", server(&S::refused));
    r.counterFn("tunnel_refused_busy", "tcpcopy connections refused at --max-connections",
                server(&S::refusedBusy));
    r.counterFn("tunnel_accept_errors", "accept() failures on the tunnel port (out of descriptors or memory)",
                server(&S::acceptErrors));
    r.counterFn("route_conflicts", "ROUTE_ADDs refused because the flow belongs to another tcpcopy",
                routes(&R::conflicts));
    r.gaugeFn("tunnel_connections",
              "Tunnel connections open, handshakes included (bounded by --max-connections)",
              server(&S::connections));
    r.counterFn("tunnel_auth_failures", "tcpcopy connections that failed the handshake (secret, version)",
                server(&S::authFailures));
    r.counterFn("tunnel_queue_drops", "Responses dropped because a tcpcopy fell behind",
                server(&S::queueDrops));
    r.counterFn("route_adds", "Routes announced by tcpcopy", server(&S::routeAdds));
    r.counterFn("route_dels", "Routes withdrawn by tcpcopy", server(&S::routeDels));
    r.gaugeFn("peers", "tcpcopy instances connected past the handshake", server(&S::peers));
    r.gaugeFn("payload_peers", "tcpcopy connections granted response payloads (--payload)",
              server(&S::payloadPeers));
    r.counterFn("payload_responses", "Responses sent with their payload (RESPONSE_PAYLOADS items)",
                server(&S::payloadItems));
    r.counterFn("payload_bytes", "Response payload bytes sent (at most --payload per response)",
                server(&S::payloadBytes));
    r.counterFn("payload_trimmed", "Responses sent without their payload bytes: --payload-memory was reached",
                server(&S::payloadsTrimmed));
    r.gaugeFn(
        "payload_queued_bytes",
        "Bytes waiting for the peers granted payloads (bounded by --payload-memory, then by --peer-queue "
        "each)",
        server(&S::payloadQueued));
    r.gaugeFn("routes", "Routes in the table", [this] { return static_cast<std::uint64_t>(routes_.size()); });
    r.gaugeFn("responses_held", "Responses waiting for their route",
              [this] { return static_cast<std::uint64_t>(routes_.heldCount()); });
}

std::string InterceptApp::statsLine() const { return stats::renderText(registry_, kStatsLine); }

std::string InterceptApp::startMetrics(const std::optional<net::Endpoint>& metrics) {
    if (!metrics) return {};
    auto server = stats::MetricsServer::start(base_, registry_, *metrics);
    if (!server) return "--metrics: " + server.error();
    metricsServer_ = std::move(server).value();
    log::component("intercept")->info("metrics on http://{}/metrics", metricsServer_->address().toString());
    return {};
}

}  // namespace tcpcopy::app
