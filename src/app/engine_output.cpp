#include "tcpcopy/app/engine_output.h"

#include "tcpcopy/net/builder.h"

namespace tcpcopy::app {

os::Result<std::unique_ptr<EngineOutput>> EngineOutput::create(os::EventBase& base,
                                                               inject::Injector& injector,
                                                               tunnel::TunnelClient* tunnel,
                                                               inject::PacketBatchLimits limits) {
    using R = os::Result<std::unique_ptr<EngineOutput>>;
    std::unique_ptr<EngineOutput> output(new EngineOutput(injector, tunnel, limits));
    EngineOutput* raw = output.get();
    auto event = os::Event::timer(base, [raw](short) { raw->batch_.flush(); });
    if (!event) return R::fail("end-of-turn flush event: " + event.error());
    output->endOfTurn_.emplace(std::move(event).value());
    return R::ok(std::move(output));
}

void EngineOutput::sendToTarget(const net::TcpSegment& segment) {
    const net::MutableBytes room = batch_.reserve(net::kMaxHeadersLen + segment.payload.size());
    const std::size_t n = room.empty() ? 0 : net::buildIpTcp(segment, room);
    if (n == 0) {
        ++buildFailures_;
        return;
    }
    // The first packet of a turn schedules the flush: it runs once the callbacks already due in
    // this loop iteration (capture, tunnel, timers) have run and added theirs.
    if (batch_.empty()) endOfTurn_->activate();
    batch_.commit(n);
}

void EngineOutput::addRoute(const net::FlowKey& flow) {
    if (tunnel_) tunnel_->addRoute(flow);
}

void EngineOutput::removeRoute(const net::FlowKey& flow) {
    if (tunnel_) tunnel_->removeRoute(flow);
}

}  // namespace tcpcopy::app
