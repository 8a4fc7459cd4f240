#pragma once
// What both daemons share around their own work: the process options (-l/--log, --log-level,
// -P/--pid-file, -d/--daemon, -u/--user, --metrics, --check, -v/--version), declared once, the
// start-up in one order, the signals, and the exit codes.
//
// The start-up, in this order in both mains:
//   os::initDaemonProcess()   umask and SIGPIPE, before anything else;
//   (the option table parsed, -u looked up; --check runs here and exits)
//   Daemon::start()           the log (-l, --log-level) and the pid file (-P);
//   (the daemon opens what needs root: captures, sockets, files, on its event loop)
//   Daemon::detach()          -d: into the background; the pid file and the loop follow;
//   Daemon::dropPrivileges()  -u: the user's ids, no capabilities left;
//   handleSignals()           SIGHUP reopens the log, SIGINT/SIGTERM stop;
//   the loop runs.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/config/options.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::app {

// Exit statuses, the same in both daemons.
inline constexpr int kExitOk = 0;
// It ran but did not do its job: nothing could be replayed, sessions were lost, the loop failed.
inline constexpr int kExitFailure = 1;
// It could not start: a flag, file, device, address or privilege, said in one line on stderr
// naming it (the option table's usage errors exit with this status too).
inline constexpr int kExitStartError = 2;

struct DaemonOptions {
    std::string logFile;                                       // -l/--log: empty for stderr
    spdlog::level::level_enum logLevel = spdlog::level::info;  // --log-level
    std::string pidFile;                                       // -P/--pid-file
    bool daemon = false;                                       // -d/--daemon
    std::string user;                                          // -u/--user
    std::optional<net::Endpoint> metrics;                      // --metrics ADDR:PORT
    bool check = false;                                        // --check
};

// What -v/--version prints: "<program> <version>".
std::string versionText(std::string_view program);

// Declares -v/--version and the options of DaemonOptions: group "Process" for the first five
// (`userHelp` says what is open by the time -u takes effect), group "Operations" for --metrics
// and --check (`checkHelp` says what --check looks at).
void declareDaemonOptions(config::OptionTable& table, std::string_view program, DaemonOptions& options,
                          std::string_view userHelp, std::string_view checkHelp);

// Prints "<program>: <text>" on stderr; returns kExitStartError.
int startError(std::string_view program, std::string_view text);

class Daemon {
  public:
    // Configures the log and takes the pid file. The error is one line naming the file and the
    // option ("-l/--log: cannot open log file ...", "-P/--pid-file: ...").
    static os::Result<Daemon> start(std::string program, const DaemonOptions& options);

    // -d: forks into the background (the parent exits 0), records the child's pid in the pid
    // file and prepares `base` to run in the child. Nothing to do without -d. "" or the error.
    std::string detach(os::EventBase& base);
    // -u: runs as the user, with no capability left (everything that needs root must be open).
    // Nothing to do without -u. "" or the error naming -u/--user.
    std::string dropPrivileges();

    const DaemonOptions& options() const { return options_; }

  private:
    Daemon(std::string program, DaemonOptions options, std::optional<os::PidFile> pidFile)
        : program_(std::move(program)), options_(std::move(options)), pidFile_(std::move(pidFile)) {}

    std::string program_;
    DaemonOptions options_;
    std::optional<os::PidFile> pidFile_;
};

// SIGHUP reopens the log file (after rotation) and says so; SIGINT and SIGTERM call
// `onStop(signo)`. The events live as long as the returned vector.
os::Result<std::vector<os::Event>> handleSignals(os::EventBase& base, std::string_view program,
                                                 const std::function<void(int signo)>& onStop);

}  // namespace tcpcopy::app
