#include "ops.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "tcpcopy/capture/filter_check.h"
#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/preflight.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/tunnel/secret.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::ops {

using namespace std::chrono_literals;

void declareOpsOptions(config::OptionTable& t, app::ReplayOptions& r, OpsOptions& ops) {
    t.custom(
         '\0', "metrics", "ADDR:PORT", "",
         [&r](std::string_view text) -> std::string {
             net::Endpoint endpoint;
             if (std::string reason = stats::parseListenAddress(text, endpoint); !reason.empty())
                 return reason;
             r.metrics = endpoint;
             return {};
         },
         "Serve Prometheus metrics on http://ADDR:PORT/metrics (docs/metrics.md)")
        .group("Operations");
    t.flag('\0', "check", ops.check,
           "Check the setup (privileges, input, filter, intercept reachable, route to the target), "
           "print one line per problem and exit")
        .group("Operations");
}

namespace {

bool looksLikeFile(const std::string& input) {
    std::error_code ec;
    return std::filesystem::is_regular_file(input, ec) || input.find('/') != std::string::npos ||
           input.ends_with(".pcap") || input.ends_with(".pcapng");
}

void checkInput(const app::ReplayOptions& r, os::Preflight& report) {
    if (r.input.empty()) {
        report.info("no -i: live capture on a raw socket, all interfaces");
    } else if (looksLikeFile(r.input)) {
        auto reader = capture::PcapFileReader::open(r.input);
        if (!reader) {
            report.problem(reader.error() + " -> give a readable pcap/pcapng file with -i");
            return;
        }
        report.ok("capture file " + r.input + " opens");
        if (!r.filter.empty()) {
            if (std::string error = reader.value().setFilter(r.filter); !error.empty()) {
                report.problem(error + " -> fix the BPF expression (-F, see pcap-filter(7))");
            } else {
                report.ok("filter '" + r.filter + "' compiles");
            }
        }
        return;
    } else {
        auto devices = capture::parseDeviceList(r.input);
        if (!devices) {
            report.problem("-i/--input: " + devices.error());
        } else {
            for (const auto& device : devices.value()) {
                if (device == "any" || os::interfaceExists(device)) {
                    report.ok("device " + device + " exists");
                } else {
                    report.problem(
                        "device '" + device +
                        "' does not exist here -> pick one from `ip link`, or give a capture file (-i)");
                }
            }
        }
    }
    if (!r.filter.empty()) {
        if (std::string error = capture::checkFilter(r.filter); !error.empty()) {
            report.problem("-F/--filter '" + r.filter + "': " + error +
                           " -> fix the BPF expression (see pcap-filter(7))");
        } else {
            report.ok("filter '" + r.filter + "' compiles");
        }
    }
}

void checkTargets(const app::ReplayOptions& r, os::Preflight& report) {
    std::set<std::uint32_t> seen;
    for (const auto& rule : r.engine.rules) {
        const net::Ipv4Addr target = rule.target.addr;
        if (!seen.insert(target.value()).second) continue;
        auto route = os::routeTo(target);
        if (!route) {
            report.problem("no route to the target " + target.toString() + ": " + route.error() +
                           " -> add a route to it on this host (ip route add ...)");
            continue;
        }
        const std::string via = route.value().interface.empty() ? std::string("?") : route.value().interface;
        report.ok("route to the target " + target.toString() + " via " + via + " from " +
                  route.value().source.toString());
        if (!route.value().interface.empty()) {
            if (auto rp = os::readSysctl("net/ipv4/conf/" + route.value().interface + "/rp_filter")) {
                report.info(
                    "rp_filter on " + route.value().interface + " is " + *rp +
                    " (on the target host it must be 0 or 2 on the interface replayed packets arrive on)");
            }
        }
    }
}

// TCP connect to every intercept, then the tunnel handshake (HELLO, and the secret) through the
// real client, within a few seconds.
void checkIntercepts(const app::ReplayOptions& r, os::Preflight& report) {
    if (r.intercepts.empty()) {
        report.info("no intercept (-L): responses cannot be followed");
        return;
    }
    std::vector<net::Endpoint> reachable;
    for (const auto& e : r.intercepts) {
        if (std::string error = os::tcpConnect(e, 2000ms); !error.empty()) {
            report.problem("intercept " + e.toString() + " unreachable: " + error +
                           " -> start intercept there, open TCP port " + std::to_string(e.port.value()) +
                           ", check -s");
        } else {
            reachable.push_back(e);
        }
    }
    if (reachable.empty()) return;
    tunnel::TunnelClientOptions topts;
    topts.intercepts = reachable;
    topts.connectionsPerIntercept = 1;
    topts.instanceId = "tcpcopy --check pid " + std::to_string(::getpid());
    if (!r.secretFile.empty()) {
        auto secret = tunnel::readSecretFile(r.secretFile);
        if (!secret) {
            report.problem("--secret-file " + secret.error() + " -> check the file and its permissions");
            return;
        }
        topts.secret = std::move(secret).value();
    }
    if (std::string error = tunnel::TunnelClient::validate(topts); !error.empty()) {
        report.problem(error);
        return;
    }
    auto base = os::EventBase::create();
    if (!base) {
        report.problem(base.error());
        return;
    }
    std::map<std::string, std::string> lost;
    std::set<std::string> up;
    tunnel::TunnelClientCallbacks cb;
    cb.onResponse = [](net::Bytes) {};
    cb.onConnected = [&](const tunnel::ConnectionInfo& info) {
        up.insert(info.intercept.toString());
        if (up.size() == reachable.size()) base.value().loopBreak();
    };
    cb.onLost = [&](const tunnel::ConnectionInfo& info, const std::string& reason) {
        lost.emplace(info.intercept.toString(), reason);
    };
    {
        tunnel::TunnelClient client(base.value(), topts, std::move(cb));
        client.start();
        base.value().loopExit(std::chrono::duration_cast<os::Duration>(3s));
        base.value().dispatch();
    }
    for (const auto& e : reachable) {
        const std::string name = e.toString();
        if (up.contains(name)) {
            report.ok("intercept " + name + " answers the tunnel handshake");
        } else {
            auto it = lost.find(name);
            report.problem(
                "intercept " + name + " accepts TCP but the tunnel handshake failed" +
                (it != lost.end() ? ": " + it->second : std::string(" within 3 s")) +
                " -> same --secret-file on both sides? is it intercept listening there? (--allow)");
        }
    }
}

}  // namespace

int runChecks(const app::ReplayOptions& r) {
    os::Preflight report(stdout);
    if (os::hasCapability(os::Capability::NetRaw)) {
        report.ok("CAP_NET_RAW held: injection and capture are allowed");
    } else {
        report.problem(
            "no CAP_NET_RAW: tcpcopy cannot inject packets -> run as root or with "
            "AmbientCapabilities=CAP_NET_RAW");
    }
    checkInput(r, report);
    checkTargets(r, report);
    checkIntercepts(r, report);
    return report.finish("tcpcopy");
}

}  // namespace tcpcopy::ops
