// intercept on the target itself: the responses an NFQUEUE rule queued. Those of replayed clients
// (a route names their tcpcopy) are forwarded and dropped, so they never leave the host; the
// pass list and everything that finds no route within --hold-ms are accepted.

#include <event2/event.h>

#include "tcpcopy/app/intercept_app.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::app {
namespace {

auto logger() { return log::component("intercept"); }

// What the kernel copies of each queued packet: IP and TCP headers with options.
constexpr std::uint32_t kQueueCopyBytes = 256;
constexpr int kQueueBatch = 256;

}  // namespace

std::string InterceptApp::openQueue() {
    const std::string where = "--nfqueue " + std::to_string(*config_.nfqueue);
    if (!config_.passList.empty()) {
        auto pass = tunnel::parseCidrList(config_.passList);
        if (!pass) return "-x/--pass: " + pass.error();
        pass_ = std::move(pass).value();
    }
    capture::NfQueueOptions options;
    options.queue = *config_.nfqueue;
    options.maxLength = config_.queueLength;
    options.failOpen = config_.failOpen;
    options.copyBytes = kQueueCopyBytes + config_.payload;
    options.receiveBufferBytes = static_cast<int>(std::size_t{config_.bufferSizeMb} << 20);
    auto queue = capture::NfQueue::open(options);
    if (!queue) return where + ": " + queue.error();
    queue_ = std::move(queue).value();
    return {};
}

std::string InterceptApp::armQueue() {
    auto ev = os::Event::fd(base_, queue_->fd(), EV_READ, [this](short) { readQueue(); });
    if (!ev) return ev.error();
    if (!ev.value().add(std::nullopt)) return "cannot arm the NFQUEUE event";
    captureEvents_.push_back(std::move(ev).value());
    return {};
}

void InterceptApp::readQueue() {
    const int n =
        queue_->dispatch(kQueueBatch, [this](std::uint32_t id, net::Bytes packet) { onQueued(id, packet); });
    if (n < 0) logger()->error("{}", queue_->error());
}

void InterceptApp::verdict(std::uint32_t id, capture::Verdict verdict) {
    if (!queue_->verdict(id, verdict)) {
        logger()->warn("{}", queue_->error());
        return;
    }
    if (verdict == capture::Verdict::Accept) ++counters_.passed;
}

void InterceptApp::onQueued(std::uint32_t id, net::Bytes packet) {
    ++counters_.captured;
    const net::DecodeResult decoded = net::decodeFrame(net::LinkType::RawIp, packet);
    net::Bytes headers = decoded.status == net::DecodeStatus::Ok
                             ? tunnel::responsePrefix(decoded.ipPacket, config_.payload)
                             : net::Bytes{};
    if (headers.empty()) {  // not IPv4 or IPv6 TCP: none of ours
        ++counters_.notTcp;
        verdict(id, capture::Verdict::Accept);
        return;
    }
    // A response travels server -> client: its destination is the (replayed or real) client.
    net::FlowKey flow = decoded.segment.serverToClientKey();
    for (const tunnel::Cidr& cidr : pass_) {
        if (cidr.contains(flow.client.addr)) {
            verdict(id, capture::Verdict::Accept);
            return;
        }
    }
    headers = untranslate(headers, flow);
    const auto now = std::chrono::steady_clock::now();
    if (auto peer = routes_.resolveRouted(flow, now)) {
        server_->sendResponse(*peer, headers);
        ++counters_.forwarded;
        verdict(id, capture::Verdict::Drop);
        return;
    }
    // The SYN-ACK can beat tcpcopy's ROUTE_ADD: the packet waits in the kernel for its route.
    ++counters_.unrouted;
    if (!verdicts_.hold(flow, id, now)) {  // --max-held packets wait already
        verdict(id, capture::Verdict::Accept);
        return;
    }
    if (!routes_.hold(flow, headers, now)) {  // keep the two holds in step: this flow's packets go now
        for (std::uint32_t held : verdicts_.release(flow)) verdict(held, capture::Verdict::Accept);
    }
}

void InterceptApp::routeArrived(const net::FlowKey& flow) {
    if (!queue_) return;
    for (std::uint32_t id : verdicts_.release(flow)) verdict(id, capture::Verdict::Drop);
}

void InterceptApp::expireHeldVerdicts() {
    if (!queue_) return;
    std::vector<std::uint32_t> expired;
    verdicts_.expire(std::chrono::steady_clock::now(), expired);
    for (std::uint32_t id : expired) verdict(id, capture::Verdict::Accept);
}

void InterceptApp::acceptAllHeld() {
    if (!queue_) return;
    std::vector<std::uint32_t> all;
    verdicts_.takeAll(all);
    for (std::uint32_t id : all) verdict(id, capture::Verdict::Accept);
}

std::uint64_t InterceptApp::queueKernelDrops() const {
    if (!queue_) return 0;
    const capture::NfQueueStats s = queue_->stats();
    return s.queueDropped + s.userDropped + s.socketOverruns;
}

}  // namespace tcpcopy::app
