#pragma once
// EngineOutput: where the session engine's effects go in tcpcopy. Segments for the target are
// built straight into a PacketBatch and sent once per event-loop turn with one
// Injector::sendBatch() (sendmmsg), after every callback of the turn that fed the engine (file
// pump, live capture, tunnel responses, tick) has run; a full batch goes out at once. Routes go
// to the tunnel client. Nothing is reordered or dropped: packets leave in the order the engine
// emitted them, and send errors are the injector's counters.

#include <cstdint>
#include <optional>

#include "tcpcopy/inject/injector.h"
#include "tcpcopy/inject/packet_batch.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {

class EngineOutput final : public session::Output {
  public:
    // `tunnel` may be null (-L without intercept). The base, injector and tunnel must outlive
    // this object. Fails only when libevent cannot create the end-of-turn event.
    static os::Result<std::unique_ptr<EngineOutput>> create(os::EventBase& base, inject::Injector& injector,
                                                            tunnel::TunnelClient* tunnel,
                                                            inject::PacketBatchLimits limits = {});

    void sendToTarget(const net::TcpSegment& segment) override;
    void addRoute(const net::FlowKey& flow) override;
    void removeRoute(const net::FlowKey& flow) override;

    // Sends what is queued now (the end-of-turn event does this; call it before reading the
    // injector's counters for a final summary, or when the loop stops early).
    void flush() { batch_.flush(); }
    std::size_t pending() const { return batch_.pending(); }
    const inject::PacketBatchCounters& batchCounters() const { return batch_.counters(); }
    // Segments that could not be built into a packet (larger than an IPv4 packet can be).
    std::uint64_t buildFailures() const { return buildFailures_; }

  private:
    EngineOutput(inject::Injector& injector, tunnel::TunnelClient* tunnel, inject::PacketBatchLimits limits)
        : batch_(injector, limits), tunnel_(tunnel) {}

    inject::PacketBatch batch_;
    tunnel::TunnelClient* tunnel_;
    std::optional<os::Event> endOfTurn_;
    std::uint64_t buildFailures_ = 0;
};

}  // namespace tcpcopy::app
