#include "tcpcopy/app/replay_app.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "tcpcopy/app/capture_source.h"
#include "tcpcopy/app/compare_wiring.h"
#include "tcpcopy/app/engine_output.h"
#include "tcpcopy/app/link_output.h"
#include "tcpcopy/app/progress_line.h"
#include "tcpcopy/app/replay_exit.h"
#include "tcpcopy/app/replay_metrics.h"
#include "tcpcopy/app/udp_copy.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/inject/packet_batch.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/clock.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/os/service.h"
#include "tcpcopy/session/engine.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/tunnel/secret.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {
namespace {

using Time = std::chrono::nanoseconds;
using namespace std::chrono_literals;

constexpr std::string_view kProgram = "tcpcopy";
constexpr auto kTick = 5ms;
constexpr auto kProgressInterval = 250ms;
// After SIGINT/SIGTERM, how long the loop goes on so that the tunnel sends the route removals.
constexpr auto kStopGrace = 100ms;
// Each pass over a capture file (-T) is a new set of connections: its client sequence numbers
// are shifted by this much per pass, so that a pass is never taken for a retransmission of the
// one before (twice 0x9E3779B9, the 32-bit golden ratio: passes land far apart).
constexpr std::uint32_t kPassSequenceShift = 0x3C6EF372u;

class ReplayApp final : public FrameSink {
  public:
    ReplayApp(const ReplayOptions& options, Daemon& daemon, os::EventBase& base)
        : options_(options), daemon_(daemon), base_(base) {}

    int run() {
        if (int rc = open(); rc != kExitOk) return rc;
        if (std::string error = daemon_.detach(base_); !error.empty()) return startError(kProgram, error);
        if (std::string error = daemon_.dropPrivileges(); !error.empty()) return startError(kProgram, error);
        startedAt_ = clock_.now();
        if (tunnel_) {
            tunnel_->start();
            log_->info("waiting up to {}s for intercept", options_.interceptWait.count());
            waitDeadline_ = clock_.now() + options_.interceptWait;
        } else {
            beginReplay();
        }
        base_.dispatch();
        return finish();
    }

    void onFrame(net::LinkType link, net::Bytes frame, Time now, Time stamp, unsigned pass) override {
        net::DecodeResult decoded = net::decodeFrame(link, frame);
        frames_.count(decoded);
        if (decoded.status == net::DecodeStatus::NotTcp && udp_) {
            udp_->onPacket(net::parseIpLayer(decoded.ipPacket));
            return;
        }
        if (decoded.status != net::DecodeStatus::Ok) return;
        decoded.segment.seq += pass * kPassSequenceShift;
        // The regression diff sees both directions (the engine only the client's), in the
        // capture's clock: the online latencies are the capture's.
        if (compare_) compare_->onCaptured(decoded.segment, stamp);
        engine_->onCaptured(decoded.segment, now);
    }

    void onInputEnd(const std::string& error) override {
        inputError_ = error;
        if (progress_) {
            // The whole file is read: one last redraw shows where the input ended (whatever the
            // redraw period caught before), then no more, and the log line starts at column 0.
            drawProgress();
            progressTimer_.reset();
            progress_->clear();
        }
        log_->info("capture read: {} frames; waiting for {} sessions to finish", frames_.frames,
                   engine_->activeSessions());
        engine_->onInputEnd(clock_.now());
        inputEndedAt_ = clock_.now();
        checkFinished();
    }

