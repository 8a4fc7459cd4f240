// Bytes per concurrent session: opens N sessions in the engine (captured SYNs of N distinct
// connections, a null output that never answers, no ticks), then reports the growth of the heap
// (mallinfo2: bytes in use) and of the resident set (VmRSS) divided by N, as one JSON line.
// A second phase answers each SYN (handshake done, sessions established and idle) and reports
// the same figures for established idle sessions.
// Usage: session_memory N

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "traffic.h"

namespace tcpcopy::bench {
namespace {

long rssKib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

std::size_t heapInUse() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

net::TcpSegment synOf(std::size_t i) {
    net::TcpSegment s;
    s.src = net::Ipv4Addr(0xC0000200u + 10 + static_cast<std::uint32_t>(i % 200));
    s.dst = *net::Ipv4Addr::parse(kOnlineServer);
    s.sport = net::Port(static_cast<std::uint16_t>(1024 + (i / 200) % 60000));
    s.dport = net::Port(80);
    s.seq = net::SeqNum(static_cast<std::uint32_t>(i * 7919u + 1));
    s.flags = tcpflag::kSyn;
    s.window = 64240;
    s.ttl = 64;
    s.options.mss = 1460;
    s.options.windowScale = 7;
    s.options.sackPermitted = true;
    s.options.timestamps = net::TcpTimestamps{1, 0};
    return s;
}

int run(std::size_t n) {
    if (n > 200 * 60000) {
        std::fprintf(stderr, "session_memory: at most %d sessions\n", 200 * 60000);
        return 2;
    }
    StatelessTarget target(kHttpResponseBytes, /*answer=*/false);
    session::EngineConfig config = benchConfig(80);
    config.maxSessions = n;
    const long rss0 = rssKib();
    const std::size_t heap0 = heapInUse();
    auto engine = std::make_unique<session::Engine>(config, target);
    const session::Time now = std::chrono::seconds(1);
    for (std::size_t i = 0; i < n; ++i) engine->onCaptured(synOf(i), now);
    const long rss1 = rssKib();
    const std::size_t heap1 = heapInUse();
    if (engine->activeSessions() != n) {
        std::fprintf(stderr, "session_memory: %zu sessions open, wanted %zu\n", engine->activeSessions(), n);
        return 1;
    }
    // Established and idle: the target answers every SYN, the engine completes the handshakes.
    StatelessTarget answering(kHttpResponseBytes);
    for (std::size_t i = 0; i < n; ++i) {
        net::TcpSegment synAck;
        const net::TcpSegment syn = synOf(i);
        synAck.src = *net::Ipv4Addr::parse(kTarget);
        synAck.sport = net::Port(80);
        synAck.dst = syn.src;
        synAck.dport = syn.sport;
        synAck.seq = net::SeqNum(1'000'000);
        synAck.ack = syn.seq + 1;
        synAck.flags = tcpflag::kSyn | tcpflag::kAck;
        synAck.window = 512;
        synAck.options.mss = 1460;
        synAck.options.windowScale = 7;
        synAck.options.timestamps = net::TcpTimestamps{1, 1};
        engine->onResponse(synAck, now);
    }
    const long rss2 = rssKib();
    const std::size_t heap2 = heapInUse();
    std::printf(
        "{\"sessions\": %zu, \"synsent_heap_bytes_per_session\": %.1f, \"synsent_rss_bytes_per_session\": "
        "%.1f, "
        "\"established_heap_bytes_per_session\": %.1f, \"established_rss_bytes_per_session\": %.1f, "
        "\"established\": %llu}\n",
        n, static_cast<double>(heap1 - heap0) / static_cast<double>(n),
        static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(n),
        static_cast<double>(heap2 - heap0) / static_cast<double>(n),
        static_cast<double>(rss2 - rss0) * 1024.0 / static_cast<double>(n),
        static_cast<unsigned long long>(engine->stats().sessionsStarted));
    return 0;
}

}  // namespace
}  // namespace tcpcopy::bench

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: session_memory SESSIONS\n");
        return 2;
    }
    return tcpcopy::bench::run(std::strtoull(argv[1], nullptr, 10));
}
