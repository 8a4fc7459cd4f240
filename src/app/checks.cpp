#include "tcpcopy/app/checks.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tcpcopy/app/capture_source.h"
#include "tcpcopy/capture/filter_check.h"
#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/preflight.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/tunnel/secret.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace tcpcopy::app {
namespace {

using namespace std::chrono_literals;

// How long --check gives an intercept to connect, and then to answer the handshake.
constexpr auto kConnectTimeout = 2000ms;
constexpr auto kHandshakeTimeout = 3s;

void checkCapability(os::Preflight& report, std::string_view allowed, std::string_view cannot) {
    if (os::hasCapability(os::Capability::NetRaw)) {
        report.ok("CAP_NET_RAW held: " + std::string(allowed) + " allowed");
    } else {
        report.problem("no CAP_NET_RAW: " + std::string(cannot) +
                       " -> run as root or with AmbientCapabilities=CAP_NET_RAW");
    }
}

// Each device of `list` exists here; returns the devices, or nullopt when the list is malformed.
std::optional<std::vector<std::string>> checkDevices(std::string_view flag, const std::string& list,
                                                     std::string_view fix, os::Preflight& report) {
    auto devices = capture::parseDeviceList(list);
    if (!devices) {
        report.problem(std::string(flag) + ": " + devices.error());
        return std::nullopt;
    }
    for (const auto& device : devices.value()) {
        if (device == "any" || os::interfaceExists(device)) {
            report.ok("device " + device + " exists");
        } else {
            report.problem("device '" + device + "' does not exist here -> " + std::string(fix));
        }
    }
    return std::move(devices).value();
}

void checkFilter(const std::string& filter, os::Preflight& report) {
    if (std::string error = capture::checkFilter(filter); !error.empty()) {
        report.problem("-F/--filter '" + filter + "': " + error +
                       " -> fix the BPF expression (see pcap-filter(7))");
    } else {
        report.ok("filter '" + filter + "' compiles");
    }
}

// ---- tcpcopy -------------------------------------------------------------------------------

void checkInput(const ReplayOptions& r, os::Preflight& report) {
    if (r.input.empty()) {
        report.info("no -i: live capture through the packet ring, every interface");
    } else if (isCaptureFile(r.input)) {
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
        checkDevices("-i/--input", r.input, "pick one from `ip link`, or give a capture file (-i)", report);
    }
    if (!r.filter.empty()) checkFilter(r.filter, report);
}

void checkTargets(const ReplayOptions& r, os::Preflight& report) {
    std::set<net::IpAddr> seen;
    bool v6Said = false;
    for (const auto& rule : r.engine.rules) {
        const net::IpAddr target = rule.target.addr;
        if (!seen.insert(target).second) continue;
        auto route = os::routeTo(target);
        if (!route) {
            report.problem("no route to the target " + target.toString() + ": " + route.error() +
                           " -> add a route to it on this host (" +
                           (target.isV4() ? "ip route" : "ip -6 route") + " add ...)");
            continue;
        }
        const std::string& device = route.value().interface;
        report.ok("route to the target " + target.toString() + " via " + (device.empty() ? "?" : device) +
                  " from " + route.value().source.toString());
        if (target.isV6()) {
            // IPv6 has no rp_filter sysctl: reverse-path filtering is a netfilter rule, if any.
            if (!v6Said) {
                report.info(
                    "IPv6 target: on the target host no reverse-path rule may drop the replayed clients "
                    "(firewalld's IPv6_rpfilter, nft 'fib saddr . iif oif missing drop', ip6tables -m "
                    "rpfilter), "
                    "and its route for the client networks must point at the assistant");
                v6Said = true;
            }
        } else if (!device.empty()) {
            if (auto rp = os::readSysctl("net/ipv4/conf/" + device + "/rp_filter")) {
                report.info(
                    "rp_filter on " + device + " is " + *rp +
                    " (on the target host it must be 0 or 2 on the interface replayed packets arrive on)");
            }
        }
    }
}

// TCP connect to every intercept, then the tunnel handshake (HELLO, and the secret) through the
// real client, within a few seconds.
void checkIntercepts(const ReplayOptions& r, os::Preflight& report) {
    if (r.intercepts.empty()) {
        report.info("no intercept (-L): responses cannot be followed");
        return;
    }
    std::vector<net::Endpoint> reachable;
    for (const auto& e : r.intercepts) {
        if (std::string error = os::tcpConnect(e, kConnectTimeout); !error.empty()) {
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
        base.value().loopExit(std::chrono::duration_cast<os::Duration>(kHandshakeTimeout));
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
                (it != lost.end() ? ": " + it->second
                                  : " within " + std::to_string(kHandshakeTimeout.count()) + " s") +
                " -> same --secret-file on both sides? is it intercept listening there? (--allow)");
        }
    }
}

