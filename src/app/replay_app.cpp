#include "tcpcopy/app/replay_app.h"

#include <event2/event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "tcpcopy/app/engine_output.h"
#include "tcpcopy/app/replay_ops.h"
#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/capture/packet_ring_capture.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/os/service.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/tunnel/secret.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {
namespace {

using Clock = std::chrono::steady_clock;
using session::Time;
using namespace std::chrono_literals;

constexpr auto kTick = 5ms;
constexpr int kFramesPerTurn = 2048;  // then yield to the loop so responses get read
// Event loop priorities: everything runs at the middle one but the offline file pump, which runs
// only in turns where nothing more urgent (tunnel, timers, signals) is ready.
constexpr int kPriorities = 3;
constexpr int kFilePumpPriority = 2;

Time monoNow() { return std::chrono::duration_cast<Time>(Clock::now().time_since_epoch()); }

struct DecodeCounters {
    std::uint64_t frames = 0;
    std::uint64_t notTcp = 0;
    std::uint64_t ipv6 = 0;
    std::uint64_t fragments = 0;
    std::uint64_t malformed = 0;
};

void countDecode(const net::DecodeResult& r, DecodeCounters& c) {
    switch (r.status) {
        case net::DecodeStatus::Ok:
            break;
        case net::DecodeStatus::NotIp:
        case net::DecodeStatus::NotTcp:
            ++c.notTcp;
            break;
        case net::DecodeStatus::Ipv6:
            ++c.ipv6;
            break;
        case net::DecodeStatus::Fragment:
            ++c.fragments;
            break;
        default:
            ++c.malformed;
            break;
    }
}

class ReplayApp {
  public:
    ReplayApp(const ReplayOptions& options, os::EventBase& base) : options_(options), base_(base) {}

    int run() {
        if (int rc = openInjector(); rc != 0) return rc;
        if (int rc = openInput(); rc != 0) return rc;
        if (int rc = openTunnel(); rc != 0) return rc;
        if (int rc = dropPrivileges(); rc != 0) return rc;
        auto output = EngineOutput::create(base_, *injector_, tunnel_.get());
        if (!output) return startError(output.error());
        output_ = std::move(output).value();
        session::EngineConfig engineConfig = options_.engine;
        // -m: the engine counts the bytes its sessions buffer and sheds new sessions above it.
        engineConfig.memoryLimitBytes = options_.memoryLimitMb * 1024 * 1024;
        engine_ = std::make_unique<session::Engine>(engineConfig, *output_);
        if (int rc = installEvents(); rc != 0) return rc;
        if (int rc = startOps(); rc != 0) return rc;
        startedAt_ = Clock::now();
        if (tunnel_) {
            tunnel_->start();
            log_->info("waiting up to {}s for intercept", options_.interceptWait.count());
            waitDeadline_ = Clock::now() + options_.interceptWait;
        } else {
            beginReplay();
        }
        base_.dispatch();
        return finish();
    }

  private:
    int openInjector() {
        if (options_.injector == "raw") {
            auto r = inject::RawSocketInjector::create();
            if (!r) return startError("cannot open the raw injection socket: " + r.error());
            injector_ = std::move(r).value();
        } else {
            auto r = inject::LibnetInjector::create();
            if (!r) return startError("cannot open libnet for injection: " + r.error());
            injector_ = std::move(r).value();
        }
        return 0;
    }