  private:
    // Everything that needs root or can fail, before the daemon detaches and drops privileges.
    int open() {
        // First: a bad --protocol or credentials file is the user's to fix before anything opens.
        hookedRules_ = options_.engine.rules;
        auto hooks = ProtocolHooks::attach(options_.protocols, options_.mysqlCredentials,
                                           options_.mysqlMidstreamLogin, hookedRules_, log_);
        if (!hooks) return startError(kProgram, hooks.error());
        hooks_ = std::move(hooks).value();
        if (int rc = openInjector(); rc != kExitOk) return rc;
        if (int rc = openUdp(); rc != kExitOk) return rc;
        auto source = openCaptureSource(options_, base_, clock_, *this);
        if (!source) return startError(kProgram, source.error());
        source_ = std::move(source).value();
        if (int rc = openTunnel(); rc != kExitOk) return rc;
        auto output = EngineOutput::create(base_, *injector_, tunnel_.get());
        if (!output) return startError(kProgram, output.error());
        output_ = std::move(output).value();
        session::EngineConfig engineConfig = options_.engine;
        engineConfig.rules = hookedRules_;
        // -m: the engine counts the bytes its sessions buffer and sheds new sessions above it.
        engineConfig.memoryLimitBytes = memoryLimitBytes();
        session::Output* engineOutput = output_.get();
        if (options_.compare.enabled()) {
            // Comparison on: the engine's output goes through the wiring; otherwise nothing of it
            // exists and the replay runs as it does without.
            compare_ = std::make_unique<CompareWiring>(options_.compare, options_.engine.rules,
                                                       options_.engine.samplePercent);
            targetJoin_.emplace(*compare_);
            compareOutput_ =
                std::make_unique<CompareOutput>(*output_, *compare_, [this] { return clock_.now(); });
            engineOutput = compareOutput_.get();
        }
        engine_ = std::make_unique<session::Engine>(engineConfig, *engineOutput);
        if (int rc = installEvents(); rc != kExitOk) return rc;
        return startOps();
    }

    std::size_t memoryLimitBytes() const { return options_.memoryLimitMb << 20; }

    int openInjector() {
        auto injector = openInjectorOfKind();
        if (!injector) return startError(kProgram, injector.error());
        injector_ = std::move(injector).value();
        return kExitOk;
    }

    os::Result<std::unique_ptr<inject::Injector>> openInjectorOfKind() const {
        using R = os::Result<std::unique_ptr<inject::Injector>>;
        if (!options_.linkDevice.empty()) {
            auto r = openLinkInjector(options_);
            if (!r) return R::fail(r.error());
            return R::ok(std::move(r).value());
        }
        // An IPv6 target: the IPv6 socket opens now, before -u drops CAP_NET_RAW; its failure is
        // reported when IPv6 is sent, so that IPv4 targets replay on a host without IPv6.
        const bool ipv6 =
            std::any_of(options_.engine.rules.begin(), options_.engine.rules.end(),
                        [](const session::AddressRule& rule) { return rule.target.addr.isV6(); });
        const inject::Ipv6Socket when =
            ipv6 ? inject::Ipv6Socket::AtCreate : inject::Ipv6Socket::OnFirstPacket;
        if (options_.injector == "raw") {
            auto r = inject::RawSocketInjector::create({.ipv6 = when});
            if (!r) return R::fail("cannot open the raw injection socket: " + r.error());
            return R::ok(std::move(r).value());
        }
        auto r = inject::LibnetInjector::create(when);
        if (!r) return R::fail("cannot open libnet for injection: " + r.error());
        return R::ok(std::move(r).value());
    }

