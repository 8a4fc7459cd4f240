// Session engine throughput on one core: captured frames decoded and fed to the engine, the
// simulated target's answers fed back, timers ticked, for three traffic shapes. The baseline is
// the decode loop alone over the same frames, so engine/decode reads as "engine cost over parsing".
// engineScale/N (issue 11): the cost per captured packet and per session of a steady stream of
// short sessions while N other sessions are held open; the baseline is the smallest N.

#include <benchmark/benchmark.h>

#include <map>

#include "traffic.h"

namespace tcpcopy::bench {
namespace {

// Simulated time between two captured packets (2 Mpps) and between two ticks (tcpcopy's 5 ms).
constexpr session::Time kPacketStep = std::chrono::nanoseconds(500);
constexpr session::Time kTickEvery = std::chrono::milliseconds(5);

struct ShapeSpec {
    std::size_t connections;
    std::size_t concurrency;
};

ShapeSpec specOf(Shape shape) {
    switch (shape) {
        case Shape::HttpShort:
            return {20'000, 1'000};
        case Shape::HttpKeepAlive:
            return {1'000, 500};
        case Shape::RedisPipeline:
            return {2'000, 500};
    }
    return {1, 1};
}

const Traffic& trafficOf(Shape shape) {
    static std::map<Shape, Traffic> cache;
    auto it = cache.find(shape);
    if (it == cache.end()) {
        const ShapeSpec spec = specOf(shape);
        it = cache.emplace(shape, makeTraffic(shape, spec.connections, spec.concurrency)).first;
    }
    return it->second;
}

// Plays captured frames into an engine as tcpcopy's loop does: one packet every `step` of
// simulated time, the target's answers fed back after each call, a tick every kTickEvery.
class Player {
  public:
    Player(session::Engine& engine, StatelessTarget& target, session::Time start)
        : engine_(engine), target_(target), now_(start), nextTick_(start + kTickEvery) {}

    // `sourceNet` (when not 0) replaces the first three octets of every client address.
    void play(const std::vector<Frame>& frames, session::Time step, std::uint32_t sourceNet = 0) {
        for (const Frame& f : frames) {
            net::DecodeResult r = net::decodeFrame(net::LinkType::Ethernet, f.bytes);
            if (r.status != net::DecodeStatus::Ok) continue;
            if (sourceNet != 0)
                r.segment.src = net::Ipv4Addr(sourceNet | (r.segment.src.v4().value() & 0xFFu));
            engine_.onCaptured(r.segment, now_);
            target_.deliver(engine_, now_);
            now_ += step;
            if (now_ >= nextTick_) tick();
        }
    }
    void tick() {
        engine_.onTick(now_);
        target_.deliver(engine_, now_);
        nextTick_ = now_ + kTickEvery;
    }
    void inputEnd() {
        engine_.onInputEnd(now_);
        target_.deliver(engine_, now_);
    }

  private:
    session::Engine& engine_;
    StatelessTarget& target_;
    session::Time now_;
    session::Time nextTick_;
};

void decodeOnly(benchmark::State& state, Shape shape) {
    const Traffic& t = trafficOf(shape);
    std::uint64_t ok = 0;
    for (auto _ : state) {
        for (const Frame& f : t.frames) {
            net::DecodeResult r = net::decodeFrame(net::LinkType::Ethernet, f.bytes);
            ok += r.status == net::DecodeStatus::Ok;
            benchmark::DoNotOptimize(r);
        }
    }
    if (ok != t.frames.size() * state.iterations()) state.SkipWithError("frames failed to decode");
    state.SetItemsProcessed(static_cast<std::int64_t>(t.frames.size() * state.iterations()));
}

// A protocol hook that sends the client's bytes unchanged: what the hook interface itself costs
// (the output stream, the payload feeds) when a rule has one. Rules without a hook pay nothing:
// compare `engine` with the same benchmark at the commit before hooks.
class PassThroughHook final : public session::ProtocolHook {
  public:
    void onTargetData(net::Bytes, std::uint32_t, std::vector<std::byte>&) override {}
    void onCapturedServerData(net::Bytes, std::uint32_t, std::vector<std::byte>&) override {}
    session::RewriteResult rewriteClient(net::Bytes input, std::vector<std::byte>& out) override {
        out.insert(out.end(), input.begin(), input.end());
        return session::RewriteResult::ok(input.size());
    }
};

class PassThroughHooks final : public session::ProtocolHookFactory {
  public:
    std::unique_ptr<session::ProtocolHook> create(const net::FlowKey&) override {
        return std::make_unique<PassThroughHook>();
    }
};

void engine(benchmark::State& state, Shape shape, bool hooked = false) {
    const Traffic& t = trafficOf(shape);
    PassThroughHooks hooks;
    const std::uint32_t responseBytes =
        shape == Shape::RedisPipeline ? kRedisResponseBytes : kHttpResponseBytes;
    session::EngineStats last;
    for (auto _ : state) {
        StatelessTarget target(responseBytes);
        session::EngineConfig config = benchConfig(t.serverPort);
        if (hooked)
            for (session::AddressRule& rule : config.rules) rule.hook = &hooks;
        session::Engine engine(config, target);
        Player player(engine, target, std::chrono::seconds(1));
        player.play(t.frames, kPacketStep);
        player.inputEnd();
        last = engine.stats();
    }
    // The sessions must really progress: every connection completes, every request goes out.
    if (last.sessionsCompleted != t.connections || last.requestsSent != t.requests) {
        state.SkipWithError(
            ("sessions did not complete: the simulated target and the engine disagree: completed " +
             std::to_string(last.sessionsCompleted) + " requests " + std::to_string(last.requestsSent) +
             " of " + std::to_string(t.requests) + " ended-by-replay " +
             std::to_string(last.sessionsEndedByReplay) + " timeouts " + std::to_string(last.gateTimeouts) +
             " active " + std::to_string(last.activeSessions) + " resegmented " +
             std::to_string(last.resegmented))
                .c_str());
    }
    state.counters["sessions"] = static_cast<double>(last.sessionsCompleted);
    state.counters["requests"] = static_cast<double>(last.requestsSent);
    state.counters["segments_out"] = static_cast<double>(last.segmentsSent);
    state.counters["frames"] = static_cast<double>(t.frames.size());
    state.SetItemsProcessed(static_cast<std::int64_t>(t.frames.size() * state.iterations()));
}

// --- engineScale: cost per packet and per session with N sessions held open -------------------

// The production shape of issue 11: ~20,000 short connections/s, 5 client packets each (SYN, ACK,
// request, ACK of the response, FIN): one captured client packet every 10 us of simulated time,
// so a 5 ms tick comes every 500 packets.
constexpr session::Time kScalePacketStep = std::chrono::microseconds(10);
constexpr std::size_t kScaleStreamSessions = 2'000;  // short sessions per iteration
constexpr std::size_t kScaleStreamConcurrency = 100;

// The open sessions: a captured SYN and the client's ACK each, from addresses 10.1.x.x (the
// stream uses others), 50,000 ports per address.
const std::vector<Frame>& idleFrames(std::size_t n) {
    static std::map<std::size_t, std::vector<Frame>> cache;
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
    Traffic t;
    for (std::size_t i = 0; i < n; ++i) {
        ClientConn c(0x0A010000u + static_cast<std::uint32_t>(i / 50'000),
                     static_cast<std::uint16_t>(1024 + i % 50'000), 80,
                     static_cast<std::uint32_t>(i * 7919u + 1));
        c.syn(t);
        c.ack(t);
    }
    return cache.emplace(n, std::move(t.frames)).first->second;
}

const Traffic& scaleStream() {
    static const Traffic t = makeTraffic(Shape::HttpShort, kScaleStreamSessions, kScaleStreamConcurrency);
    return t;
}

void engineScale(benchmark::State& state) {
    const auto open = static_cast<std::size_t>(state.range(0));
    const Traffic& stream = scaleStream();
    const std::vector<Frame>& idle = idleFrames(open);
    StatelessTarget target(kHttpResponseBytes);
    session::EngineConfig config = benchConfig(80);
    // The open sessions stay open for the whole measurement, however long it runs.
    config.sessionTimeout = std::chrono::hours(24 * 365);
    config.keepaliveTimeout = std::chrono::hours(24 * 365);
    config.maxSessions = open + 10 * kScaleStreamConcurrency;
    session::Engine engine(config, target);
    Player player(engine, target, std::chrono::seconds(1));
    player.play(idle, session::Time{0});  // all at once: the handshakes complete as answered
    player.tick();
    if (engine.activeSessions() != open || engine.stats().sessionsEstablished != open) {
        state.SkipWithError(("the open sessions did not establish: active " +
                             std::to_string(engine.activeSessions()) + " established " +
                             std::to_string(engine.stats().sessionsEstablished))
                                .c_str());
        return;
    }
    const session::EngineStats before = engine.stats();
    std::uint32_t round = 0;
    for (auto _ : state) {
        // Each round's stream comes from its own client addresses (11.x.y.z), so no captured
        // connection of one round meets a session of an earlier one.
        player.play(stream.frames, kScalePacketStep, 0x0B000000u + ((round++ & 0xFFFFu) << 8));
    }
    // Outside the timed loop: sessions whose last answer came with the last packet finish here.
    player.tick();
    const session::EngineStats& s = engine.stats();
    const std::uint64_t rounds = state.iterations();
    const std::uint64_t completed = s.sessionsCompleted - before.sessionsCompleted;
    const std::uint64_t requests = s.requestsSent - before.requestsSent;
    if (completed != rounds * stream.connections || requests != rounds * stream.requests ||
        engine.activeSessions() < open) {
        state.SkipWithError(
            ("the stream did not complete beside the open sessions: completed " + std::to_string(completed) +
             " of " + std::to_string(rounds * stream.connections) + ", requests " + std::to_string(requests) +
             " of " + std::to_string(rounds * stream.requests) + ", still open " +
             std::to_string(engine.activeSessions()) + " of " + std::to_string(open) +
             " held open; timed out " + std::to_string(s.sessionsTimedOut) + ", gate timeouts " +
             std::to_string(s.gateTimeouts))
                .c_str());
        return;
    }
    state.counters["open_sessions"] = static_cast<double>(open);
    state.counters["frames_per_iteration"] = static_cast<double>(stream.frames.size());
    state.counters["sessions_per_iteration"] = static_cast<double>(stream.connections);
    state.counters["ticks_per_iteration"] =
        static_cast<double>(stream.frames.size()) * static_cast<double>(kScalePacketStep.count()) /
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(kTickEvery).count());
    state.SetItemsProcessed(static_cast<std::int64_t>(stream.frames.size() * state.iterations()));
}

BENCHMARK_CAPTURE(decodeOnly, http_short, Shape::HttpShort)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, http_short, Shape::HttpShort)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decodeOnly, http_keepalive, Shape::HttpKeepAlive)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, http_keepalive, Shape::HttpKeepAlive)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, http_keepalive_hooked, Shape::HttpKeepAlive, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decodeOnly, redis_pipeline, Shape::RedisPipeline)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, redis_pipeline, Shape::RedisPipeline)->Unit(benchmark::kMillisecond);
BENCHMARK(engineScale)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tcpcopy::bench

BENCHMARK_MAIN();
