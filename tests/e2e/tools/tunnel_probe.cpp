// tunnel_probe: a minimal tcpcopy stand-in for the intercept end-to-end test. It connects to an
// intercept with TunnelClient, registers one route and waits for a response header of that flow.
//
//   tunnel_probe --intercept 198.18.3.2:36524 --route 192.0.2.77:40001,198.18.1.2:80
//                [--secret-file F] [--expect-flags SA] [--timeout 10] [--ready-file F]
//
// Prints one line per response header received, named by its flow as client>server ("RESPONSE
// 192.0.2.77:40001>198.18.1.2:80 flags=SA seq=... ack=... iplen=... payload=... mss=...") and exits 0 once a
// header carrying every flag of --expect-flags arrived. Exit status: 1 timeout, 2 usage, 3 the handshake
// failed (rejected by intercept, or intercept could not prove the secret).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "tcpcopy/log/log.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/tunnel/secret.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace {

using namespace tcpcopy;

std::string flagText(std::uint8_t flags) {
    std::string s;
    const char* names = "FSRPAUEC";
    for (int i = 0; i < 8; ++i) {
        if (flags & (1u << i)) s += names[i];
    }
    return s;
}

std::uint8_t parseFlags(const std::string& text) {
    std::uint8_t out = 0;
    const std::string names = "FSRPAUEC";
    for (char c : text) {
        auto pos = names.find(c);
        if (pos != std::string::npos) out |= static_cast<std::uint8_t>(1u << pos);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("tunnel_probe: registers one route with intercept and waits for its responses");
    std::string interceptText, routeText, secretFile, readyFile, expectFlags = "SA";
    int timeoutSec = 10;
    app.add_option("--intercept", interceptText, "intercept ip:port")->required();
    app.add_option("--route", routeText, "client_ip:port,server_ip:port")->required();
    app.add_option("--secret-file", secretFile, "file holding the shared secret");
    app.add_option("--expect-flags", expectFlags,
                   "TCP flags the awaited header must carry (FSRPAUEC letters)");
    app.add_option("--timeout", timeoutSec, "seconds to wait");
    app.add_option("--ready-file", readyFile, "touched once connected and the route is sent");
    CLI11_PARSE(app, argc, argv);

    auto intercept = tunnel::parseEndpointList(interceptText);
    auto route = tunnel::parseEndpointList(routeText, 0);
    if (!intercept || !route || route.value().size() != 2) {
        std::fprintf(stderr, "tunnel_probe: bad --intercept or --route\n");
        return 2;
    }
    net::FlowKey flow{route.value()[0], route.value()[1]};
    std::string secret;
    if (!secretFile.empty()) {
        auto read = tunnel::readSecretFile(secretFile);
        if (!read) {
            std::fprintf(stderr, "tunnel_probe: %s\n", read.error().c_str());
            return 2;
        }
        secret = std::move(read).value();
    }

    auto base = os::EventBase::create().value();
    int exitCode = 1;
    const std::uint8_t want = parseFlags(expectFlags);
    std::unique_ptr<tunnel::TunnelClient> client;

    tunnel::TunnelClientOptions options;
    options.intercepts = intercept.value();
    options.secret = secret;
    options.instanceId = "tunnel_probe";
    tunnel::TunnelClientCallbacks callbacks;
    callbacks.onResponse = [&](net::Bytes header) {
        net::DecodeResult d = net::decodeIpTcp(header);
        if (d.status != net::DecodeStatus::Ok) {
            std::printf("UNDECODABLE %s\n", std::string(net::decodeStatusName(d.status)).c_str());
            return;
        }
        const net::TcpSegment& s = d.segment;
        std::printf("RESPONSE %s flags=%s seq=%u ack=%u iplen=%zu payload=%u mss=%u\n",
                    s.serverToClientKey().toString().c_str(), flagText(s.flags).c_str(), s.seq.value(),
                    s.ack.value(), header.size(), s.payloadLength, s.options.mss.value_or(0));
        std::fflush(stdout);
        if (s.serverToClientKey() == flow && (s.flags & want) == want) {
            exitCode = 0;
            base.loopExit();
        }
    };
    bool everConnected = false;
    callbacks.onConnected = [&](const tunnel::ConnectionInfo& info) {
        everConnected = true;
        std::printf("CONNECTED %s\n", info.intercept.toString().c_str());
        client->addRoute(flow);
        if (!readyFile.empty()) std::ofstream(readyFile) << "ready\n";
        std::fflush(stdout);
    };
    callbacks.onLost = [&](const tunnel::ConnectionInfo&, const std::string& reason) {
        std::printf("LOST %s\n", reason.c_str());
        std::fflush(stdout);
        if (!everConnected) {
            exitCode = 3;
            base.loopExit();
        }
    };
    client = std::make_unique<tunnel::TunnelClient>(base, options, callbacks);
    client->start();
    base.loopExit(std::chrono::seconds(timeoutSec));
    base.dispatch();
    if (exitCode == 1) std::printf("TIMEOUT after %d s\n", timeoutSec);
    const auto& c = client->counters();
    std::printf("COUNTERS connects=%llu routes=%llu responses=%llu framesIn=%llu\n",
                static_cast<unsigned long long>(c.connects), static_cast<unsigned long long>(c.routesSent),
                static_cast<unsigned long long>(c.responses), static_cast<unsigned long long>(c.framesIn));
    return exitCode;
}