// ---- intercept -----------------------------------------------------------------------------

// The IPv6 side of the assistant, when this host has IPv6 addresses of its own: forwarding off
// (net.ipv6.conf.all.forwarding, the one setting that decides it), IPv6 on the capture devices
// (the target finds this host by neighbour discovery), and what becomes of responses no route covers.
void checkIpv6(const std::optional<std::vector<std::string>>& devices, os::Preflight& report) {
    const auto forward = os::readSysctl("net/ipv6/conf/all/forwarding");
    if (!forward) {
        report.info("no IPv6 here (no /proc/sys/net/ipv6): IPv6 responses cannot arrive");
        return;
    }
    const auto addresses = os::interfaceAddresses6();
    if (std::none_of(addresses.begin(), addresses.end(),
                     [](const auto& a) { return a.global() && a.usable(); })) {
        report.info("no global IPv6 address here: the IPv6 checks are skipped");
        return;
    }
    if (*forward == "0") {
        report.ok("net.ipv6.conf.all.forwarding is 0: the IPv6 responses stop here");
    } else {
        report.problem(
            "net.ipv6.conf.all.forwarding is " + *forward +
            ": the assistant forwards the target's IPv6 responses to the real clients, who reset the "
            "sessions -> sysctl -w net.ipv6.conf.all.forwarding=0");
    }
    for (const std::string& device : devices.value_or(std::vector<std::string>{})) {
        if (device == "any") continue;
        if (os::readSysctl("net/ipv6/conf/" + device + "/disable_ipv6") == "1") {
            std::string text = "IPv6 is off on " + device;
            text +=
                " (disable_ipv6=1): no IPv6 response can arrive there, the target's neighbour "
                "discovery for this host gets no answer; for IPv6 targets: sysctl -w net.ipv6.conf.";
            text += device;
            text += ".disable_ipv6=0";
            report.warning(text);
        }
    }
    if (os::hasDefaultRoute6()) {
        report.info(
            "an IPv6 default route exists: with forwarding 0 IPv6 responses to client addresses are "
            "dropped here without a word");
    } else {
        report.info(
            "no IPv6 default route: IPv6 responses to client addresses no route covers are answered with "
            "ICMPv6 'no route' errors to the target (soft errors to TCP, rate-limited); a blackhole route "
            "for the "
            "client networks keeps them quiet (ip -6 route add blackhole 2001:db8::/32)");
    }
}

// Who can become a tcpcopy peer: the secret file must be readable, and an open tunnel is said.
void checkTunnelAccess(const InterceptConfig& config, os::Preflight& report) {
    const auto listen = tunnelEndpoint(config);
    const std::string where = listen ? listen->toString() : config.bind + ":" + std::to_string(config.port);
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
                           "and/or --allow CIDR, or -b 127.0.0.1 (::1); --insecure runs it open");
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

int runReplayChecks(const ReplayOptions& r) {
    os::Preflight report(stdout);
    checkCapability(report, "injection and capture are", "tcpcopy cannot inject packets");
    checkInput(r, report);
    checkTargets(r, report);
    checkIntercepts(r, report);
    return report.finish("tcpcopy");
}

namespace {
void checkListenAndAccess(const InterceptConfig& config, os::Preflight& report);
}  // namespace

int runInterceptChecks(const InterceptConfig& config) {
    os::Preflight report(stdout);
    if (config.nfqueue) {
        checkCapability(report, "reading an NFQUEUE is", "intercept cannot read the queue");
        checkQueue(config, report);
        checkListenAndAccess(config, report);
        return report.finish("intercept");
    }
    checkCapability(report, "live capture is", "intercept cannot capture");
    const auto devices =
        checkDevices("-i/--device", config.devices, "pick one from `ip link` (-i/--device)", report);
    checkFilter(config.filter, report);

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
        for (const std::string& device : *devices) {
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
    checkIpv6(devices, report);

    checkListenAndAccess(config, report);
    return report.finish("intercept");
}

namespace {

void checkListenAndAccess(const InterceptConfig& config, os::Preflight& report) {
    if (const auto listen = tunnelEndpoint(config); !listen) {
        report.problem("-b/--bind: not an IPv4 or IPv6 address: '" + config.bind + "'");
    } else if (std::string error = os::checkListen(*listen); !error.empty()) {
        report.problem("cannot listen on " + listen->toString() + " for tcpcopy: " + error +
                       " -> is another intercept running, or is -b an address of this host?");
    } else {
        report.ok("tunnel port " + listen->toString() + " is free");
    }
    checkTunnelAccess(config, report);
}

}  // namespace

}  // namespace tcpcopy::app
