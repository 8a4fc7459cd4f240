// Session engine throughput on one core: captured frames decoded and fed to the engine, the
// simulated target's answers fed back, timers ticked, for three traffic shapes. The baseline is
// the decode loop alone over the same frames, so engine/decode reads as "engine cost over parsing".

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
        case Shape::HttpShort: return {20'000, 1'000};
        case Shape::HttpKeepAlive: return {1'000, 500};
        case Shape::RedisPipeline: return {2'000, 500};
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

void engine(benchmark::State& state, Shape shape) {
    const Traffic& t = trafficOf(shape);
    const std::uint32_t responseBytes = shape == Shape::RedisPipeline ? kRedisResponseBytes : kHttpResponseBytes;
    session::EngineStats last;
    for (auto _ : state) {
        StatelessTarget target(responseBytes);
        session::Engine engine(benchConfig(t.serverPort), target);
        session::Time now = std::chrono::seconds(1);
        session::Time nextTick = now + kTickEvery;
        for (const Frame& f : t.frames) {
            net::DecodeResult r = net::decodeFrame(net::LinkType::Ethernet, f.bytes);
            if (r.status != net::DecodeStatus::Ok) continue;
            engine.onCaptured(r.segment, now);
            target.deliver(engine, now);
            now += kPacketStep;
            if (now >= nextTick) {
                engine.onTick(now);
                target.deliver(engine, now);
                nextTick = now + kTickEvery;
            }
        }
        engine.onInputEnd(now);
        target.deliver(engine, now);
        last = engine.stats();
    }
    // The sessions must really progress: every connection completes, every request goes out.
    if (last.sessionsCompleted != t.connections || last.requestsSent != t.requests) {
        state.SkipWithError(("sessions did not complete: the simulated target and the engine disagree: completed " + std::to_string(last.sessionsCompleted) + " requests " + std::to_string(last.requestsSent) + " of " + std::to_string(t.requests) + " ended-by-replay " + std::to_string(last.sessionsEndedByReplay) + " timeouts " + std::to_string(last.gateTimeouts) + " active " + std::to_string(last.activeSessions) + " resegmented " + std::to_string(last.resegmented)).c_str());
    }
    state.counters["sessions"] = static_cast<double>(last.sessionsCompleted);
    state.counters["requests"] = static_cast<double>(last.requestsSent);
    state.counters["segments_out"] = static_cast<double>(last.segmentsSent);
    state.counters["frames"] = static_cast<double>(t.frames.size());
    state.SetItemsProcessed(static_cast<std::int64_t>(t.frames.size() * state.iterations()));
}

BENCHMARK_CAPTURE(decodeOnly, http_short, Shape::HttpShort)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, http_short, Shape::HttpShort)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decodeOnly, http_keepalive, Shape::HttpKeepAlive)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, http_keepalive, Shape::HttpKeepAlive)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decodeOnly, redis_pipeline, Shape::RedisPipeline)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine, redis_pipeline, Shape::RedisPipeline)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tcpcopy::bench

BENCHMARK_MAIN();