    // -x udp: datagrams are copied as they come (UdpCopier), through an injector of their own so
    // that their counters are theirs, one batch per loop turn like the engine's packets.
    int openUdp() {
        if (options_.udpRules.empty()) return kExitOk;
        auto injector = openInjectorOfKind();
        if (!injector) return startError(kProgram, "UDP copy: " + injector.error());
        udpInjector_ = std::move(injector).value();
        udpBatch_.emplace(*udpInjector_);
        auto flush = os::Event::timer(base_, [this](short) { udpBatch_->flush(); });
        if (!flush) return startError(kProgram, "UDP copy: " + flush.error());
        udpFlush_.emplace(std::move(flush).value());
        // With intercept (-s: openTunnel opens the tunnel), each UDP flow is announced so that
        // intercept forwards its answers.
        UdpCopier::RouteHooks routes;
        if (!options_.intercepts.empty()) {
            routes.add = [this](const net::FlowKey& flow) {
                if (tunnel_) tunnel_->addRoute(flow);
            };
            routes.remove = [this](const net::FlowKey& flow) {
                if (tunnel_) tunnel_->removeRoute(flow);
            };
        }
        udp_.emplace(
            UdpCopyConfig::from(options_.engine, options_.udpRules),
            [this](net::Bytes packet) {
                const net::MutableBytes room = udpBatch_->reserve(packet.size());
                if (room.size() < packet.size()) return;  // larger than the arena: cannot be
                if (udpBatch_->empty()) udpFlush_->activate();
                std::copy(packet.begin(), packet.end(), room.begin());
                udpBatch_->commit(packet.size());
            },
            std::move(routes));
        return kExitOk;
    }

    int openTunnel() {
        // UDP copy needs no intercept: with only udp: rules and no -s, nothing is waited for.
        // With -s, intercept forwards the UDP answers it captures and they are counted.
        if (options_.engine.rules.empty() && options_.intercepts.empty()) return kExitOk;
        if (options_.intercepts.empty()) {
            if (!options_.withoutIntercept) {
                return startError(kProgram,
                                  "no intercept given (-s ip[:port]); use -L to replay without one");
            }
            log_->warn("replaying without intercept (-L): responses cannot be followed");
            return kExitOk;
        }
        tunnel::TunnelClientOptions topts;
        topts.intercepts = options_.intercepts;
        topts.connectionsPerIntercept = options_.tunnelConnections;
        topts.instanceId = "tcpcopy pid " + std::to_string(::getpid());
        topts.payloadBytes = options_.responsePayload;
        if (!options_.secretFile.empty()) {
            auto secret = tunnel::readSecretFile(options_.secretFile);
            if (!secret) return startError(kProgram, "--secret-file " + secret.error());
            topts.secret = std::move(secret).value();
        }
        if (auto err = tunnel::TunnelClient::validate(topts); !err.empty()) return startError(kProgram, err);
        tunnel::TunnelClientCallbacks cb;
        cb.onResponse = [this](net::Bytes header) {
            // A UDP answer (UDP copy is IPv4 only: an IPv6 header's byte 9 is its source address).
            if (udp_ && header.size() > 9 && std::to_integer<std::uint8_t>(header[0]) >> 4 == 4 &&
                std::to_integer<std::uint8_t>(header[9]) == net::kIpProtoUdp) {
                udp_->onResponse(header);
                return;
            }
            const net::DecodeResult r = net::decodeIpTcp(header);
            if (r.status != net::DecodeStatus::Ok) {
                ++frames_.responsesMalformed;
                return;
            }
            if (targetJoin_) targetJoin_->onHeader(r.segment, clock_.now());
            engine_->onResponse(r.segment, clock_.now());
        };
        // The engine got the header above; the payload goes to the regression diff (--compare-*) and
        // to the protocol hooks (nothing happens in the engine without --protocol).
        cb.onResponsePayload = [this](net::Bytes header, std::uint32_t, net::Bytes captured) {
            ++frames_.payloadResponses;
            frames_.payloadBytes += captured.size();
            net::DecodeResult r = net::decodeIpTcp(header);
            if (r.status != net::DecodeStatus::Ok) return;
            if (targetJoin_) targetJoin_->onPayload(r.segment, captured, clock_.now());
            r.segment.payload = captured;
            engine_->onTargetPayload(r.segment, clock_.now());
        };
        cb.onConnected = [this](const tunnel::ConnectionInfo& info) {
            log_->info("connected to intercept {}", info.intercept.toString());
        };
        cb.onLost = [this](const tunnel::ConnectionInfo& info, const std::string& reason) {
            log_->warn("lost intercept {}: {}", info.intercept.toString(), reason);
            lastTunnelProblem_ = reason;  // a refused handshake says more than "unreachable"
        };
        tunnel_ = std::make_unique<tunnel::TunnelClient>(base_, topts, std::move(cb));
        return kExitOk;
    }

