// inject_probe: injects hand-built IPv4/TCP SYNs through one of the injectors, for
// tests/e2e/inject_test.sh. Run it only inside a lab network namespace.
//
//   inject_probe --injector libnet|raw|raw-batch --src 198.18.9.1 --dst 198.18.9.2 --dport 9101
//                --count 20 [--payload 100] [--malformed 3]
//
// Packet i has source port sport-base+i, sequence number 1000000*(i+1), IP id i+1 and
// `payload` bytes of 'a'+(i%26), so the receiving side can check each one. Prints one line,
// "injector=raw sent=20 errors=0 malformed=0 bytes=800", and exits 0 when every well-formed
// packet was sent (1 otherwise, 2 on a usage error or when the injector cannot be created).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tcpcopy/config/options.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/tcp_segment.h"

namespace {

using namespace tcpcopy;

struct ProbeConfig {
    std::string injector = "raw";
    net::Ipv4Addr src = net::Ipv4Addr::fromOctets(198, 18, 9, 1);
    net::Ipv4Addr dst = net::Ipv4Addr::fromOctets(198, 18, 9, 2);
    std::uint16_t dport = 80;
    std::uint16_t sportBase = 40000;
    unsigned count = 10;
    unsigned payload = 0;
    unsigned malformed = 0;
};

config::CustomApply addressInto(net::Ipv4Addr& target) {
    return [&target](std::string_view text) -> std::string {
        const auto addr = net::Ipv4Addr::parse(text);
        if (!addr) {
            return "expects a dotted-quad IPv4 address, got '" + std::string(text) + "'";
        }
        target = *addr;
        return {};
    };
}

std::vector<std::byte> buildSyn(const ProbeConfig& cfg, unsigned i) {
    std::vector<std::byte> payload(cfg.payload, static_cast<std::byte>('a' + i % 26));
    net::TcpSegment seg;
    seg.src = cfg.src;
    seg.dst = cfg.dst;
    seg.sport = net::Port(static_cast<std::uint16_t>(cfg.sportBase + i));
    seg.dport = net::Port(cfg.dport);
    seg.seq = net::SeqNum(1000000u * (i + 1));
    seg.flags = net::tcpflag::kSyn;
    seg.window = 64240;
    seg.ipId = static_cast<std::uint16_t>(i + 1);
    seg.ttl = 64;
    seg.options.mss = 1460;
    seg.payload = net::Bytes(payload);
    seg.payloadLength = static_cast<std::uint32_t>(payload.size());
    std::vector<std::byte> packet(net::kMaxHeadersLen + payload.size());
    const std::size_t n = net::buildIpTcp(seg, net::MutableBytes(packet));
    packet.resize(n);
    return packet;
}

}  // namespace

int main(int argc, char** argv) {
    ProbeConfig cfg;
    config::OptionTable table("inject_probe", "Injects numbered IPv4/TCP SYNs (lab namespaces only).");
    table.custom(
        '\0', "injector", "libnet|raw|raw-batch", cfg.injector,
        [&cfg](std::string_view text) -> std::string {
            if (text != "libnet" && text != "raw" && text != "raw-batch") {
                return "expects libnet, raw or raw-batch, got '" + std::string(text) + "'";
            }
            cfg.injector = std::string(text);
            return {};
        },
        "Which injector sends the packets");
    table.custom('\0', "src", "ADDR", cfg.src.toString(), addressInto(cfg.src), "Source address");
    table.custom('\0', "dst", "ADDR", cfg.dst.toString(), addressInto(cfg.dst), "Destination address");
    table.integer('\0', "dport", cfg.dport, std::uint16_t{1}, std::uint16_t{65535}, "Destination port");
    table.integer('\0', "sport-base", cfg.sportBase, std::uint16_t{1024}, std::uint16_t{60000},
                  "Source port of the first packet");
    table.integer('\0', "count", cfg.count, 1u, 5000u, "Number of SYNs");
    table.integer('\0', "payload", cfg.payload, 0u, 1400u, "Payload bytes per SYN");
    table.integer('\0', "malformed", cfg.malformed, 0u, 100u, "Also offer this many malformed packets");
    const config::ParseResult parsed = table.parse(argc, argv);
    if (parsed.outcome != config::Outcome::Run) {
        parsed.print();
        return parsed.exitCode();
    }

    std::unique_ptr<inject::Injector> injector;
    if (cfg.injector == "libnet") {
        auto created = inject::LibnetInjector::create();
        if (!created) {
            std::fprintf(stderr, "inject_probe: %s\n", created.error().c_str());
            return 2;
        }
        injector = std::move(created).value();
    } else {
        auto created = inject::RawSocketInjector::create();
        if (!created) {
            std::fprintf(stderr, "inject_probe: %s\n", created.error().c_str());
            return 2;
        }
        injector = std::move(created).value();
    }

    std::vector<std::vector<std::byte>> packets;
    for (unsigned i = 0; i < cfg.count; ++i) {
        packets.push_back(buildSyn(cfg, i));
        if (packets.back().empty()) {
            std::fprintf(stderr, "inject_probe: buildIpTcp refused packet %u\n", i);
            return 2;
        }
    }
    // Malformed variants interleaved after the first packet: truncated, IPv6 version, bad length.
    std::vector<std::vector<std::byte>> bad;
    for (unsigned i = 0; i < cfg.malformed; ++i) {
        std::vector<std::byte> p = packets.front();
        switch (i % 3) {
            case 0:
                p.resize(12);
                break;
            case 1:
                p[0] = std::byte{0x65};
                break;
            default:
                p.push_back(std::byte{0});
                break;  // total length no longer matches
        }
        bad.push_back(std::move(p));
    }
    std::vector<net::Bytes> views;
    for (unsigned i = 0; i < cfg.count; ++i) {
        views.emplace_back(packets[i]);
        if (i == 0) {
            for (const auto& p : bad) {
                views.emplace_back(p);
            }
        }
    }

    std::size_t sent = 0;
    if (cfg.injector == "raw-batch") {
        sent = injector->sendBatch(views);
    } else {
        for (const net::Bytes v : views) {
            sent += injector->send(v) ? 1 : 0;
        }
    }
    const inject::InjectCounters& c = injector->counters();
    std::printf("injector=%s sent=%zu errors=%llu malformed=%llu bytes=%llu\n", cfg.injector.c_str(), sent,
                static_cast<unsigned long long>(c.errors), static_cast<unsigned long long>(c.malformed),
                static_cast<unsigned long long>(c.bytes));
    if (c.errors > c.malformed) {
        std::fprintf(stderr, "inject_probe: last error: %s\n", injector->lastError().c_str());
    }
    return sent == cfg.count && c.packets == cfg.count ? 0 : 1;
}
