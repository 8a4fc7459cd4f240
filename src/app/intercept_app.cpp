#include "tcpcopy/app/intercept_app.h"

#include <event2/event.h>

#include "tcpcopy/app/daemon.h"
#include "tcpcopy/config/address.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/wire.h"

namespace tcpcopy::app {
namespace {

using namespace std::chrono_literals;

// What libpcap keeps of each response: link, IP and TCP headers with options (the payload is
// never needed, only its length, which the IP header states).
constexpr int kResponseSnaplen = 256;
// Frames read per dispatch, and dispatches per readable capture before yielding to the loop.
constexpr int kCaptureBatch = 256;
constexpr int kCaptureRoundsPerTurn = 64;
// A capture is also read this often when its descriptor stays quiet: libpcap buffers packets
// (TPACKET_V3 blocks) that do not make it readable.
constexpr auto kCapturePoll = 100ms;
// How often routes past their TTL and responses held past --hold-ms are dropped.
constexpr auto kRouteExpiry = 100ms;
// Heartbeats go out five times per --idle-timeout, but not more often than this.
constexpr auto kMinHeartbeat = 200ms;
constexpr int kHeartbeatsPerIdleTimeout = 5;

auto logger() { return log::component("intercept"); }

}  // namespace

std::optional<net::Endpoint> tunnelEndpoint(const InterceptConfig& config) {
    net::IpAddr bind;
    if (!config::parseAddress(config.bind, bind).empty()) return std::nullopt;
    return net::Endpoint{bind, net::Port(config.port)};
}

bool tunnelOpenToAnyone(const InterceptConfig& config) {
    const auto listen = tunnelEndpoint(config);
    const bool loopback = listen && listen->addr.isLoopback();
    return !loopback && config.secretFile.empty() && config.allow.empty();
}

InterceptApp::InterceptApp(os::EventBase& base, const InterceptConfig& config)
    : base_(base),
      config_(config),
      routes_(tunnel::RouteTableOptions{config.tableSize, std::chrono::seconds(config.routeTtl),
                                        std::chrono::milliseconds(config.holdMs), config.maxHeld}),
      verdicts_(std::chrono::milliseconds(config.holdMs), config.maxHeld) {}

// Packets still waiting for a verdict go on their way: the target's traffic is never held back
// by an intercept that stops.
InterceptApp::~InterceptApp() { acceptAllHeld(); }

os::Result<std::unique_ptr<InterceptApp>> InterceptApp::create(os::EventBase& base,
                                                               const InterceptConfig& config,
                                                               std::string secret) {
    using R = os::Result<std::unique_ptr<InterceptApp>>;
    std::unique_ptr<InterceptApp> app(new InterceptApp(base, config));
    app->registerMetrics();  // read when rendered: after create() returned

    if (config.nfqueue) {
        if (std::string error = app->openQueue(); !error.empty()) return R::fail(error);
    }
    auto devices = capture::parseDeviceList(config.devices);
    if (!devices) return R::fail("-i/--device: " + devices.error());
    for (const std::string& device : config.nfqueue ? std::vector<std::string>{} : devices.value()) {
        capture::LiveOptions options;
        options.device = device;
        options.filter = config.filter;
        options.snaplen = kResponseSnaplen + config.payload;
        options.bufferBytes = static_cast<int>(std::size_t{config.bufferSizeMb} << 20);  // <= 2047 MiB: fits
        auto capture = capture::LiveCapture::open(options);
        if (!capture) {
            return R::fail("cannot capture on device '" + device + "' with filter '" + config.filter +
                           "': " + capture.error());
        }
        if (!capture.value().warning().empty()) logger()->warn("{}", capture.value().warning());
        app->captures_.push_back(std::move(capture).value());
    }

    net::IpAddr bindAddr;
    if (std::string reason = config::parseAddress(config.bind, bindAddr); !reason.empty())
        return R::fail("-b/--bind: " + reason);
    tunnel::TunnelServerOptions server;
    server.listen = net::Endpoint{bindAddr, net::Port(config.port)};
    server.secret = std::move(secret);
    if (!config.allow.empty()) {
        auto allow = tunnel::parseCidrList(config.allow);
        if (!allow) return R::fail("--allow: " + allow.error());
        server.allow = std::move(allow).value();
    }
    server.maxQueuedBytes = std::size_t{config.peerQueueMb} << 20;
    server.maxConnections = config.maxConnections;
    server.payloadBytes = config.payload;
    server.maxPayloadQueuedBytes = std::size_t{config.payloadMemoryMb} << 20;
    server.idleTimeout = std::chrono::seconds(config.idleTimeout);
    server.heartbeatInterval =
        std::max<os::Duration>(kMinHeartbeat, server.idleTimeout / kHeartbeatsPerIdleTimeout);

    InterceptApp* raw = app.get();
    tunnel::TunnelServerCallbacks callbacks;
    // One tcpcopy's connections (-C, reconnects) share its routes; another peer cannot take them.
    callbacks.onPeerUp = [raw](const tunnel::PeerInfo& peer) {
        raw->routes_.peerUp(peer.id, peer.address.addr.toString() + " " + peer.instanceId);
    };
    callbacks.onPeerDown = [raw](const tunnel::PeerInfo& peer, const std::string&) {
        raw->routes_.peerDown(peer.id);
    };
    callbacks.onRouteAdd = [raw](tunnel::PeerId peer, const net::FlowKey& flow) {
        const auto now = std::chrono::steady_clock::now();
        std::vector<tunnel::Buffer> held;
        if (!raw->routes_.addRoute(flow, peer, now, held)) {
            if (raw->conflictLog_.allow(now)) {
                logger()->warn(
                    "refused ROUTE_ADD {} from tcpcopy peer {}: the flow belongs to another tcpcopy ({} "
                    "refused so far)",
                    flow.toString(), peer, raw->routes_.counters().conflicts);
            }
            return;
        }
        for (const tunnel::Buffer& header : held) {
            raw->server_->sendResponse(peer, header);
            ++raw->counters_.forwarded;
        }
        raw->routeArrived(flow);
    };
    callbacks.onRouteDel = [raw](tunnel::PeerId peer, const net::FlowKey& flow) {
        raw->routes_.removeRoute(flow, peer);
    };
    auto listening = tunnel::TunnelServer::listen(base, server, std::move(callbacks));
    if (!listening) return R::fail(listening.error());
    app->server_ = std::move(listening).value();
    return R::ok(std::move(app));
}

void InterceptApp::onFrame(net::LinkType link, net::Bytes frame) {
    ++counters_.captured;
    net::DecodeResult decoded = net::decodeFrame(link, frame);
    if (decoded.status != net::DecodeStatus::Ok) {
        if (decoded.status == net::DecodeStatus::NotTcp && forwardUdp(decoded.ipPacket)) return;
        ++counters_.notTcp;
        return;
    }
    net::Bytes headers = tunnel::responsePrefix(decoded.ipPacket, config_.payload);
    if (headers.empty()) {
        ++counters_.notTcp;
        return;
    }
    // A response travels server -> client: its destination is the replayed client.
    net::FlowKey flow = decoded.segment.serverToClientKey();
    headers = untranslate(headers, flow);
    auto now = std::chrono::steady_clock::now();
    if (auto peer = routes_.resolve(flow, now)) {
        server_->sendResponse(*peer, headers);
        ++counters_.forwarded;
        return;
    }
    ++counters_.unrouted;
    routes_.hold(flow, headers, now);
}

// A UDP answer (the filter captures UDP too): its IP and UDP headers go to the tcpcopy that
// announced the flow, held like a TCP response until the route arrives. No single-tcpcopy
// fallback: only a tcpcopy that announced UDP flows receives UDP items (docs/tunnel-protocol.md).
bool InterceptApp::forwardUdp(net::Bytes ipPacket) {
    const net::Bytes headers = tunnel::udpResponseHeader(ipPacket);
    if (headers.empty()) return false;
    ++counters_.udpCaptured;
    const std::size_t ipLength = (std::to_integer<std::size_t>(headers[0]) & 0x0Fu) * 4;
    // An answer travels target -> replayed client.
    const net::FlowKey flow{{net::Ipv4Addr(net::wire::be32(headers.data() + 16)),
                             net::Port(net::wire::be16(headers.data() + ipLength + 2))},
                            {net::Ipv4Addr(net::wire::be32(headers.data() + 12)),
                             net::Port(net::wire::be16(headers.data() + ipLength))}};
    const auto now = std::chrono::steady_clock::now();
    if (auto peer = routes_.resolveRouted(flow, now)) {
        server_->sendResponse(*peer, headers);
        ++counters_.forwarded;
        return true;
    }
    ++counters_.unrouted;
    routes_.hold(flow, headers, now);
    return true;
}

net::Bytes InterceptApp::untranslate(net::Bytes headers, net::FlowKey& flow) {
    net::Bytes out = headers;
    if (!config_.nat.empty()) out = config_.nat.apply(out, flow, natScratch_);
    if (!config_.clientNat.empty()) out = config_.clientNat.applyToClient(out, flow, clientNatScratch_);
    if (out.data() != headers.data()) ++counters_.rewritten;
    return out;
}

void InterceptApp::readCapture(std::size_t index) {
    capture::LiveCapture& capture = captures_[index];
    for (int round = 0; round < kCaptureRoundsPerTurn; ++round) {
        int n = capture.dispatch(kCaptureBatch, [this](const capture::CapturedFrame& f, net::LinkType link) {
            onFrame(link, f.data);
        });
        if (n < 0) {
            logger()->error("capture on {}: {}", capture.device(), capture.error());
            return;
        }
        if (n < kCaptureBatch) return;
    }
}

std::string InterceptApp::arm() {
    for (std::size_t i = 0; i < captures_.size(); ++i) {
        auto ev = os::Event::fd(base_, captures_[i].fd(), EV_READ, [this, i](short) { readCapture(i); });
        if (!ev) return ev.error();
        ev.value().add(kCapturePoll);
        captureEvents_.push_back(std::move(ev).value());
    }
    auto add = [this](os::Result<os::Event> ev, std::optional<os::Duration> period) -> std::string {
        if (!ev) return ev.error();
        if (!ev.value().add(period)) return "cannot arm event";
        timers_.push_back(std::move(ev).value());
        return {};
    };
    if (tunnelOpenToAnyone(config_)) {
        // Only with --insecure (main refuses otherwise): say it where operators look.
        logger()->warn(
            "the tunnel on {} is open to any host that reaches it (--insecure, no --secret-file, no "
            "--allow): any of them can connect as tcpcopy and receive the target's responses to its flows",
            server_->localEndpoint().toString());
    } else if (config_.secretFile.empty()) {
        logger()->info(
            "tcpcopy peers are not authenticated (no --secret-file): any host inside --allow {} can connect",
            config_.allow.empty() ? std::string("(loopback only)") : config_.allow);
    }
    if (queue_) {
        if (std::string error = armQueue(); !error.empty()) return error;
    }
    auto signals = handleSignals(base_, "intercept", [this](int) {
        acceptAllHeld();
        logger()->info("shutting down: {}", statsLine());
        base_.loopExit();
    });
    if (!signals) return signals.error();
    for (os::Event& event : signals.value()) timers_.push_back(std::move(event));
    auto expire = os::Event::timer(
        base_,
        [this](short) {
            routes_.expire(std::chrono::steady_clock::now());
            expireHeldVerdicts();
        },
        true);
    if (auto e = add(std::move(expire), kRouteExpiry); !e.empty()) return e;
    if (config_.statsInterval > 0) {
        auto stats = os::Event::timer(
            base_, [this](short) { logger()->info("{}", statsLine()); }, true);
        if (auto e = add(std::move(stats), std::chrono::seconds(config_.statsInterval)); !e.empty()) return e;
    }
    if (queue_) {
        logger()->info("intercept listening on {} for tcpcopy, reading NFQUEUE {} (pass list: {}{})",
                       server_->localEndpoint().toString(), queue_->queue(),
                       config_.passList.empty() ? std::string("none") : config_.passList,
                       config_.failOpen ? "; fail-open" : "");
    } else {
        logger()->info("intercept listening on {} for tcpcopy, capturing on {} with filter '{}'",
                       server_->localEndpoint().toString(), config_.devices, config_.filter);
    }
    return {};
}

}  // namespace tcpcopy::app
