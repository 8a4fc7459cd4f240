// inject_probe: injects hand-built TCP SYNs (IPv4 or IPv6) through one of the injectors, for
// tests/e2e/inject_test.sh and link_output_test.sh. Run it only inside a lab network namespace.
//
//   inject_probe --injector libnet|raw|libnet-batch|raw-batch|link [--device DEV]
//                --src 198.18.9.1 --dst 198.18.9.2 [--src2 fd00::1 --dst2 fd00::2 --run 10]
//                --dport 9101 --count 20 [--payload 100] [--malformed 3]
//
// Packet i has source port sport-base+i, sequence number 1000000*(i+1), IP id i+1 (IPv4) and
// `payload` bytes of 'a'+(i%26), so the receiving side can check each one. With --src2/--dst2
// (the other family, say), packets alternate between the two pairs in runs of --run: packet i
// uses the second pair when (i / run) is odd. The *-batch injectors hand everything to one
// sendBatch() call (sendmmsg runs of one family), the others call send() per packet; "link" is
// -o DEV: frames out of --device, MACs resolved as tcpcopy resolves them (app::openLinkInjector:
// the neighbour table, else ARP or neighbour solicitations). Prints one line,
// "injector=raw sent=20 errors=0 malformed=0 bytes=800 calls=20", and exits 0 when every
// well-formed packet was sent (1 otherwise, 2 on a usage error or when the injector cannot be
// created, with the error on stderr).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tcpcopy/app/link_output.h"
#include "tcpcopy/config/options.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/tcp_segment.h"

namespace {

using namespace tcpcopy;

struct ProbeConfig {
    std::string injector = "raw";
    std::string device;
    net::IpAddr src = net::Ipv4Addr::fromOctets(198, 18, 9, 1);
    net::IpAddr dst = net::Ipv4Addr::fromOctets(198, 18, 9, 2);
    std::optional<net::IpAddr> src2, dst2;
    unsigned run = 1;
    std::uint16_t dport = 80;
    std::uint16_t sportBase = 40000;
    unsigned count = 10;
    unsigned payload = 0;
    unsigned malformed = 0;
};

template <class Target>
config::CustomApply addressInto(Target& target) {
    return [&target](std::string_view text) -> std::string {
        const auto addr = net::IpAddr::parse(text);
        if (!addr) {
            return "expects an IPv4 or IPv6 address, got '" + std::string(text) + "'";
        }
        target = *addr;
        return {};
    };
}

std::vector<std::byte> buildSyn(const ProbeConfig& cfg, unsigned i) {
    const bool second = cfg.src2 && ((i / cfg.run) % 2) == 1;
    std::vector<std::byte> payload(cfg.payload, static_cast<std::byte>('a' + i % 26));
    net::TcpSegment seg;
    seg.src = second ? *cfg.src2 : cfg.src;
    seg.dst = second ? *cfg.dst2 : cfg.dst;
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

os::Result<std::unique_ptr<inject::Injector>> openInjector(const ProbeConfig& cfg) {
    using R = os::Result<std::unique_ptr<inject::Injector>>;
    if (cfg.injector == "link") {
        app::ReplayOptions options;
        options.linkDevice = cfg.device;
        for (const auto& to : {std::optional<net::IpAddr>(cfg.dst), cfg.dst2}) {
            if (!to) continue;
            session::AddressRule rule;
            rule.onlinePort = net::Port(cfg.dport);
            rule.target = net::Endpoint{*to, net::Port(cfg.dport)};
            options.engine.rules.push_back(rule);
        }
        auto r = app::openLinkInjector(options);
        if (!r) return R::fail(r.error());
        return R::ok(std::move(r).value());
    }
    if (cfg.injector.starts_with("libnet")) {
        auto r = inject::LibnetInjector::create();
        if (!r) return R::fail(r.error());
        return R::ok(std::move(r).value());
    }
    auto r = inject::RawSocketInjector::create();
    if (!r) return R::fail(r.error());
    return R::ok(std::move(r).value());
}

}  // namespace

int main(int argc, char** argv) {
    ProbeConfig cfg;
    config::OptionTable table("inject_probe", "Injects numbered TCP SYNs (lab namespaces only).");
    table.custom(
        '\0', "injector", "libnet|raw|libnet-batch|raw-batch|link", cfg.injector,
        [&cfg](std::string_view text) -> std::string {
            if (text != "libnet" && text != "raw" && text != "libnet-batch" && text != "raw-batch" &&
                text != "link") {
                return "expects libnet, raw, libnet-batch, raw-batch or link, got '" + std::string(text) +
                       "'";
            }
            cfg.injector = std::string(text);
            return {};
        },
        "Which injector sends the packets");
    table.string('\0', "device", cfg.device, "The device of --injector link (-o DEV)");
    table.custom('\0', "src", "ADDR", cfg.src.toString(), addressInto(cfg.src), "Source address");
    table.custom('\0', "dst", "ADDR", cfg.dst.toString(), addressInto(cfg.dst), "Destination address");
    table.custom('\0', "src2", "ADDR", "", addressInto(cfg.src2), "Source address of the second pair");
    table.custom('\0', "dst2", "ADDR", "", addressInto(cfg.dst2), "Destination address of the second pair");
    table.integer('\0', "run", cfg.run, 1u, 5000u,
                  "Packets per run of one pair when --src2/--dst2 are given");
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
    if (cfg.src2.has_value() != cfg.dst2.has_value()) {
        std::fprintf(stderr, "inject_probe: --src2 and --dst2 go together\n");
        return 2;
    }
    if (cfg.injector == "link" && cfg.device.empty()) {
        std::fprintf(stderr, "inject_probe: --injector link needs --device\n");
        return 2;
    }

    auto opened = openInjector(cfg);
    if (!opened) {
        std::fprintf(stderr, "inject_probe: %s\n", opened.error().c_str());
        return 2;
    }
    const std::unique_ptr<inject::Injector> injector = std::move(opened).value();

    std::vector<std::vector<std::byte>> packets;
    for (unsigned i = 0; i < cfg.count; ++i) {
        packets.push_back(buildSyn(cfg, i));
        if (packets.back().empty()) {
            std::fprintf(stderr, "inject_probe: buildIpTcp refused packet %u\n", i);
            return 2;
        }
    }
    // Malformed variants interleaved after the first packet: truncated, IP version 5, bad length.
    std::vector<std::vector<std::byte>> bad;
    for (unsigned i = 0; i < cfg.malformed; ++i) {
        std::vector<std::byte> p = packets.front();
        switch (i % 3) {
            case 0:
                p.resize(12);
                break;
            case 1:
                p[0] = std::byte{0x55};
                break;
            default:
                p.push_back(std::byte{0});
                break;  // total (IPv4) or payload (IPv6) length no longer matches
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
    if (cfg.injector.ends_with("-batch")) {
        sent = injector->sendBatch(views);
    } else {
        for (const net::Bytes v : views) {
            sent += injector->send(v) ? 1 : 0;
        }
    }
    const inject::InjectCounters& c = injector->counters();
    std::printf("injector=%s sent=%zu errors=%llu malformed=%llu bytes=%llu calls=%llu\n",
                cfg.injector.c_str(), sent, static_cast<unsigned long long>(c.errors),
                static_cast<unsigned long long>(c.malformed), static_cast<unsigned long long>(c.bytes),
                static_cast<unsigned long long>(c.calls));
    if (c.errors > c.malformed) {
        std::fprintf(stderr, "inject_probe: last error: %s\n", injector->lastError().c_str());
    }
    return sent == cfg.count && c.packets == cfg.count ? 0 : 1;
}