    int openInput() {
        std::error_code ec;
        const bool isFile = std::filesystem::is_regular_file(options_.input, ec);
        if (isFile || options_.input.find('/') != std::string::npos || options_.input.ends_with(".pcap") ||
            options_.input.ends_with(".pcapng")) {
            auto r = capture::PcapFileReader::open(options_.input);
            if (!r) return startError(r.error());
            file_.emplace(std::move(r).value());
            if (!options_.filter.empty()) {
                if (auto err = file_->setFilter(options_.filter); !err.empty()) return startError(err);
            }
            log_->info("input: capture file {} ({})", options_.input, net::linkTypeName(file_->linkType()));
            return 0;
        }
        if (options_.input.empty()) {
            // The ring must hold what arrives while the loop is busy elsewhere: a lost client
            // packet leaves a hole in its session. Only TCP to the -x ports enters it.
            capture::PacketRingOptions ring;
            ring.ringBytes = static_cast<std::size_t>(options_.bufferMb) << 20;
            for (const auto& rule : options_.engine.rules) ring.dstPorts.push_back(rule.onlinePort.value());
            auto r = capture::PacketRingCapture::open(ring);
            if (!r) return startError("cannot open the live capture: " + r.error());
            ring_.emplace(std::move(r).value());
            log_->info("input: live capture of incoming TCP on every interface ({} MiB packet ring)",
                       ring_->ringBytes() >> 20);
            return 0;
        }
        capture::LiveOptions live;
        live.device = options_.input;
        live.filter = options_.filter.empty() ? defaultLiveFilter() : options_.filter;
        live.snaplen = options_.snaplen;
        live.bufferBytes = static_cast<int>(std::size_t(options_.bufferMb) << 20);  // -B <= 2047: fits
        live.direction = capture::Direction::In;
        // Not immediate mode: there libpcap uses TPACKET_V2, one snaplen-sized frame per packet
        // whatever its size once offloads are on (64 MiB held ~1,000 packets, and dropped 17% of
        // a 3.5k conn/s load in bench/live_io.sh). Without it, TPACKET_V3 packs packets into
        // blocks handed over when full or after this timeout: the most a packet waits.
        live.immediate = false;
        live.timeout = std::chrono::milliseconds(1);
        auto r = capture::LiveCapture::open(live);
        if (!r) return startError(r.error());
        live_.emplace(std::move(r).value());
        log_->info("input: live capture on device {} filter '{}'", options_.input, live.filter);
        return 0;
    }

    std::string defaultLiveFilter() const {
        std::string filter = "tcp and (";
        for (std::size_t i = 0; i < options_.engine.rules.size(); ++i) {
            const auto& rule = options_.engine.rules[i];
            if (i) filter += " or ";
            filter += "(dst port " + std::to_string(rule.onlinePort.value());
            if (rule.onlineAddr) filter += " and dst host " + rule.onlineAddr->toString();
            filter += ")";
        }
        return filter + ")";
    }

    // -u: everything that needs root is open now (injection socket, capture, pid and log files).
    int dropPrivileges() {
        if (options_.user.empty()) return 0;
        if (std::string err = os::dropPrivileges(options_.user, {}); !err.empty())
            return startError("-u/--user: " + err);
        log_->info("running as user {} without capabilities", options_.user);
        return 0;
    }

    int openTunnel() {
        if (options_.intercepts.empty()) {
            if (!options_.withoutIntercept)
                return startError("no intercept given (-s ip[:port]); use -L to replay without one");
            log_->warn("replaying without intercept (-L): responses cannot be followed");
            return 0;
        }
        tunnel::TunnelClientOptions topts;
        topts.intercepts = options_.intercepts;
        topts.connectionsPerIntercept = options_.tunnelConnections;
        topts.instanceId = "tcpcopy pid " + std::to_string(::getpid());
        if (!options_.secretFile.empty()) {
            auto secret = tunnel::readSecretFile(options_.secretFile);
            if (!secret) return startError("--secret-file " + secret.error());
            topts.secret = std::move(secret).value();
        }
        if (auto err = tunnel::TunnelClient::validate(topts); !err.empty()) return startError(err);
        tunnel::TunnelClientCallbacks cb;
        cb.onResponse = [this](net::Bytes header) {
            const net::DecodeResult r = net::decodeIpv4Tcp(header);
            if (r.status != net::DecodeStatus::Ok) {
                ++responseMalformed_;
                return;
            }
            engine_->onResponse(r.segment, monoNow());
        };
        cb.onConnected = [this](const tunnel::ConnectionInfo& info) {
            log_->info("connected to intercept {}", info.intercept.toString());
        };
        cb.onLost = [this](const tunnel::ConnectionInfo& info, const std::string& reason) {
            log_->warn("lost intercept {}: {}", info.intercept.toString(), reason);
            lastTunnelProblem_ = reason;  // a refused handshake says more than "unreachable"
        };
        tunnel_ = std::make_unique<tunnel::TunnelClient>(base_, topts, std::move(cb));
        return 0;
    }

