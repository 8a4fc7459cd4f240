// The regression diff's cost per compared response, on one core: a ResponseCollector per session
// fed every segment of the captured connection (both ways), of the replay and of the target, its
// exchanges compared and counted by a DiffReport (endpoint templates, samples, histograms).
//
// Sessions are keep-alive connections of kRequests requests each: HTTP GETs answered by an
// 850-byte response (the other benchmarks' size), and redis GET/SET pipelines. The target answers
// what the online server answered, except every tenth answer, which differs in one body byte (so
// the report keeps samples). "Payload256" cuts the target's payload to 256 bytes per segment
// (intercept --payload 256): the changed byte is past them, so every answer matches as far as
// captured. Each run checks the report counted exactly that, so the figures are for the work done.
//
// Baseline, in the same invocation: the same segments' payload bytes digested once
// (StreamDigest), the least any comparison of them must do. After the runs, a table gives
// nanoseconds per compared response and the ratio to the baseline.
//
// "Wiring" runs feed the same segments through app::CompareWiring as tcpcopy does (rule match of
// every captured segment in both directions, the collector found by captured or replay tuple,
// sessionStarted/sessionEnded/settle per session): its cost over the module alone is the ratio of
// BM_WiringX to BM_DiffX.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tcpcopy/app/compare_wiring.h"
#include "tcpcopy/diff/collector.h"
#include "tcpcopy/diff/digest.h"
#include "tcpcopy/diff/report.h"

