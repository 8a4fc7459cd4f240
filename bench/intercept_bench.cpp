// intercept's hot path on one core: a captured response frame is decoded, cut to its IP+TCP
// headers, its flow looked up in the route table (refreshing the route), and the headers added
// to the peer's RESPONSES batch, which is finished at the tunnel server's flush size (32 KiB).
// The baseline is the decode loop alone over the same frames. Reports tunnel bytes per response.

#include <benchmark/benchmark.h>

#include <chrono>

#include "tcpcopy/tunnel/codec.h"
#include "tcpcopy/tunnel/route_table.h"
#include "traffic.h"

namespace tcpcopy::bench {
namespace {

constexpr std::size_t kFlows = 10'000;
constexpr std::size_t kFlushBytes = 32u << 10;  // TunnelServerOptions::batchBytes

net::FlowKey replayFlow(std::size_t i) {
    return net::FlowKey{{net::Ipv4Addr(0xC0000200u + 10 + static_cast<std::uint32_t>(i % 200)),
                         net::Port(static_cast<std::uint16_t>(1024 + i / 200))},
                        {*net::Ipv4Addr::parse(kTarget), net::Port(80)}};
}

// What intercept captures on the target's side: per flow a SYN-ACK, a data segment (an 850-byte
// HTTP response, captured whole) and a FIN-ACK, round robin over the flows.
const std::vector<Frame>& responseFrames() {
    static const std::vector<Frame> frames = [] {
        std::vector<Frame> out;
        const std::string body(kHttpResponseBytes, 'x');
        for (int kind = 0; kind < 3; ++kind) {
            for (std::size_t i = 0; i < kFlows; ++i) {
                const net::FlowKey flow = replayFlow(i);
                net::TcpSegment s;
                s.src = flow.server.addr;
                s.sport = flow.server.port;
                s.dst = flow.client.addr;
                s.dport = flow.client.port;
                s.seq = net::SeqNum(1'000'000);
                s.ack = net::SeqNum(static_cast<std::uint32_t>(i) + 1);
                s.window = 512;
                s.ttl = 64;
                s.options.timestamps = net::TcpTimestamps{5, 6};
                std::string_view payload;
                if (kind == 0) {
                    s.flags = tcpflag::kSyn | tcpflag::kAck;
                    s.options.mss = 1460;
                    s.options.windowScale = 7;
                    s.options.sackPermitted = true;
                } else if (kind == 1) {
                    s.flags = tcpflag::kAck | tcpflag::kPsh;
                    payload = body;
                } else {
                    s.flags = tcpflag::kFin | tcpflag::kAck;
                }
                s.payload = net::Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
                Frame f;
                f.bytes.resize(14 + net::kMaxHeadersLen + payload.size());
                f.bytes[12] = std::byte{0x08};
                const std::size_t n = net::buildIpTcp(s, net::MutableBytes(f.bytes).subspan(14));
                f.bytes.resize(14 + n);
                out.push_back(std::move(f));
            }
        }
        return out;
    }();
    return frames;
}

void decodeOnly(benchmark::State& state) {
    const auto& frames = responseFrames();
    for (auto _ : state) {
        for (const Frame& f : frames) {
            net::DecodeResult r = net::decodeFrame(net::LinkType::Ethernet, f.bytes);
            benchmark::DoNotOptimize(r);
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(frames.size() * state.iterations()));
}

// state.range(0): -1 cuts each response with responseHeaderBytes(), the path before --payload
// existed (the baseline of the payload figures); 0 with responsePrefix(..., 0), what intercept
// does now without --payload; N > 0 keeps N payload bytes and batches RESPONSE_PAYLOADS items, what
// a peer granted N bytes costs.
void forward(benchmark::State& state) {
    const auto& frames = responseFrames();
    const std::int64_t mode = state.range(0);
    tunnel::RouteTable routes(tunnel::RouteTableOptions{});
    const tunnel::PeerId peer = 1;
    routes.peerUp(peer);
    routes.peerUp(2);  // two peers: every response needs its route, no single-peer shortcut
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < kFlows; ++i) routes.addRoute(replayFlow(i), peer, t0);
    tunnel::ResponseBatch batch(mode > 0);
    std::uint64_t tunnelBytes = 0;
    std::uint64_t forwarded = 0;
    const auto add = [&](net::Bytes response) {
        if (mode <= 0) return batch.add(response);
        const tunnel::ResponseParts parts = tunnel::splitResponse(response);
        return batch.add(parts.header, parts.payloadLength, parts.payload);
    };
    for (auto _ : state) {
        for (const Frame& f : frames) {
            net::DecodeResult decoded = net::decodeFrame(net::LinkType::Ethernet, f.bytes);
            if (decoded.status != net::DecodeStatus::Ok) continue;
            net::Bytes response =
                mode < 0 ? tunnel::responseHeaderBytes(decoded.ipPacket)
                         : tunnel::responsePrefix(decoded.ipPacket, static_cast<std::size_t>(mode));
            if (response.empty()) continue;
            const net::FlowKey flow = decoded.segment.serverToClientKey();
            const auto now = std::chrono::steady_clock::now();
            if (auto owner = routes.resolve(flow, now); owner && *owner == peer) {
                if (!add(response)) {
                    tunnelBytes += batch.finish().size();
                    add(response);
                }
                if (batch.frameSize() >= kFlushBytes) {
                    tunnel::Buffer done = batch.finish();
                    tunnelBytes += done.size();
                    benchmark::DoNotOptimize(done.data());
                }
                ++forwarded;
            }
        }
    }
    tunnelBytes += batch.empty() ? 0 : batch.finish().size();
    if (forwarded != frames.size() * state.iterations()) state.SkipWithError("responses not routed");
    state.counters["tunnel_bytes_per_response"] =
        static_cast<double>(tunnelBytes) / static_cast<double>(forwarded);
    state.SetItemsProcessed(static_cast<std::int64_t>(forwarded));
}

BENCHMARK(decodeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(forward)->Arg(-1)->Arg(0)->Arg(512)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tcpcopy::bench

BENCHMARK_MAIN();