    int installEvents() {
        auto tick = os::Event::timer(
            base_, [this](short) { onTick(); }, /*persist=*/true);
        if (!tick) return startError(tick.error());
        tick_.emplace(std::move(tick).value());
        tick_->add(std::chrono::duration_cast<os::Duration>(kTick));
        auto pump = os::Event::timer(base_, [this](short) { pumpFile(); });
        if (!pump) return startError(pump.error());
        pump_.emplace(std::move(pump).value());
        // The target's answers come first: each one a turn leaves unread waits in the tunnel, and a
        // session waiting for it retransmits, which costs more than starting the next captured
        // connection a little later.
        pump_->setPriority(kFilePumpPriority);
        for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
            auto ev = os::Event::signal(base_, signo, [this, signo](short) { onSignal(signo); });
            if (!ev) return startError(ev.error());
            ev.value().add();
            signals_.push_back(std::move(ev).value());
        }
        if (options_.statsInterval.count() > 0) {
            auto st = os::Event::timer(
                base_, [this](short) { logStats(); }, true);
            if (!st) return startError(st.error());
            stats_.emplace(std::move(st).value());
            stats_->add(std::chrono::duration_cast<os::Duration>(options_.statsInterval));
        }
        return 0;
    }

    void beginReplay() {
        replaying_ = true;
        replayStart_ = Clock::now();
        log_->info("replay started");
        service_->ready();  // systemd: capture and tunnel are up
        if (file_) {
            pump_->add(os::Duration(0));
            return;
        }
        int fd = live_ ? live_->fd() : ring_->fd();
        auto ev = os::Event::fd(base_, fd, EV_READ | EV_PERSIST, [this](short) { readLive(); });
        if (!ev) {
            log_->error("{}", ev.error());
            base_.loopBreak();
            return;
        }
        liveEvent_.emplace(std::move(ev).value());
        liveEvent_->add();
    }

    // Offline: feed frames whose (scaled) capture time has come, then sleep until the next one.
    void pumpFile() {
        const Time now = monoNow();
        for (int n = 0; n < kFramesPerTurn; ++n) {
            if (!havePending_) {
                if (!readFrame()) {
                    endOfFile();
                    return;
                }
            }
            const Time due = dueTime(pendingFrame_.timestamp);
            if (due > now) {
                pump_->add(std::chrono::duration_cast<os::Duration>(due - now));
                return;
            }
            feed(pendingFrame_, now);
            havePending_ = false;
        }
        pump_->add(os::Duration(0));
    }

    struct StoredFrame {
        std::chrono::nanoseconds timestamp{0};
        std::vector<std::byte> data;
    };

    bool readFrame() {
        auto frame = file_->next();
        if (!frame) return false;
        pendingFrame_.timestamp = frame->timestamp;
        pendingFrame_.data.assign(frame->data.begin(), frame->data.end());  // reuses the capacity
        havePending_ = true;
        return true;
    }

    Time dueTime(std::chrono::nanoseconds captured) {
        if (!firstCaptureTime_) {
            firstCaptureTime_ = captured;
            lastCaptureTime_ = captured;
            timeBase_ = monoNow();
        }
        auto gap = captured - *lastCaptureTime_;
        if (gap < std::chrono::nanoseconds(0)) gap = std::chrono::nanoseconds(0);
        if (options_.idleSkip.count() > 0 && gap > options_.idleSkip) {
            const auto cut = gap - std::chrono::duration_cast<std::chrono::nanoseconds>(options_.idleSkip);
            skippedIdle_ += cut;
            skippedIdleTotal_ += cut;
        }
        lastCaptureTime_ = captured;
        const auto elapsed = captured - *firstCaptureTime_ - skippedIdle_;
        const auto scaled = std::chrono::nanoseconds(
            static_cast<std::int64_t>(static_cast<double>(elapsed.count()) / options_.accelerate));
        return timeBase_ + scaled;
    }

