#include "tcpcopy/app/replay_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace tcpcopy::app {

void registerReplayMetrics(stats::Registry& r, ReplaySources src) {
    auto engine = [e = src.engine](auto field) { return [e, field] { return e().*field; }; };
    using S = session::EngineStats;
    r.counterFn("frames_read", "Frames read from the capture file or the live capture", src.frames);
    r.counterFn("sessions_started", "Sessions replayed (each copy counts)", engine(&S::sessionsStarted));
    r.counterFn("sessions_established", "Replayed sessions the target accepted",
                engine(&S::sessionsEstablished));
    r.counterFn("sessions_completed", "Sessions closed as the capture closed them",
                engine(&S::sessionsCompleted));
    r.counterFn("sessions_reset_by_target", "Sessions the target reset", engine(&S::sessionsResetByTarget));
    r.counterFn("sessions_timed_out", "Sessions reset for lack of progress", engine(&S::sessionsTimedOut));
    r.counterFn("sessions_failed", "Sessions that got no SYN-ACK or ran out of retransmissions",
                engine(&S::sessionsFailed));
    r.counterFn("sessions_shed", "Sessions not replayed because of the memory limit",
                engine(&S::sessionsShed));
    r.counterFn("requests_sent", "Client requests (data runs) sent to the target", engine(&S::requestsSent));
    r.counterFn("segments_sent", "TCP segments with data sent to the target", engine(&S::segmentsSent));
    r.counterFn("bytes_sent", "Client payload bytes sent to the target", engine(&S::bytesSent));
    r.counterFn("retransmissions", "Segments sent again", engine(&S::retransmissions));
    r.counterFn("responses_seen", "Target segments received through intercept", engine(&S::responsesSeen));
    r.counterFn("response_bytes", "Target payload bytes acknowledged", engine(&S::responseBytes));
    r.counterFn("resets_sent", "Resets sent to the target", engine(&S::resetsSent));
    r.counterFn("packets_injected", "IP packets handed to the kernel",
                [i = src.injector] { return i().packets; });
    r.counterFn("inject_errors", "IP packets the injector failed to send",
                [i = src.injector] { return i().errors; });
    r.counterFn("inject_calls", "System calls that sent packets (sendmmsg sends up to 64 per call)",
                [i = src.injector] { return i().calls; });
    r.counterFn("inject_batches", "Output batches handed to the injector (one per event-loop turn that sent)",
                src.injectBatches);
    auto capture = [c = src.capture](auto field) {
        return [c, field] {
            const std::optional<capture::CaptureStats> s = c();
            return s ? (*s).*field : 0;
        };
    };
    using C = capture::CaptureStats;
    r.counterFn("capture_received", "Packets the live capture handed over", capture(&C::received));
    r.counterFn("capture_kernel_dropped", "Packets the live capture lost because its ring or buffer was full",
                capture(&C::kernelDropped));
    r.counterFn("capture_interface_dropped", "Packets the interface dropped (libpcap capture)",
                capture(&C::interfaceDropped));
    r.counterFn("capture_queue_freezes", "Times the packet ring was found full", capture(&C::queueFreezes));
    r.counterFn("tunnel_responses", "Response headers received from intercept", [t = src.tunnel] {
        const tunnel::TunnelClient* c = t();
        return c != nullptr ? c->counters().responses : 0;
    });
    r.counterFn("tunnel_reconnects", "Tunnel connection attempts after the first", [t = src.tunnel] {
        const tunnel::TunnelClient* c = t();
        return c != nullptr ? c->counters().reconnects : 0;
    });
    r.counterFn("port_reuses", "Connections that waited for the replayed previous one on their client port",
                engine(&S::portReuses));
    r.gaugeFn("sessions_active", "Sessions being replayed now", engine(&S::activeSessions));
    r.gaugeFn("bytes_buffered", "Bytes the engine holds (sessions, waiting connections, remembered flows)",
              engine(&S::bytesBuffered));
    r.gaugeFn("path_rtt_microseconds", "Smoothed round trip of the replay path (RFC 6298, all sessions)",
              engine(&S::rttSmoothedUs));
    r.gaugeFn("tunnel_connected", "Tunnel connections past the handshake", [t = src.tunnel] {
        const tunnel::TunnelClient* c = t();
        return c != nullptr ? c->counters().connected : 0;
    });
}

ProgressLine::ProgressLine(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {}

std::string ProgressLine::render(double fraction, std::uint64_t active, std::uint64_t done, double rate,
                                 std::optional<std::chrono::seconds> eta) {
    std::string etaText = "--:--";
    if (eta) {
        const auto s = eta->count();
        etaText = s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                            : fmt::format("{}:{:02}", s / 60, s % 60);
    }
    return fmt::format("replay {:5.1f}% | sessions {} active, {} done | {:.1f} req/s | ETA {}",
                       std::clamp(fraction, 0.0, 1.0) * 100.0, active, done, rate, etaText);
}

void ProgressLine::update(double fraction, std::uint64_t active, std::uint64_t done, std::uint64_t requests,
                          Clock::time_point now) {
    if (!enabled_) return;
    if (!started_) {
        started_ = true;
        start_ = now;
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(requests) / elapsed : 0.0;
    std::optional<std::chrono::seconds> eta;
    if (fraction > 0.001 && elapsed > 0) {
        eta = std::chrono::seconds(
            static_cast<std::int64_t>(elapsed * (1.0 - std::min(fraction, 1.0)) / fraction));
    }
    const std::string text = render(fraction, active, done, rate, eta);
    // Pad over a longer previous line.
    const std::size_t pad = lastWidth_ > text.size() ? lastWidth_ - text.size() : 0;
    std::fprintf(out_, "\r%s%*s", text.c_str(), static_cast<int>(pad), "");
    std::fflush(out_);
    lastWidth_ = text.size();
    drawn_ = true;
}

void ProgressLine::clear() {
    if (!enabled_ || !drawn_) return;
    std::fprintf(out_, "\r%*s\r", static_cast<int>(lastWidth_), "");
    std::fflush(out_);
    drawn_ = false;
}

}  // namespace tcpcopy::app