    int installEvents() {
        auto tick = os::Event::timer(
            base_, [this](short) { onTick(); }, /*persist=*/true);
        if (!tick) return startError(kProgram, tick.error());
        tick_.emplace(std::move(tick).value());
        tick_->add(std::chrono::duration_cast<os::Duration>(kTick));
        auto signals = handleSignals(base_, kProgram, [this](int signo) { onStop(signo); });
        if (!signals) return startError(kProgram, signals.error());
        signals_ = std::move(signals).value();
        if (options_.statsInterval.count() > 0) {
            auto st = os::Event::timer(
                base_, [this](short) { log_->info("{}", statsLine()); }, true);
            if (!st) return startError(kProgram, st.error());
            stats_.emplace(std::move(st).value());
            stats_->add(std::chrono::duration_cast<os::Duration>(options_.statsInterval));
        }
        return kExitOk;
    }

    // Operations (docs/metrics.md, docs/usage.md): the counters and the --metrics endpoint,
    // systemd notification, and the progress line of an offline replay on a terminal.
    int startOps() {
        registerReplayMetrics(
            registry_,
            ReplaySources{
                [this]() -> const session::EngineStats& { return engine_->stats(); },
                [this]() -> const inject::InjectCounters& { return injector_->counters(); },
                [this]() -> const tunnel::TunnelClient* { return tunnel_.get(); },
                [this]() -> const FrameCounters& { return frames_; }, [this] { return source_->stats(); },
                [this] { return output_->batchCounters().flushes; },
                [this] { return source_->idleSkipped(); },
                [this] { return finishedAt_.value_or(clock_.now()) - startedAt_; }, memoryLimitBytes(),
                [this]() -> const UdpCopyStats* { return udp_ ? &udp_->stats() : nullptr; },
                [this]() -> const inject::InjectCounters* {
                    return udpInjector_ ? &udpInjector_->counters() : nullptr;
                },
                [this]() -> const CompareCounters* { return compare_ ? &compare_->counters() : nullptr; }});
        if (const auto& metrics = daemon_.options().metrics) {
            auto server = stats::MetricsServer::start(base_, registry_, *metrics);
            if (!server) return startError(kProgram, "--metrics: " + server.error());
            metricsServer_ = std::move(server).value();
            log_->info("metrics on http://{}/metrics", metricsServer_->address().toString());
        }
        auto service = os::ServiceNotifier::attach(base_, [this] { return renderReplayStatus(registry_); });
        if (!service) return startError(kProgram, service.error());
        service_ = std::move(service).value();
        if (source_->finite() && ::isatty(STDERR_FILENO) == 1) {
            progress_.emplace(stderr, true);
            auto timer = os::Event::timer(
                base_, [this](short) { drawProgress(); }, /*persist=*/true);
            if (!timer) return startError(kProgram, timer.error());
            progressTimer_.emplace(std::move(timer).value());
            progressTimer_->add(std::chrono::duration_cast<os::Duration>(kProgressInterval));
        }
        return kExitOk;
    }

    void beginReplay() {
        replaying_ = true;
        log_->info("replay started");
        service_->ready();  // systemd: capture and tunnel are up
        if (std::string error = source_->start(); !error.empty()) {
            log_->error("{}", error);
            base_.loopBreak();
        }
    }

    void onTick() {
        const Time now = clock_.now();
        if (!replaying_) {
            waitForIntercept(now);
            return;
        }
        source_->poll();
        engine_->onTick(now);
        settleCompare(now);
        checkFinished();
    }