    void feed(const StoredFrame& frame, Time now) {
        ++decode_.frames;
        net::DecodeResult r = net::decodeFrame(file_->linkType(), frame.data);
        countDecode(r, decode_);
        if (r.status != net::DecodeStatus::Ok) return;
        if (loop_ > 0) {
            // Each pass over the capture is a new set of connections: shift the client's sequence
            // space so a pass is never mistaken for a retransmission of the previous one.
            r.segment.seq += static_cast<std::uint32_t>(loop_) * 0x3C6EF372u;
        }
        engine_->onCaptured(r.segment, now);
    }

    void endOfFile() {
        if (!file_->error().empty()) {
            log_->error("{}", file_->error());
            inputError_ = file_->error();
        }
        if (inputError_.empty() && loop_ + 1 < options_.loops) {
            ++loop_;
            auto r = capture::PcapFileReader::open(options_.input);
            if (r) {
                file_.emplace(std::move(r).value());
                if (!options_.filter.empty()) file_->setFilter(options_.filter);
                // Continue the timeline after the last frame.
                timeBase_ = monoNow();
                firstCaptureTime_.reset();
                skippedIdle_ = {};
                log_->info("pass {} of {} over the capture", loop_ + 1, options_.loops);
                pump_->add(os::Duration(0));
                return;
            }
            log_->error("{}", r.error());
            inputError_ = r.error();
        }
        if (progress_) {
            // The whole file is read: no more redraws, and the log line starts at column 0.
            progressTimer_.reset();
            progress_->clear();
        }
        log_->info("capture read: {} frames; waiting for {} sessions to finish", decode_.frames,
                   engine_->activeSessions());
        engine_->onInputEnd(monoNow());
        checkFinished();
    }

    void readLive() {
        auto handle = [this](const capture::CapturedFrame& frame, net::LinkType link) {
            ++decode_.frames;
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            countDecode(r, decode_);
            if (r.status == net::DecodeStatus::Ok) engine_->onCaptured(r.segment, monoNow());
        };
        const int n =
            live_ ? live_->dispatch(kFramesPerTurn, handle) : ring_->dispatch(kFramesPerTurn, handle);
        if (n < 0) log_->warn("capture: {}", live_->error());  // only libpcap can fail here
    }

    void onTick() {
        const Time now = monoNow();
        if (!replaying_) {
            if (tunnel_->allInterceptsConnected()) {
                beginReplay();
            } else if (Clock::now() >= waitDeadline_) {
                if (options_.withoutIntercept) {
                    log_->warn("intercept not reachable; replaying without it (-L)");
                    beginReplay();
                } else {
                    std::string list;
                    for (const auto& e : options_.intercepts)
                        list += (list.empty() ? "" : ",") + e.toString();
                    failure_ = lastTunnelProblem_.empty()
                                   ? "intercept " + list + " unreachable after " +
                                         std::to_string(options_.interceptWait.count()) +
                                         "s (is intercept running there, and is the port open?)"
                                   : "no tunnel to intercept " + list + " after " +
                                         std::to_string(options_.interceptWait.count()) +
                                         "s: " + lastTunnelProblem_;
                    base_.loopBreak();
                }
            }
            return;
        }
        // Live input: also drain the capture on every tick. The descriptor's readiness is not a
        // promise that every waiting packet wakes the loop (libpcap's ring, immediate mode); a
        // frame left behind would stall its session until the next packet arrives.
        if (live_ || ring_) readLive();
        engine_->onTick(now);
        checkFinished();
    }

    void checkFinished() {
        if (file_ && engine_->finished()) base_.loopBreak();
    }

    void onSignal(int signo) {
        if (signo == SIGHUP) {
            log::reopen();
            log_->info("log reopened");
            return;
        }
        log_->info("signal {}: resetting {} open sessions and stopping", signo, engine_->activeSessions());
        interrupted_ = true;
        engine_->abortAll(monoNow());
        // Let the tunnel flush its route removals before the loop ends.
        base_.loopExit(std::chrono::duration_cast<os::Duration>(100ms));
    }

