// intercept's statistics registry and its /metrics endpoint (--metrics). The names are
// documented in docs/metrics.md; keep the two in step.

#include "intercept_app.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::intercept {

std::string InterceptApp::startMetrics() {
    registry_ = std::make_unique<stats::Registry>("intercept");
    stats::Registry& r = *registry_;
    r.counterFn("frames_captured", "Frames handed over by libpcap", [this] { return counters_.captured; });
    r.counterFn("frames_not_tcp", "Captured frames that were not IPv4/TCP",
                [this] { return counters_.notTcp; });
    r.counterFn("responses_forwarded", "Response headers sent to a tcpcopy",
                [this] { return counters_.forwarded; });
    r.counterFn("responses_unrouted", "Response headers without a route on arrival (held or refused)",
                [this] { return counters_.unrouted; });
    r.counterFn("responses_held_delivered", "Held responses delivered once their route arrived",
                [this] { return routes_.counters().heldDelivered; });
    r.counterFn("responses_held_dropped", "Held responses dropped (hold time over or queue full)",
                [this] { return routes_.counters().heldExpired + routes_.counters().heldOverflow; });
    r.counterFn("kernel_dropped", "Frames the kernel or the interface dropped before libpcap read them",
                [this] {
                    std::uint64_t dropped = 0;
                    for (auto& capture : captures_) {
                        if (auto s = capture.stats()) dropped += s->kernelDropped + s->interfaceDropped;
                    }
                    return dropped;
                });
    r.counterFn("tunnel_accepted", "tcpcopy connections accepted",
                [this] { return server_->counters().accepted; });
    r.counterFn("tunnel_refused", "tcpcopy connections refused by --allow",
                [this] { return server_->counters().refused; });
    r.counterFn("tunnel_refused_busy", "tcpcopy connections refused at --max-connections",
                [this] { return server_->counters().refusedBusy; });
    r.counterFn("tunnel_accept_errors", "accept() failures on the tunnel port (out of descriptors or memory)",
                [this] { return server_->counters().acceptErrors; });
    r.counterFn("route_conflicts", "ROUTE_ADDs refused because the flow belongs to another tcpcopy",
                [this] { return routes_.counters().conflicts; });
    r.gaugeFn("tunnel_connections",
              "Tunnel connections open, handshakes included (bounded by --max-connections)",
              [this] { return server_->counters().connections; });
    r.counterFn("tunnel_auth_failures", "tcpcopy connections that failed the handshake (secret, version)",
                [this] { return server_->counters().authFailures; });
    r.counterFn("tunnel_queue_drops", "Responses dropped because a tcpcopy fell behind",
                [this] { return server_->counters().queueDrops; });
    r.counterFn("route_adds", "Routes announced by tcpcopy",
                [this] { return server_->counters().routeAdds; });
    r.counterFn("route_dels", "Routes withdrawn by tcpcopy",
                [this] { return server_->counters().routeDels; });
    r.gaugeFn("peers", "tcpcopy instances connected past the handshake",
              [this] { return server_->counters().peers; });
    r.gaugeFn("routes", "Routes in the table", [this] { return static_cast<std::uint64_t>(routes_.size()); });
    r.gaugeFn("responses_held", "Responses waiting for their route",
              [this] { return static_cast<std::uint64_t>(routes_.heldCount()); });
    if (!config_.metrics) return {};
    auto server = stats::MetricsServer::start(base_, r, *config_.metrics);
    if (!server) return "--metrics: " + server.error();
    metricsServer_ = std::move(server).value();
    log::component("intercept")->info("metrics on http://{}/metrics", metricsServer_->address().toString());
    return {};
}

}  // namespace tcpcopy::intercept
