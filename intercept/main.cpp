// intercept: runs on the assistant host, captures the target's responses to replayed clients and
// ships their IP+TCP headers to tcpcopy over the tunnel. Thin wiring; the work is in the library.

#include <cstdio>
#include <string>

#include "intercept_app.h"
#include "ops.h"
#include "tcpcopy/config/options.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/os/service.h"
#include "tcpcopy/tunnel/secret.h"

namespace {

using tcpcopy::intercept::InterceptConfig;

void declareOptions(tcpcopy::config::OptionTable& t, InterceptConfig& c, std::string& user) {
    t.string('i', "device", c.devices, "Capture on these devices (comma-separated, or 'any')")
        .valueName("DEV[,DEV]")
        .group("Capture");
    t.string('F', "filter", c.filter, "BPF filter selecting the target's responses")
        .valueName("EXPR")
        .group("Capture");
    // libpcap takes the size as an int: 2047 MiB is the most that fits.
    t.integer<std::uint32_t>('\0', "buffer-size", c.bufferSizeMb, 1, 2047,
                             "Kernel capture buffer (libpcap's ring) per device in MiB")
        .valueName("MB")
        .group("Capture");
    t.integer<std::uint16_t>('p', "port", c.port, 1, 65535, "Tunnel port tcpcopy connects to")
        .valueName("PORT")
        .group("Tunnel");
    t.string('b', "bind", c.bind, "Address the tunnel listens on").valueName("ADDR").group("Tunnel");
    t.string(
         '\0', "secret-file", c.secretFile,
         "File whose first line is the shared secret tcpcopy and intercept prove to each other (HMAC-SHA256)")
        .valueName("FILE")
        .group("Tunnel");
    t.string('\0', "allow", c.allow, "Accept tcpcopy connections only from these networks (empty: all)")
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
    t.string('l', "log-file", c.logFile, "Log to this file (default: stderr)")
        .valueName("FILE")
        .group("Process");
    t.string('P', "pid-file", c.pidFile, "Write the pid here; refuse to start if a live process holds it")
        .valueName("FILE")
        .group("Process");
    t.flag('d', "daemon", c.daemon, "Run in the background").group("Process");
    t.custom(
         '\0', "log-level", "LEVEL", "info",
         [&c](std::string_view text) { return tcpcopy::log::parseLevel(text, c.logLevel); }, "Log level")
        .group("Process");
    t.flag('\0', "verbose", c.verbose, "Same as --log-level debug (kept for configuration files of 0.1)")
        .group("Process");
    t.string('u', "user", user,
             "Once the captures and the tunnel socket are open, run as this user with no capabilities left")
        .valueName("USER")
        .group("Process");
    t.integer<std::uint32_t>('\0', "stats-interval", c.statsInterval, 0, 86400,
                             "Log one statistics line every SEC seconds (0: never)")
        .valueName("SEC")
        .group("Process");
}

int fail(const std::string& line) {
    std::fprintf(stderr, "intercept: %s\n", line.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpcopy;
    InterceptConfig config;
    config::OptionTable table("intercept",
                              "Captures the target server's responses to replayed clients and sends their "
                              "headers back to tcpcopy.");
    // umask and SIGPIPE (a tcpcopy going away must not kill us mid-write): shared with tcpcopy.
    os::initDaemonProcess();
    std::string user;
    // -v prints the version, as the original intercept's -v does (verbosity: --log-level).
    table.setVersion("intercept 0.1.0");
    declareOptions(table, config, user);
    intercept::OpsOptions ops;
    intercept::declareOpsOptions(table, config, ops);
    config::ParseResult parsed = table.parse(argc, argv);
    if (parsed.outcome != config::Outcome::Run) {
        parsed.print();
        return parsed.exitCode();
    }

    if (!user.empty()) {
        if (auto ids = os::lookupUser(user); !ids) return fail("-u/--user: " + ids.error());
    }

    log::Options logOptions;
    logOptions.level = config.verbose ? spdlog::level::debug : config.logLevel;
    logOptions.file = config.logFile;
    if (std::string error = log::configure(logOptions); !error.empty())
        return fail("-l/--log-file: " + error);
    // A daemon's log file must show each line when it happens, not when a buffer fills.
    for (const char* component : {"intercept", "tunnel", "capture"})
        log::component(component)->flush_on(spdlog::level::trace);

    if (ops.check) return intercept::runChecks(config);

    if (intercept::tunnelOpenToAnyone(config) && !config.insecure) {
        std::fprintf(stderr,
                     "intercept: the tunnel would listen on %s:%u open to any host that reaches it: give "
                     "--secret-file FILE (the same file to tcpcopy) and/or --allow CIDR, or -b 127.0.0.1, or "
                     "--insecure to run it open\n",
                     config.bind.c_str(), static_cast<unsigned>(config.port));
        return 2;
    }
    std::string secret;
    if (!config.secretFile.empty()) {
        auto read = tunnel::readSecretFile(config.secretFile);
        if (!read) return fail("--secret-file " + read.error());
        secret = std::move(read).value();
    }

    auto base = os::EventBase::create();
    if (!base) return fail(base.error());
    auto app = intercept::InterceptApp::create(base.value(), config, std::move(secret));
    if (!app) return fail(app.error());
    if (std::string error = app.value()->startMetrics(); !error.empty()) return fail(error);

    std::optional<os::PidFile> pidFile;
    if (!config.pidFile.empty()) {
        auto acquired = os::PidFile::acquire(config.pidFile);
        if (!acquired) return fail("-P/--pid-file: " + acquired.error());
        pidFile = std::move(acquired).value();
    }
    if (config.daemon) {
        auto daemonized = os::daemonize();
        if (!daemonized) return fail("-d/--daemon: " + daemonized.error());
        if (pidFile) pidFile->rewrite();
        if (!base.value().reinitAfterFork()) return fail("event_reinit failed after fork");
    }
    if (!user.empty()) {
        // Everything privileged is open now (captures, the listening socket, pid and log files).
        if (std::string error = os::dropPrivileges(user, {}); !error.empty())
            return fail("-u/--user: " + error);
        log::component("intercept")->info("running as user {} without capabilities", user);
    }
    if (std::string error = app.value()->arm(); !error.empty()) return fail(error);
    // Under systemd (Type=notify): ready once captures and the tunnel listener are up.
    auto service = os::ServiceNotifier::attach(base.value(), [&app] { return app.value()->statsLine(); });
    if (!service) return fail(service.error());
    service.value()->ready();
    if (!base.value().dispatch()) return fail("event loop failed");
    return 0;
}