    void logStats() {
        const auto& s = engine_->stats();
        const auto& inj = injector_->counters();
        log_->info(
            "stats: frames={} sessions active={} captured={} started={} established={} completed={} "
            "failed={} "
            "shed={} requests={} retrans={} responses={} injected={} inject_errors={} buffered={} tunnel={} "
            "tunnel_connects={} tunnel_reconnects={} capture_dropped={}",
            decode_.frames, s.activeSessions, s.sessionsCaptured, s.sessionsStarted, s.sessionsEstablished,
            s.sessionsCompleted, s.sessionsFailed, s.sessionsShed, s.requestsSent, s.retransmissions,
            s.responsesSeen, inj.packets, inj.errors, s.bytesBuffered,
            tunnel_ ? (tunnel_->anyConnected() ? "up" : "down") : "none",
            tunnel_ ? tunnel_->counters().connects : 0, tunnel_ ? tunnel_->counters().reconnects : 0,
            captureDropped());
    }

    // The live capture's counters; nullopt offline (or when libpcap cannot tell).
    std::optional<capture::CaptureStats> captureStats() {
        if (live_) return live_->stats();
        if (ring_) return ring_->stats();
        return std::nullopt;
    }

    // Packets the live capture lost before tcpcopy read them (kernel buffer full, interface).
    std::uint64_t captureDropped() {
        const std::optional<capture::CaptureStats> c = captureStats();
        return c ? c->kernelDropped + c->interfaceDropped : 0;
    }

    nlohmann::json summaryJson(double seconds) {
        const auto& s = engine_->stats();
        const auto& inj = injector_->counters();
        nlohmann::json j;
        j["input"] = options_.input;
        j["seconds"] = seconds;
        j["frames"] = decode_.frames;
        j["frames_not_tcp"] = decode_.notTcp;
        j["frames_ipv6"] = decode_.ipv6;
        j["frames_fragments"] = decode_.fragments;
        j["frames_malformed"] = decode_.malformed;
        j["packets_ignored"] = s.packetsIgnored;
        // -I: capture time cut out of the replay's timeline (all passes).
        j["idle_skipped_seconds"] = std::chrono::duration<double>(skippedIdleTotal_).count();
        j["sessions"] = {{"captured", s.sessionsCaptured},
                         {"started", s.sessionsStarted},
                         {"established", s.sessionsEstablished},
                         {"completed", s.sessionsCompleted},
                         {"ended_by_replay", s.sessionsEndedByReplay},
                         {"reset_by_target", s.sessionsResetByTarget},
                         {"timed_out", s.sessionsTimedOut},
                         {"failed", s.sessionsFailed},
                         {"aborted", s.sessionsAborted},
                         {"active", s.activeSessions},
                         {"no_syn_ack", s.sessionsNoSynAck},
                         {"midstream", s.sessionsMidstream},
                         {"sampled_out", s.sessionsSampledOut},
                         {"ramped_out", s.sessionsRampedOut},
                         {"skipped_midstream", s.sessionsSkippedMidstream},
                         {"shed", s.sessionsShed},
                         {"deferred", s.sessionsDeferred},
                         {"port_reuses", s.portReuses},
                         {"port_remaps", s.portRemaps}};
        j["sessions"]["over_buffer"] = s.sessionsOverBuffer;
        j["requests_sent"] = s.requestsSent;
        j["segments_sent"] = s.segmentsSent;
        j["bytes_sent"] = s.bytesSent;
        j["retransmissions"] = s.retransmissions;
        j["capture_retransmissions"] = s.captureRetransmissions;
        j["capture_out_of_order"] = s.captureOutOfOrder;
        j["capture_gaps"] = s.captureGapsSkipped;
        j["resegmented"] = s.resegmented;
        j["responses_seen"] = s.responsesSeen;
        j["response_bytes"] = s.responseBytes;
        j["responses_unknown"] = s.responsesUnknown;
        j["responses_malformed"] = responseMalformed_;
        j["gate_timeouts"] = s.gateTimeouts;
        j["timer_wakeups"] = s.timerWakeups;
        j["path_rtt"] = {
            {"samples", s.rttSamples}, {"smoothed_us", s.rttSmoothedUs}, {"variation_us", s.rttVariationUs}};
        j["flows_remembered"] = s.flowsRemembered;
        j["flows_forgotten"] = s.flowsForgotten;
        j["resets_sent"] = s.resetsSent;
        j["memory"] = {{"limit_bytes", options_.memoryLimitMb * 1024 * 1024},
                       {"buffered_bytes", s.bytesBuffered},
                       {"buffered_peak_bytes", s.bytesBufferedPeak}};
        j["injected_packets"] = inj.packets;
        j["inject_errors"] = inj.errors;
        j["inject_calls"] = inj.calls;
        j["inject_batches"] = output_->batchCounters().flushes;
        if (const std::optional<capture::CaptureStats> c = captureStats()) {
            j["capture"] = {{"backend", live_ ? "libpcap" : "packet-ring"},
                            {"received", c->received},
                            {"kernel_dropped", c->kernelDropped},
                            {"interface_dropped", c->interfaceDropped},
                            {"queue_freezes", c->queueFreezes}};
        }
        if (tunnel_) {
            const auto& t = tunnel_->counters();
            j["tunnel"] = {{"connects", t.connects},
                           {"reconnects", t.reconnects},
                           {"responses", t.responses},
                           {"routes_sent", t.routesSent},
                           {"malformed", t.malformed}};
        }
        return j;
    }

