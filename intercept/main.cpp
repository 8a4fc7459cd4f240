// intercept: runs on the assistant host, captures the target's responses to replayed clients and
// ships their IP+TCP headers to tcpcopy over the tunnel. This file is wiring only: the option
// table, then the start-up both daemons share (app/daemon.h) around app::InterceptApp.

#include <charconv>
#include <cstdio>
#include <string>

#include "tcpcopy/app/checks.h"
#include "tcpcopy/app/daemon.h"
#include "tcpcopy/app/intercept_app.h"
#include "tcpcopy/config/address.h"
#include "tcpcopy/config/options.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/os/service.h"
#include "tcpcopy/tunnel/secret.h"

namespace {

using tcpcopy::app::InterceptConfig;
constexpr std::string_view kProgram = "intercept";

// Options kept so that configuration files of 0.1 still load.
struct Compatibility {
    std::string logFile;   // --log-file: -l/--log
    bool verbose = false;  // --verbose: --log-level debug
};

void declareOptions(tcpcopy::config::OptionTable& t, InterceptConfig& c, Compatibility& old) {
    t.string('i', "device", c.devices, "Capture on these devices (comma-separated, or 'any')")
        .valueName("DEV[,DEV]")
        .group("Capture");
    t.string('F', "filter", c.filter, "BPF filter selecting the target's responses")
        .valueName("EXPR")
        .group("Capture");
    // libpcap takes the size as an int: 2047 MiB is the most that fits.
    t.integer<std::uint32_t>(
         '\0', "buffer-size", c.bufferSizeMb, 1, 2047,
         "Kernel capture buffer (libpcap's ring) per device, or the NFQUEUE socket's receive buffer, in MiB")
        .valueName("MB")
        .group("Capture");
    // On the target itself: an NFQUEUE rule queues the responses (docs/nfqueue.md).
    t.custom(
         '\0', "nfqueue", "N", "",
         [&c](std::string_view text) -> std::string {
             unsigned value = 0;
             const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
             if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
                 return "expected a queue number 0..65535, got '" + std::string(text) + "'";
             }
             c.nfqueue = static_cast<std::uint16_t>(value);
             return {};
         },
         "Read the responses an NFQUEUE rule queued (-j NFQUEUE --queue-num N) instead of capturing with "
         "libpcap: drop those of replayed clients, accept the rest (-i and -F are not used)")
        .group("Queue");
    t.integer<std::uint32_t>('q', "queue-length", c.queueLength, 1, 1000000,
                             "NFQUEUE: packets the kernel keeps waiting for intercept's verdict")
        .valueName("N")
        .group("Queue");
    t.string(
         'x', "pass", c.passList,
         "NFQUEUE: responses to these clients are accepted at once, never taken (real clients of the target; "
         "addresses or prefixes of either family)")
        .valueName("IP[,CIDR]")
        .group("Queue");
    t.flag('\0', "fail-open", c.failOpen,
           "NFQUEUE: when the queue is full the kernel lets packets through instead of dropping them; give "
           "the rule --queue-bypass as well, so they also pass while intercept is not running")
        .group("Queue");
    t.integer<std::uint16_t>('p', "port", c.port, 1, 65535, "Tunnel port tcpcopy connects to")
        .valueName("PORT")
        .group("Tunnel");
    t.custom(
         'b', "bind", "ADDR", c.bind,
         [&c](std::string_view text) -> std::string {
             tcpcopy::net::IpAddr addr;
             if (std::string reason = tcpcopy::config::parseAddress(text, addr); !reason.empty())
                 return reason;
             c.bind = addr.toString();
             return {};
         },
         "Address the tunnel listens on: 0.0.0.0 (every IPv4 address), :: (every address, IPv4 and IPv6), or "
         "one address of this host (2001:db8::5)")
        .group("Tunnel");
    t.string(
         '\0', "secret-file", c.secretFile,
         "File whose first line is the shared secret tcpcopy and intercept prove to each other (HMAC-SHA256)")
        .valueName("FILE")
        .group("Tunnel");
    t.string('\0', "allow", c.allow,
             "Accept tcpcopy connections only from these networks, IPv4 or IPv6 (198.18.0.0/15,fd00::/64; "
             "empty: all)")
        .valueName("CIDR[,CIDR]")
        .group("Tunnel");
    t.flag('\0', "insecure", c.insecure,
           "Listen on a non-loopback address with neither --secret-file nor --allow (refused otherwise)")
        .group("Tunnel");
    t.integer<std::uint32_t>('\0', "max-connections", c.maxConnections, 1, 65536,
                             "Tunnel connections open at once, handshakes included; more are refused")
        .valueName("N")
        .group("Tunnel");
    t.integer<std::uint32_t>('\0', "peer-queue", c.peerQueueMb, 1, 1024,
                             "Responses queued per slow tcpcopy, in MiB, before the oldest are dropped")
        .valueName("MB")
        .group("Tunnel");
    t.integer<std::uint16_t>('\0', "payload", c.payload, 0, 65535,
                             "Forward up to this many bytes of each response's payload to the tcpcopy peers "
                             "that ask for them (--response-payload); 0: headers only")
        .valueName("BYTES")
        .group("Tunnel");
    t.integer<std::uint32_t>(
         '\0', "payload-memory", c.payloadMemoryMb, 1, 4096,
         "Payload bytes all peers together may have waiting, in MiB; beyond, responses go "
         "without their payload (counted)")
        .valueName("MB")
        .group("Tunnel");
    t.integer<std::uint32_t>('\0', "idle-timeout", c.idleTimeout, 1, 3600,
                             "Drop a tcpcopy that sent nothing (not even heartbeats) for this many seconds")
        .valueName("SEC")
        .group("Tunnel");
    t.integer<std::uint32_t>('s', "table-size", c.tableSize, 1, 10000000, "Maximum number of routes")
        .valueName("N")
        .group("Routing");
    t.integer<std::uint32_t>('\0', "route-ttl", c.routeTtl, 1, 86400,
                             "Forget a route after this many seconds without traffic")
        .valueName("SEC")
        .group("Routing");
    t.integer<std::uint32_t>('\0', "hold-ms", c.holdMs, 0, 60000,
                             "How long a response may wait for its route to arrive, in ms")
        .valueName("MS")
        .group("Routing");
    t.integer<std::uint32_t>('\0', "max-held", c.maxHeld, 0, 10000000,
                             "Responses waiting for routes, at most")
        .valueName("N")
        .group("Routing");
    // Targets behind DNAT (docs/usage.md "NATed targets"); the original's -D ip-ip is the portless form.
    t.custom(
         'D', "nat", "SEEN[:PORT]-SENT[:PORT][,...]", "",
         [&c](std::string_view text) -> std::string {
             auto nat = tcpcopy::tunnel::NatMap::parse(text);
             if (!nat) return nat.error();
             c.nat = std::move(nat).value();
             return {};
         },
         "Target behind DNAT: responses from SEEN (the address[:port] they come from as captured) are "
         "matched and forwarded as from SENT (the address[:port] tcpcopy sent to)")
        .group("Routing");
    // The original's -D meaning (it rewrote the response's destination): clients translated
    // on the way to the target (docker's SNAT, a proxy): docs/usage.md "NATed targets".
    t.custom(
         '\0', "nat-client", "SEEN[:PORT]-SENT[:PORT][,...]", "",
         [&c](std::string_view text) -> std::string {
             auto nat = tcpcopy::tunnel::NatMap::parse(text);
             if (!nat) return nat.error();
             c.clientNat = std::move(nat).value();
             return {};
         },
         "Clients translated before the target: responses to SEEN (the client address[:port] the target "
         "answered) are matched and forwarded as to SENT (the client tcpcopy sent from); the original "
         "intercept's -D dockered_ip-orig_ip")
        .group("Routing");
    t.integer<std::uint32_t>('\0', "stats-interval", c.statsInterval, 0, 86400,
                             "Log one statistics line every SEC seconds (0: never)")
        .valueName("SEC")
        .group("Process");
    t.string('\0', "log-file", old.logFile, "Same as -l/--log (kept for configuration files of 0.1)")
        .valueName("FILE")
        .group("Process");
    t.flag('\0', "verbose", old.verbose, "Same as --log-level debug (kept for configuration files of 0.1)")
        .group("Process");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpcopy;
    // umask and SIGPIPE (a tcpcopy going away must not kill us mid-write): shared with tcpcopy.
    os::initDaemonProcess();
    InterceptConfig config;
    Compatibility old;
    app::DaemonOptions process;
    config::OptionTable table(std::string(kProgram),
                              "Captures the target server's responses to replayed clients and sends their "
                              "headers back to tcpcopy.");
    declareOptions(table, config, old);
    app::declareDaemonOptions(
        table, kProgram, process,
        "Once the captures and the tunnel socket are open, run as this user with no capabilities left",
        "Check the assistant host's setup (privileges, devices, filter, ip_forward and IPv6 forwarding, "
        "rp_filter, routes; with --nfqueue the queue rule), print one line per problem and exit");
    const config::ParseResult parsed = table.parse(argc, argv);
    if (parsed.outcome != config::Outcome::Run) {
        parsed.print();
        return parsed.exitCode();
    }
    if (process.logFile.empty()) process.logFile = old.logFile;
    if (old.verbose) process.logLevel = spdlog::level::debug;
    if (!process.user.empty()) {
        if (auto ids = os::lookupUser(process.user); !ids)
            return app::startError(kProgram, "-u/--user: " + ids.error());
    }
    if (process.check) return app::runInterceptChecks(config);