namespace tcpcopy::bench {
namespace {

using namespace std::chrono_literals;
using diff::Time;
namespace tcpflag = net::tcpflag;

constexpr int kRequests = 10;
constexpr std::size_t kWhole = std::string::npos;

enum class Side : std::uint8_t { CapturedClient, CapturedServer, Replayed, Target };

struct Event {
    Side side;
    net::TcpSegment segment;  // payload views Session::texts
    Time time;
};

// One session's segments, in the order the collector would see them. Owns the payload bytes.
struct Session {
    std::vector<std::string> texts;
    std::vector<Event> events;
    std::uint64_t payloadBytes = 0;
};

net::TcpSegment segment(bool fromClient, std::uint32_t seq, std::uint8_t flags, std::string_view text,
                        std::size_t known = kWhole) {
    net::TcpSegment s;
    s.src = fromClient ? net::Ipv4Addr::fromOctets(192, 0, 2, 10) : net::Ipv4Addr::fromOctets(198, 18, 1, 2);
    s.dst = fromClient ? net::Ipv4Addr::fromOctets(198, 18, 1, 2) : net::Ipv4Addr::fromOctets(192, 0, 2, 10);
    s.sport = net::Port(fromClient ? 40000 : 80);
    s.dport = net::Port(fromClient ? 80 : 40000);
    s.seq = net::SeqNum(seq);
    s.flags = flags;
    s.payloadLength = static_cast<std::uint32_t>(text.size());
    const std::string_view given = text.substr(0, std::min(known, text.size()));
    s.payload = std::as_bytes(std::span(given.data(), given.size()));
    return s;
}

std::string httpRequest(int i) {
    return "GET /api/items/" + std::to_string(i) + " HTTP/1.1\r\nHost: shop\r\n\r\n";
}

std::string httpResponse(int i, bool changed) {
    const std::string head = "HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 18:00:0" + std::to_string(i % 10) +
                             " GMT\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: ";
    std::string body(850 - head.size() - 7, 'x');
    body[body.size() / 2] = changed ? 'y' : 'x';
    return head + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string respCommand(int i) {
    const std::string key = "key:" + std::to_string(i);
    if (i % 2 == 0) return "*2\r\n$3\r\nGET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    return "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$5\r\nvalue\r\n";
}

std::string respReply(int i, bool changed) {
    if (i % 2 == 1) return "+OK\r\n";
    return changed ? "$10\r\nvalue-0002\r\n" : "$10\r\nvalue-0001\r\n";
}

// A keep-alive session: the capture (requests 100 us apart, answers after 300 us), then the
// replay (answers after 450 us), the target's payload cut to `known` bytes per segment.
Session makeSession(bool redis, std::size_t known) {
    Session s;
    s.texts.reserve(4 * kRequests);
    for (int i = 0; i < kRequests; ++i) {
        const bool changed = i % 10 == 4;  // a redis GET (even) or an HTTP GET
        s.texts.push_back(redis ? respCommand(i) : httpRequest(i));
        s.texts.push_back(redis ? respReply(i, false) : httpResponse(i, false));
        s.texts.push_back(redis ? respReply(i, changed) : httpResponse(i, changed));
    }
    const std::uint32_t clientIsn = 1000, serverIsn = 5000, targetIsn = 9000;
    const auto add = [&](Side side, net::TcpSegment seg, Time t) { s.events.push_back({side, seg, t}); };
    add(Side::CapturedClient, segment(true, clientIsn, tcpflag::kSyn, {}), 0us);
    add(Side::CapturedServer, segment(false, serverIsn, tcpflag::kSyn | tcpflag::kAck, {}), 50us);
    std::uint32_t client = 0, server = 0;
    for (int i = 0; i < kRequests; ++i) {
        const Time at = 100us + 1000us * i;
        const std::string& request = s.texts[3 * i];
        const std::string& answer = s.texts[3 * i + 1];
        add(Side::CapturedClient,
            segment(true, clientIsn + 1 + client, tcpflag::kAck | tcpflag::kPsh, request), at);
        add(Side::CapturedServer,
            segment(false, serverIsn + 1 + server, tcpflag::kAck | tcpflag::kPsh, answer), at + 300us);
        client += static_cast<std::uint32_t>(request.size());
        server += static_cast<std::uint32_t>(answer.size());
    }
    const Time replay = 1s;
    add(Side::Replayed, segment(true, clientIsn, tcpflag::kSyn, {}), replay);
    add(Side::Target, segment(false, targetIsn, tcpflag::kSyn | tcpflag::kAck, {}), replay + 60us);
    client = 0;
    std::uint32_t target = 0;
    for (int i = 0; i < kRequests; ++i) {
        const Time at = replay + 100us + 1000us * i;
        const std::string& request = s.texts[3 * i];
        const std::string& answer = s.texts[3 * i + 2];
        add(Side::Replayed, segment(true, clientIsn + 1 + client, tcpflag::kAck | tcpflag::kPsh, request),
            at);
        add(Side::Target,
            segment(false, targetIsn + 1 + target, tcpflag::kAck | tcpflag::kPsh, answer, known), at + 450us);
        client += static_cast<std::uint32_t>(request.size());
        target += static_cast<std::uint32_t>(answer.size());
    }
    for (const Event& e : s.events) s.payloadBytes += e.segment.payload.size();
    return s;
}

const Session& session(bool redis, std::size_t known) {
    static std::map<std::pair<bool, std::size_t>, Session> sessions;
    auto it = sessions.find({redis, known});
    if (it == sessions.end()) it = sessions.emplace(std::pair{redis, known}, makeSession(redis, known)).first;
    return it->second;
}

// What the baseline and the diff runs measured: name -> ns per response.
std::map<std::string, double>& figures() {
    static std::map<std::string, double> f;
    return f;
}

void run(benchmark::State& state, bool redis, std::size_t known) {
    const Session& s = session(redis, known);
    diff::CollectorConfig config;
    config.protocol = diff::Protocol::Auto;
    diff::DiffReport report;
    std::uint64_t sessionId = 0;
    for (auto _ : state) {
        config.session = ++sessionId;
        diff::ResponseCollector collector(config, report);
        for (const Event& e : s.events) {
            switch (e.side) {
                case Side::CapturedClient:
                    collector.onCapturedClient(e.segment, e.time);
                    break;
                case Side::CapturedServer:
                    collector.onCapturedServer(e.segment, e.time);
                    break;
                case Side::Replayed:
                    collector.onReplayed(e.segment, e.time);
                    break;
                case Side::Target:
                    collector.onTarget(e.segment, e.time);
                    break;
            }
        }
        collector.finish(2s);
    }
    const diff::Totals& t = report.totals();
    // Every response compared, the changed ones found (with the payload cut, the changed byte is
    // not captured: every response then matches as far as captured): the figures are for the
    // work claimed.
    const auto sessions = static_cast<std::uint64_t>(state.iterations());
    const bool cut = known != kWhole;
    if (t.compared != sessions * kRequests || t.differ != (cut ? 0 : sessions * (kRequests / 10)) ||
        t.partial != (cut ? sessions * kRequests : 0)) {
        static std::string why;
        why = "the report does not count what the benchmark fed it: " + std::to_string(t.compared) +
              " compared, " + std::to_string(t.differ) + " differ, " + std::to_string(t.partial) +
              " partial, " + std::to_string(t.exchanges) + " exchanges";
        state.SkipWithError(why.c_str());
        return;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(t.compared));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.payloadBytes));
}

// The same sessions through the wiring: captured segments by rule (port 80, redis sessions too), the replay
// on the captured tuple (tcpcopy keeps the client address without -c), one session at a time.
void wiring(benchmark::State& state, bool redis, std::size_t known) {
    const Session& s = session(redis, known);
    app::CompareConfig config;
    config.reportFile = "unused";
    const net::Endpoint server{net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)};
    app::CompareWiring w(config, {session::AddressRule{std::nullopt, server.port, server}});
    const net::FlowKey flow{{net::Ipv4Addr::fromOctets(192, 0, 2, 10), net::Port(40000)}, server};
    for (auto _ : state) {
        bool started = false;
        for (const Event& e : s.events) {
            switch (e.side) {
                case Side::CapturedClient:
                case Side::CapturedServer:
                    w.onCaptured(e.segment, e.time);
                    break;
                case Side::Replayed:
                    if (!started) w.sessionStarted(flow, flow, 0);
                    started = true;
                    w.onReplayed(e.segment, e.time);
                    break;
                case Side::Target:
                    w.onTarget(e.segment, e.time);
                    break;
            }
        }
        w.sessionEnded(flow, flow);
        w.settle(2s);
    }
    const diff::Totals& t = w.report().totals();
    const auto sessions = static_cast<std::uint64_t>(state.iterations());
    const bool cut = known != kWhole;
    if (t.compared != sessions * kRequests || t.differ != (cut ? 0 : sessions * (kRequests / 10)) ||
        w.counters().collectors != 0) {
        state.SkipWithError("the wiring did not compare every response it was fed");
        return;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(t.compared));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.payloadBytes));
}