    int finish() {
        // The loop may have stopped (loopBreak) before the end-of-turn flush ran.
        output_->flush();
        if (progress_) progress_->clear();
        const double seconds = std::chrono::duration<double>(Clock::now() - startedAt_).count();
        if (!failure_.empty()) {
            log_->error("{}", failure_);
            std::fprintf(stderr, "tcpcopy: %s\n", failure_.c_str());
            return 1;
        }
        const auto& s = engine_->stats();
        const auto& inj = injector_->counters();
        const nlohmann::json j = summaryJson(seconds);
        std::printf(
            "tcpcopy summary: %.2fs, %llu frames read\n"
            "  sessions: %llu started (%llu mid-stream), %llu established, %llu completed, %llu ended by "
            "replay, "
            "%llu reset by target, %llu timed out, %llu failed (%llu without SYN-ACK)\n"
            "  skipped: %llu sampled out, %llu ramped out (-g), %llu mid-stream (-O), %llu shed; %llu waited "
            "for a slot "
            "(--max-active); %llu ignored packets\n"
            "  requests sent: %llu, segments %llu, bytes %llu, retransmissions %llu\n"
            "  capture: %llu retransmitted/duplicate, %llu out of order, %llu resegmented\n"
            "  responses seen: %llu (%llu bytes), gate timeouts %llu, resets sent %llu; path RTT %.1f ms (+- "
            "%.1f)\n"
            "  captured connections %llu, aborted at exit %llu, still active %llu; buffered peak %llu "
            "bytes\n",
            seconds, u(decode_.frames), u(s.sessionsStarted), u(s.sessionsMidstream),
            u(s.sessionsEstablished), u(s.sessionsCompleted), u(s.sessionsEndedByReplay),
            u(s.sessionsResetByTarget), u(s.sessionsTimedOut), u(s.sessionsFailed), u(s.sessionsNoSynAck),
            u(s.sessionsSampledOut), u(s.sessionsRampedOut), u(s.sessionsSkippedMidstream), u(s.sessionsShed),
            u(s.sessionsDeferred), u(s.packetsIgnored), u(s.requestsSent), u(s.segmentsSent), u(s.bytesSent),
            u(s.retransmissions), u(s.captureRetransmissions), u(s.captureOutOfOrder), u(s.resegmented),
            u(s.responsesSeen), u(s.responseBytes), u(s.gateTimeouts), u(s.resetsSent),
            static_cast<double>(s.rttSmoothedUs) / 1000.0, static_cast<double>(s.rttVariationUs) / 1000.0,
            u(s.sessionsCaptured), u(s.sessionsAborted), u(s.activeSessions), u(s.bytesBufferedPeak));
        if (j.contains("capture")) {
            const auto& c = j["capture"];
            std::printf(
                "  live capture (%s): %llu received, %llu dropped by the kernel (ring full %llu times), %llu "
                "by the "
                "interface\n",
                c["backend"].get<std::string>().c_str(), u(c["received"].get<std::uint64_t>()),
                u(c["kernel_dropped"].get<std::uint64_t>()), u(c["queue_freezes"].get<std::uint64_t>()),
                u(c["interface_dropped"].get<std::uint64_t>()));
        }
        std::printf("  injected: %llu packets in %llu system calls (%llu batches), %llu errors\n",
                    u(inj.packets), u(inj.calls), u(output_->batchCounters().flushes), u(inj.errors));
        if (tunnel_) {
            const auto& t = tunnel_->counters();
            std::printf("  tunnel: %llu connects, %llu reconnects, %llu responses, %llu routes sent\n",
                        u(t.connects), u(t.reconnects), u(t.responses), u(t.routesSent));
        }
        std::fflush(stdout);
        if (!options_.reportFile.empty()) {
            // A fresh unpredictable temporary file in the report's directory, renamed over it.
            if (std::string error = os::replaceFile(options_.reportFile, j.dump(2) + "\n"); !error.empty()) {
                log_->error("--report: {}", error);
            }
        }
        if (!inputError_.empty()) return 1;
        if (interrupted_) return s.sessionsEstablished > 0 ? 0 : 1;
        if (s.sessionsStarted == 0) {
            std::fprintf(stderr, "tcpcopy: nothing replayed: no connection in %s matched -x\n",
                         options_.input.c_str());
            return 1;
        }
        if (s.sessionsEstablished == 0 && s.sessionsResetByTarget > 0) {
            std::fprintf(stderr,
                         "tcpcopy: nothing replayed: the target refused every connection with a reset "
                         "(is the server listening on the -x target address and port?)\n");
            return 1;
        }
        if (s.sessionsEstablished == 0) {
            std::fprintf(
                stderr,
                "tcpcopy: nothing replayed: no SYN-ACK came back from the target through intercept "
                "(check the target's route for client addresses to the assistant, and intercept's filter)\n");
            return 1;
        }
        // Some sessions went through and others did not: the target stopped or broke mid-replay.
        if (const std::uint64_t lost = s.sessionsResetByTarget + s.sessionsTimedOut + s.sessionsFailed;
            lost > 0) {
            std::fprintf(
                stderr,
                "tcpcopy: %llu of %llu sessions did not complete: %llu reset by the target, %llu timed out, "
                "%llu failed (%llu without SYN-ACK, %llu over --max-session-buffer)\n",
                u(lost), u(s.sessionsStarted), u(s.sessionsResetByTarget), u(s.sessionsTimedOut),
                u(s.sessionsFailed), u(s.sessionsNoSynAck), u(s.sessionsOverBuffer));
            return 1;
        }
        return 0;
    }

