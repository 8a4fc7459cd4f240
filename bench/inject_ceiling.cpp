// The raw injection ceiling: prebuilt IPv4/TCP packets sent as fast as the injection path
// allows, through the same injectors tcpcopy uses. Run it inside the lab's tc namespace (it
// needs CAP_NET_RAW and a route to DST); it stops by itself after COUNT packets and prints one
// JSON line. Modes: libnet (LibnetInjector::send), libnet-batch (LibnetInjector::sendBatch:
// sendmmsg of up to 64 on libnet's socket, tcpcopy's default path), raw (RawSocketInjector::send,
// one sendto per packet), raw-batch (RawSocketInjector::sendBatch, sendmmsg of up to 64).
// Usage: inject_ceiling MODE COUNT DST_IP [PAYLOAD_BYTES]

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/builder.h"

namespace tcpcopy::bench {
namespace {

int run(const std::string& mode, std::size_t count, net::Ipv4Addr dst, std::size_t payloadBytes) {
    std::unique_ptr<inject::Injector> injector;
    if (mode == "libnet" || mode == "libnet-batch") {
        auto r = inject::LibnetInjector::create();
        if (!r) {
            std::fprintf(stderr, "inject_ceiling: %s\n", r.error().c_str());
            return 1;
        }
        injector = std::move(r).value();
    } else if (mode == "raw" || mode == "raw-batch") {
        auto r = inject::RawSocketInjector::create();
        if (!r) {
            std::fprintf(stderr, "inject_ceiling: %s\n", r.error().c_str());
            return 1;
        }
        injector = std::move(r).value();
    } else {
        std::fprintf(stderr, "inject_ceiling: mode must be libnet, libnet-batch, raw or raw-batch\n");
        return 2;
    }
    // 1024 distinct packets: ACKs with data from 1024 client ports, as a replay sends them.
    constexpr std::size_t kDistinct = 1024;
    const std::string payload(payloadBytes, 'p');
    std::vector<std::vector<std::byte>> storage(kDistinct);
    std::vector<net::Bytes> packets(kDistinct);
    for (std::size_t i = 0; i < kDistinct; ++i) {
        net::TcpSegment s;
        s.src = net::Ipv4Addr(0xC0000200u + 10 + static_cast<std::uint32_t>(i % 10));  // 192.0.2.10..19
        s.dst = dst;
        s.sport = net::Port(static_cast<std::uint16_t>(20000 + i));
        s.dport = net::Port(80);
        s.seq = net::SeqNum(static_cast<std::uint32_t>(i * 1000));
        s.ack = net::SeqNum(1);
        s.flags = net::tcpflag::kAck | net::tcpflag::kPsh;
        s.window = 502;
        s.ttl = 64;
        s.options.timestamps = net::TcpTimestamps{1, 1};
        s.payload = net::Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
        storage[i].resize(net::kMaxHeadersLen + payload.size());
        storage[i].resize(net::buildIpTcp(s, storage[i]));
        packets[i] = storage[i];
    }
    // CPU time as well as wall time: on a shared machine the wall time moves with the load, the
    // CPU per packet (system calls and the kernel's send path, run in this process) much less.
    auto cpuSeconds = [] {
        rusage ru{};
        ::getrusage(RUSAGE_SELF, &ru);
        auto s = [](const timeval& tv) {
            return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
        };
        return s(ru.ru_utime) + s(ru.ru_stime);
    };
    const double cpu0 = cpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t sent = 0;
    std::size_t offered = 0;
    if (mode.ends_with("-batch")) {
        constexpr std::size_t kBatch = inject::kMaxBatch;
        while (offered < count) {
            const std::size_t start = offered % kDistinct;
            const std::size_t n = std::min({kBatch, count - offered, kDistinct - start});
            sent += injector->sendBatch(std::span<const net::Bytes>(packets).subspan(start, n));
            offered += n;
        }
    } else {
        for (; offered < count; ++offered) sent += injector->send(packets[offered % kDistinct]) ? 1 : 0;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpuSeconds() - cpu0;
    std::printf(
        "{\"mode\": \"%s\", \"offered\": %zu, \"sent\": %zu, \"errors\": %llu, \"calls\": %llu, "
        "\"seconds\": %.4f, \"pps\": %.0f, \"cpu_s\": %.4f, \"cpu_ns_per_packet\": %.0f}\n",
        mode.c_str(), offered, sent, static_cast<unsigned long long>(injector->counters().errors),
        static_cast<unsigned long long>(injector->counters().calls), seconds,
        static_cast<double>(sent) / seconds, cpu, sent > 0 ? cpu * 1e9 / static_cast<double>(sent) : 0.0);
    return sent > 0 ? 0 : 1;
}

}  // namespace
}  // namespace tcpcopy::bench

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(
            stderr, "usage: inject_ceiling libnet|libnet-batch|raw|raw-batch COUNT DST_IP [PAYLOAD_BYTES]\n");
        return 2;
    }
    auto dst = tcpcopy::net::Ipv4Addr::parse(argv[3]);
    if (!dst) {
        std::fprintf(stderr, "inject_ceiling: bad address %s\n", argv[3]);
        return 2;
    }
    const std::size_t payload = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 100;
    return tcpcopy::bench::run(argv[1], std::strtoull(argv[2], nullptr, 10), *dst, payload);
}