    if (app::tunnelOpenToAnyone(config) && !config.insecure) {
        return app::startError(kProgram,
                               "the tunnel would listen on " + app::tunnelEndpoint(config)->toString() +
                                   " open to any host that reaches it: give --secret-file FILE (the "
                                   "same file to tcpcopy) and/or --allow CIDR, or -b 127.0.0.1 (::1), "
                                   "or --insecure to run it open");
    }
    std::string secret;
    if (!config.secretFile.empty()) {
        auto read = tunnel::readSecretFile(config.secretFile);
        if (!read) return app::startError(kProgram, "--secret-file " + read.error());
        secret = std::move(read).value();
    }

    auto daemon = app::Daemon::start(std::string(kProgram), process);
    if (!daemon) return app::startError(kProgram, daemon.error());
    auto base = os::EventBase::create();
    if (!base) return app::startError(kProgram, base.error());
    auto intercept = app::InterceptApp::create(base.value(), config, std::move(secret));
    if (!intercept) return app::startError(kProgram, intercept.error());
    if (std::string error = intercept.value()->startMetrics(process.metrics); !error.empty()) {
        return app::startError(kProgram, error);
    }
    if (std::string error = daemon.value().detach(base.value()); !error.empty()) {
        return app::startError(kProgram, error);
    }
    if (std::string error = daemon.value().dropPrivileges(); !error.empty())
        return app::startError(kProgram, error);
    if (std::string error = intercept.value()->arm(); !error.empty()) return app::startError(kProgram, error);
    // Under systemd (Type=notify): ready once captures and the tunnel listener are up.
    auto service =
        os::ServiceNotifier::attach(base.value(), [&intercept] { return intercept.value()->statsLine(); });
    if (!service) return app::startError(kProgram, service.error());
    service.value()->ready();
    if (!base.value().dispatch()) {
        std::fprintf(stderr, "intercept: event loop failed\n");
        return app::kExitFailure;
    }
    return app::kExitOk;
}