    // Operations (docs/metrics.md, docs/usage.md): the metrics registry and --metrics endpoint,
    // systemd notification, and the progress line of an offline replay on a terminal.
    int startOps() {
        registry_ = std::make_unique<stats::Registry>("tcpcopy");
        registerReplayMetrics(
            *registry_,
            ReplaySources{[this]() -> const session::EngineStats& { return engine_->stats(); },
                          [this]() -> const inject::InjectCounters& { return injector_->counters(); },
                          [this]() -> const tunnel::TunnelClient* { return tunnel_.get(); },
                          [this] { return decode_.frames; }, [this] { return captureStats(); },
                          [this] { return output_->batchCounters().flushes; }});
        if (options_.metrics) {
            auto server = stats::MetricsServer::start(base_, *registry_, *options_.metrics);
            if (!server) return startError("--metrics: " + server.error());
            metricsServer_ = std::move(server).value();
            log_->info("metrics on http://{}/metrics", metricsServer_->address().toString());
        }
        auto service = os::ServiceNotifier::attach(base_, [this] {
            const auto& s = engine_->stats();
            return fmt::format("sessions active={} started={} established={} requests={} responses={}",
                               s.activeSessions, s.sessionsStarted, s.sessionsEstablished, s.requestsSent,
                               s.responsesSeen);
        });
        if (!service) return startError(service.error());
        service_ = std::move(service).value();
        if (file_ && ::isatty(STDERR_FILENO) == 1) {
            progress_.emplace(stderr, true);
            std::error_code ec;
            inputSize_ = std::filesystem::file_size(options_.input, ec);
            auto timer = os::Event::timer(
                base_, [this](short) { drawProgress(); }, /*persist=*/true);
            if (!timer) return startError(timer.error());
            progressTimer_.emplace(std::move(timer).value());
            progressTimer_->add(std::chrono::duration_cast<os::Duration>(250ms));
        }
        return 0;
    }

