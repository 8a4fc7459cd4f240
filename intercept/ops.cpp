#include "ops.h"

#include <cstdio>
#include <string>

#include "tcpcopy/capture/filter_check.h"
#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/os/preflight.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/tunnel/secret.h"

namespace tcpcopy::intercept {

void declareOpsOptions(config::OptionTable& t, InterceptConfig& c, OpsOptions& ops) {
    t.custom(
         '\0', "metrics", "ADDR:PORT", "",
         [&c](std::string_view text) -> std::string {
             net::Endpoint endpoint;
             if (std::string reason = stats::parseListenAddress(text, endpoint); !reason.empty())
                 return reason;
             c.metrics = endpoint;
             return {};
         },
         "Serve Prometheus metrics on http://ADDR:PORT/metrics (docs/metrics.md)")
        .group("Operations");
    t.flag('\0', "check", ops.check,
           "Check the assistant host's setup (privileges, devices, filter, ip_forward, rp_filter, routes), "
           "print one line per problem and exit")
        .group("Operations");
}

namespace {

// Who can become a tcpcopy peer: the secret file must be readable, and an open tunnel is said.
void checkTunnelAccess(const InterceptConfig& config, os::Preflight& report) {
    const std::string where = config.bind + ":" + std::to_string(config.port);
    if (tunnelOpenToAnyone(config)) {
        const std::string open =
            "the tunnel on " + where +
            " is open to any host that reaches it (no --secret-file, no --allow): any of them "
            "can connect as tcpcopy and receive the target's responses";
        if (config.insecure) {
            report.warning(open + " (--insecure)");
        } else {
            report.problem(open +
                           ", so intercept refuses to start -> give --secret-file (the same file to tcpcopy) "
                           "and/or --allow CIDR, or -b 127.0.0.1; --insecure runs it open");
        }
    }
    if (!config.secretFile.empty()) {
        if (auto secret = tunnel::readSecretFile(config.secretFile); secret) {
            report.ok("secret file " + config.secretFile +
                      " holds a secret: tcpcopy and intercept authenticate "
                      "each other");
        } else {
            report.problem("--secret-file " + secret.error() + " -> check the file and its permissions");
        }
    } else if (!config.allow.empty()) {
        report.info("no --secret-file: tcpcopy peers inside --allow " + config.allow +
                    " are not authenticated");
    }
}

}  // namespace

int runChecks(const InterceptConfig& config) {
    os::Preflight report(stdout);
    if (os::hasCapability(os::Capability::NetRaw)) {
        report.ok("CAP_NET_RAW held: live capture is allowed");
    } else {
        report.problem(
            "no CAP_NET_RAW: intercept cannot capture -> run as root or with "
            "AmbientCapabilities=CAP_NET_RAW");
    }

    auto devices = capture::parseDeviceList(config.devices);
    if (!devices) {
        report.problem("-i/--device: " + devices.error());
    } else {
        for (const std::string& device : devices.value()) {
            if (device == "any" || os::interfaceExists(device)) {
                report.ok("device " + device + " exists");
            } else {
                report.problem("device '" + device +
                               "' does not exist here -> pick one from `ip link` (-i/--device)");
            }
        }
    }
    if (std::string error = capture::checkFilter(config.filter); error.empty()) {
        report.ok("filter '" + config.filter + "' compiles");
    } else {
        report.problem("-F/--filter '" + config.filter + "': " + error +
                       " -> fix the BPF expression (see pcap-filter(7))");
    }

    // The assistant must not forward the target's responses to the (non-existent) clients.
    if (auto forward = os::readSysctl("net/ipv4/ip_forward")) {
        if (*forward == "0") {
            report.ok("ip_forward is 0: the responses stop here");
        } else {
            report.problem("ip_forward is " + *forward +
                           ": the assistant forwards the target's responses to the real clients, who reset "
                           "the sessions -> sysctl -w net.ipv4.ip_forward=0");
        }
    } else {
        report.info("cannot read /proc/sys/net/ipv4/ip_forward");
    }

    if (devices) {
        for (const std::string& device : devices.value()) {
            if (device == "any") continue;
            if (auto rp = os::readSysctl("net/ipv4/conf/" + device + "/rp_filter")) {
                report.info("rp_filter on " + device + " is " + *rp +
                            " (libpcap sees the responses before reverse-path filtering; informational)");
            }
        }
    }

    // Responses for replayed clients arrive here; a route back to client networks is informational:
    // with ip_forward=0 they are never sent anywhere.
    if (os::hasDefaultRoute()) {
        report.info(
            "a default route exists: with ip_forward=0 responses to client addresses are still dropped here");
    } else {
        report.info("no default route: responses to client addresses can only be captured, never forwarded");
    }

    if (auto bind = net::Ipv4Addr::parse(config.bind); !bind) {
        report.problem("-b/--bind: not an IPv4 address: '" + config.bind + "'");
    } else if (std::string error = os::checkListen(net::Endpoint{*bind, net::Port(config.port)});
               !error.empty()) {
        report.problem("cannot listen on " + config.bind + ":" + std::to_string(config.port) +
                       " for tcpcopy: " + error +
                       " -> is another intercept running, or is -b an address of this host?");
    } else {
        report.ok("tunnel port " + config.bind + ":" + std::to_string(config.port) + " is free");
    }
    checkTunnelAccess(config, report);
    return report.finish("intercept");
}

}  // namespace tcpcopy::intercept