    // Before the replay: every intercept connected starts it; --intercept-wait over, -L starts it
    // anyway and otherwise the run fails naming the intercepts.
    void waitForIntercept(Time now) {
        if (tunnel_->allInterceptsConnected()) {
            beginReplay();
            return;
        }
        if (now < waitDeadline_) return;
        if (options_.withoutIntercept || options_.engine.rules.empty()) {
            log_->warn("intercept not reachable; replaying without it{}",
                       options_.withoutIntercept ? " (-L)" : ": UDP answers are not counted");
            beginReplay();
            return;
        }
        std::string list;
        for (const auto& e : options_.intercepts) list += (list.empty() ? "" : ",") + e.toString();
        const std::string waited = std::to_string(options_.interceptWait.count()) + "s";
        failure_ = lastTunnelProblem_.empty()
                       ? "intercept " + list + " unreachable after " + waited +
                             " (is intercept running there, and is the port open?)"
                       : "no tunnel to intercept " + list + " after " + waited + ": " + lastTunnelProblem_;
        base_.loopBreak();
    }

    // The collectors of the sessions that ended finish once the target's last payload is in.
    void settleCompare(Time now) {
        if (!compare_) return;
        targetJoin_->flush();
        compare_->settle(now);
    }

    void checkFinished() {
        if (source_->finite() && engine_->finished() && udpAnswersSettled()) base_.loopBreak();
    }

    // After the file: every announced UDP flow answered, or --udp-wait over.
    bool udpAnswersSettled() const {
        if (!udp_ || !tunnel_ || udp_->flowsAwaitingResponse() == 0) return true;
        if (!inputEndedAt_) return false;
        return clock_.now() - *inputEndedAt_ >= options_.udpResponseWait;
    }

    void onStop(int signo) {
        log_->info("signal {}: resetting {} open sessions and stopping", signo, engine_->activeSessions());
        interrupted_ = true;
        engine_->abortAll(clock_.now());
        base_.loopExit(std::chrono::duration_cast<os::Duration>(kStopGrace));
    }

    std::string tunnelState() const {
        if (!tunnel_) return "none";
        return tunnel_->anyConnected() ? "up" : "down";
    }

    std::string statsLine() const { return renderReplayStatsLine(registry_, {{"tunnel", tunnelState()}}); }

    void drawProgress() {
        if (!replaying_) return;
        const auto& s = engine_->stats();
        const auto now = ProgressLine::Clock::time_point(
            std::chrono::duration_cast<ProgressLine::Clock::duration>(clock_.now()));
        progress_->update(source_->progress().value_or(0.0), s.activeSessions,
                          s.sessionsStarted - s.activeSessions, s.requestsSent, now);
    }

    int finish() {
        // The loop may have stopped (loopBreak) before the end-of-turn flush ran.
        output_->flush();
        if (udpBatch_) udpBatch_->flush();
        if (progress_) progress_->clear();
        finishedAt_ = clock_.now();
        if (compare_) {
            targetJoin_->flush();
            compare_->finishAll(*finishedAt_);
        }
        if (!failure_.empty()) {
            log_->error("{}", failure_);
            std::fprintf(stderr, "tcpcopy: %s\n", failure_.c_str());
            return kExitFailure;
        }
        const bool live = source_->stats().has_value();
        stats::Labels labels{{"input", options_.input}};
        if (live) labels.emplace_back("capture.backend", std::string(source_->backend()));
        std::fputs(renderReplaySummary(registry_, labels, live, tunnel_ != nullptr, udp_.has_value(),
                                       options_.responsePayload > 0, !options_.protocols.empty(),
                                       compare_ != nullptr)
                       .c_str(),
                   stdout);
        if (const std::string hint = protocolHint(engine_->config().rules); !hint.empty())
            std::printf("  note: %s\n", hint.c_str());
        std::fflush(stdout);
        if (compare_) writeCompareReport();
        if (!options_.reportFile.empty()) {
            // A fresh unpredictable temporary file in the report's directory, renamed over it.
            const std::string report = stats::renderJson(registry_, labels);
            if (std::string error = os::replaceFile(options_.reportFile, report); !error.empty()) {
                log_->error("--report: {}", error);
            }
        }
        ReplayEnd end;
        end.input = options_.input;
        end.inputError = inputError_;
        end.interrupted = interrupted_;
        end.stats = engine_->stats();
        end.tcpRules = !options_.engine.rules.empty();
        end.udpRules = udp_.has_value();
        if (udpInjector_) {
            end.udpSent = udpInjector_->counters().packets;
            end.udpSendErrors = udpInjector_->counters().errors;
        }
        const ExitStatus status = replayExitStatus(end);
        if (!status.message.empty()) std::fprintf(stderr, "tcpcopy: %s\n", status.message.c_str());
        return status.code;
    }