    void drawProgress() {
        if (!replaying_ || !file_) return;
        const double total = static_cast<double>(inputSize_) * options_.loops;
        const double done = static_cast<double>(inputSize_) * loop_ + static_cast<double>(file_->bytesRead());
        const auto& s = engine_->stats();
        progress_->update(total > 0 ? done / total : 0.0, s.activeSessions,
                          s.sessionsStarted - s.activeSessions, s.requestsSent, Clock::now());
    }

    static unsigned long long u(std::uint64_t v) { return v; }

    int startError(const std::string& text) {
        std::fprintf(stderr, "tcpcopy: %s\n", text.c_str());
        return 2;
    }

    const ReplayOptions& options_;
    os::EventBase& base_;
    std::shared_ptr<spdlog::logger> log_ = log::component("tcpcopy");
    std::unique_ptr<inject::Injector> injector_;
    std::optional<capture::PcapFileReader> file_;
    std::optional<capture::LiveCapture> live_;
    std::optional<capture::PacketRingCapture> ring_;
    std::unique_ptr<tunnel::TunnelClient> tunnel_;
    std::unique_ptr<EngineOutput> output_;
    std::unique_ptr<session::Engine> engine_;
    std::optional<os::Event> tick_;
    std::optional<os::Event> pump_;
    std::optional<os::Event> stats_;
    std::optional<os::Event> liveEvent_;
    std::vector<os::Event> signals_;
    DecodeCounters decode_;
    // The next frame of the file, copied out of libpcap's buffer; one buffer reused for every
    // frame so reading allocates nothing once it has grown to the largest frame.
    StoredFrame pendingFrame_;
    bool havePending_ = false;
    std::optional<std::chrono::nanoseconds> firstCaptureTime_;
    std::optional<std::chrono::nanoseconds> lastCaptureTime_;
    std::chrono::nanoseconds skippedIdle_{0};
    std::chrono::nanoseconds skippedIdleTotal_{0};
    Time timeBase_{0};
    unsigned loop_ = 0;
    bool replaying_ = false;
    bool interrupted_ = false;
    std::uint64_t responseMalformed_ = 0;
    std::string failure_;
    std::string lastTunnelProblem_;
    std::string inputError_;
    Clock::time_point startedAt_;
    Clock::time_point replayStart_;
    Clock::time_point waitDeadline_;
    std::unique_ptr<stats::Registry> registry_;
    std::unique_ptr<stats::MetricsServer> metricsServer_;
    std::unique_ptr<os::ServiceNotifier> service_;
    std::optional<ProgressLine> progress_;
    std::optional<os::Event> progressTimer_;
    std::uintmax_t inputSize_ = 0;
};

}  // namespace

int runReplay(const ReplayOptions& options) {
    auto base = os::EventBase::create(kPriorities);
    if (!base) {
        std::fprintf(stderr, "tcpcopy: %s\n", base.error().c_str());
        return 2;
    }
    ReplayApp app(options, base.value());
    return app.run();
}

}  // namespace tcpcopy::app