void baseline(benchmark::State& state, bool redis) {
    const Session& s = session(redis, kWhole);
    for (auto _ : state) {
        diff::StreamDigest digest;
        for (const Event& e : s.events) digest.update(e.segment.payload);
        benchmark::DoNotOptimize(digest.value());
    }
    state.SetItemsProcessed(state.iterations() * kRequests);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.payloadBytes));
}

void BM_Baseline_DigestHttp(benchmark::State& state) { baseline(state, false); }
void BM_Baseline_DigestRedis(benchmark::State& state) { baseline(state, true); }
void BM_DiffHttp(benchmark::State& state) { run(state, false, kWhole); }
void BM_DiffHttpPayload256(benchmark::State& state) { run(state, false, 256); }
void BM_DiffRedis(benchmark::State& state) { run(state, true, kWhole); }
void BM_WiringHttp(benchmark::State& state) { wiring(state, false, kWhole); }
void BM_WiringRedis(benchmark::State& state) { wiring(state, true, kWhole); }

BENCHMARK(BM_Baseline_DigestHttp);
BENCHMARK(BM_DiffHttp);
BENCHMARK(BM_DiffHttpPayload256);
BENCHMARK(BM_Baseline_DigestRedis);
BENCHMARK(BM_DiffRedis);
BENCHMARK(BM_WiringHttp);
BENCHMARK(BM_WiringRedis);

// Keeps each run's CPU nanoseconds per response for the table printed at the end.
class Reporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            const auto items = r.counters.find("items_per_second");
            if (r.error_occurred || items == r.counters.end() || items->second.value <= 0) continue;
            figures()[r.benchmark_name()] = 1e9 / items->second.value;
        }
    }
};

void printTable() {
    const auto& f = figures();
    std::printf("\n%-28s %14s %10s %10s\n", "benchmark", "ns/response", "vs digest", "vs module");
    for (const auto& [name, ns] : f) {
        const bool redis = name.find("Redis") != std::string::npos;
        const auto base = f.find(redis ? "BM_Baseline_DigestRedis" : "BM_Baseline_DigestHttp");
        if (base == f.end()) continue;
        const auto module = f.find(redis ? "BM_DiffRedis" : "BM_DiffHttp");
        if (name.starts_with("BM_Wiring") && module != f.end()) {
            std::printf("%-28s %14.1f %9.1fx %9.2fx\n", name.c_str(), ns, ns / base->second,
                        ns / module->second);
        } else {
            std::printf("%-28s %14.1f %9.1fx\n", name.c_str(), ns, ns / base->second);
        }
    }
}

}  // namespace
}  // namespace tcpcopy::bench

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    tcpcopy::bench::Reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    tcpcopy::bench::printTable();
    return 0;
}