    void writeCompareReport() {
        diff::ReportInfo info;
        info.facts.emplace_back("input", options_.input);
        std::string targets;
        for (const auto& rule : options_.engine.rules) {
            targets += (targets.empty() ? "" : ", ") +
                       (rule.onlineAddr ? rule.onlineAddr->toString() + ":" : std::string()) +
                       std::to_string(rule.onlinePort.value()) + " -> " + rule.target.toString();
        }
        info.facts.emplace_back("rules", targets);
        info.facts.emplace_back("response payload", std::to_string(options_.responsePayload) + " bytes");
        if (options_.engine.copies > 1) info.facts.emplace_back("compared", "copy 0 of -n");
        if (std::string error = writeCompareReports(*compare_, info); !error.empty())
            log_->error("{}", error);
    }

    const ReplayOptions& options_;
    Daemon& daemon_;
    os::EventBase& base_;
    os::SteadyClock clock_;
    Time startedAt_{0};
    std::optional<Time> finishedAt_;
    Time waitDeadline_{0};
    std::shared_ptr<spdlog::logger> log_ = log::component(kProgram);
    std::unique_ptr<inject::Injector> injector_;
    std::unique_ptr<CaptureSource> source_;
    std::unique_ptr<tunnel::TunnelClient> tunnel_;
    std::unique_ptr<EngineOutput> output_;
    std::unique_ptr<ProtocolHooks> hooks_;           // before engine_: the engine's rules point into it
    std::vector<session::AddressRule> hookedRules_;  // -x's TCP rules, with their hooks
    std::unique_ptr<CompareWiring> compare_;         // --compare-*; null when off
    std::optional<TargetPayloadJoin> targetJoin_;
    std::unique_ptr<CompareOutput> compareOutput_;
    std::unique_ptr<session::Engine> engine_;
    std::unique_ptr<inject::Injector> udpInjector_;
    std::optional<inject::PacketBatch> udpBatch_;
    std::optional<os::Event> udpFlush_;
    std::optional<UdpCopier> udp_;
    std::optional<Time> inputEndedAt_;
    std::optional<os::Event> tick_;
    std::optional<os::Event> stats_;
    std::vector<os::Event> signals_;
    FrameCounters frames_;
    bool replaying_ = false;
    bool interrupted_ = false;
    std::string failure_;
    std::string lastTunnelProblem_;
    std::string inputError_;
    stats::Registry registry_{std::string(kProgram)};
    std::unique_ptr<stats::MetricsServer> metricsServer_;
    std::unique_ptr<os::ServiceNotifier> service_;
    std::optional<ProgressLine> progress_;
    std::optional<os::Event> progressTimer_;
};

}  // namespace

int runReplay(const ReplayOptions& options, Daemon& daemon) {
    auto base = os::EventBase::create(kEventPriorities);
    if (!base) return startError(kProgram, base.error());
    ReplayApp app(options, daemon, base.value());
    return app.run();
}

}  // namespace tcpcopy::app
