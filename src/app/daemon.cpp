#include "tcpcopy/app/daemon.h"

#include <csignal>
#include <cstdio>

#include "tcpcopy/os/privileges.h"
#include "tcpcopy/stats/metrics_server.h"

#ifndef TCPCOPY_VERSION
#error "TCPCOPY_VERSION is set by src/app/deps.cmake from the project's version"
#endif

namespace tcpcopy::app {

std::string versionText(std::string_view program) { return std::string(program) + " " + TCPCOPY_VERSION; }

void declareDaemonOptions(config::OptionTable& t, std::string_view program, DaemonOptions& o,
                          std::string_view userHelp, std::string_view checkHelp) {
    t.setVersion(versionText(program));
    t.string('l', "log", o.logFile, "Log file (default: stderr)").valueName("FILE").group("Process");
    t.custom(
         '\0', "log-level", "LEVEL", "info",
         [&o](std::string_view text) { return log::parseLevel(text, o.logLevel); }, "Log level")
        .group("Process");
    t.string('P', "pid-file", o.pidFile, "Write the pid here; refuse to start if a live process holds it")
        .valueName("FILE")
        .group("Process");
    t.flag('d', "daemon", o.daemon, "Run in the background").group("Process");
    t.string('u', "user", o.user, std::string(userHelp)).valueName("USER").group("Process");
    t.custom(
         '\0', "metrics", "ADDR:PORT", "",
         [&o](std::string_view text) -> std::string {
             net::Endpoint endpoint;
             if (std::string reason = stats::parseListenAddress(text, endpoint); !reason.empty())
                 return reason;
             o.metrics = endpoint;
             return {};
         },
         "Serve Prometheus metrics on http://ADDR:PORT/metrics; IPv6 as [::1]:9100 (docs/metrics.md)")
        .group("Operations");
    t.flag('\0', "check", o.check, std::string(checkHelp)).group("Operations");
}

int startError(std::string_view program, std::string_view text) {
    std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
                 static_cast<int>(text.size()), text.data());
    return kExitStartError;
}

os::Result<Daemon> Daemon::start(std::string program, const DaemonOptions& options) {
    using R = os::Result<Daemon>;
    log::Options logOptions;
    logOptions.level = options.logLevel;
    logOptions.file = options.logFile;
    if (std::string error = log::configure(logOptions); !error.empty()) return R::fail("-l/--log: " + error);
    std::optional<os::PidFile> pidFile;
    if (!options.pidFile.empty()) {
        auto acquired = os::PidFile::acquire(options.pidFile);
        if (!acquired) return R::fail("-P/--pid-file: " + acquired.error());
        pidFile.emplace(std::move(acquired).value());
    }
    return R::ok(Daemon(std::move(program), options, std::move(pidFile)));
}

std::string Daemon::detach(os::EventBase& base) {
    if (!options_.daemon) return {};
    if (auto daemonized = os::daemonize(); !daemonized) return "-d/--daemon: " + daemonized.error();
    if (pidFile_) pidFile_->rewrite();
    if (!base.reinitAfterFork()) return "-d/--daemon: event_reinit failed after fork";
    return {};
}

std::string Daemon::dropPrivileges() {
    if (options_.user.empty()) return {};
    if (std::string error = os::dropPrivileges(options_.user, {}); !error.empty())
        return "-u/--user: " + error;
    log::component(program_)->info("running as user {} without capabilities", options_.user);
    return {};
}

os::Result<std::vector<os::Event>> handleSignals(os::EventBase& base, std::string_view program,
                                                 const std::function<void(int signo)>& onStop) {
    using R = os::Result<std::vector<os::Event>>;
    std::vector<os::Event> events;
    auto reopen = os::Event::signal(base, SIGHUP, [logger = log::component(program)](short) {
        log::reopen();
        logger->info("log reopened");
    });
    if (!reopen) return R::fail(reopen.error());
    events.push_back(std::move(reopen).value());
    for (int signo : {SIGINT, SIGTERM}) {
        auto stop = os::Event::signal(base, signo, [onStop, signo](short) { onStop(signo); });
        if (!stop) return R::fail(stop.error());
        events.push_back(std::move(stop).value());
    }
    for (os::Event& event : events) {
        if (!event.add()) return R::fail("cannot arm a signal event");
    }
    return R::ok(std::move(events));
}

}  // namespace tcpcopy::app
