#pragma once
// Process-level helpers for the daemons: the start-up both mains share, an exclusive pid file,
// daemonizing, and replacing a file safely.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "tcpcopy/os/result.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::os {

// The first thing both daemons do: files they create (pid, log, report) are never group- or
// world-writable whatever umask they were given (umask |= 022), and SIGPIPE is ignored, so a write
// to a peer that went away (a tunnel connection intercept just reset, a --metrics scraper that
// hung up) fails with EPIPE where it happens instead of killing the process without a summary.
void initDaemonProcess();

// An exclusive pid file: created (or taken over when stale) on acquire, holding this process's
// pid. The path must name a regular file: a symbolic link (or a FIFO, a device) is refused, not
// followed, so a link planted where the pid file goes cannot make root truncate another file.
// It is locked with flock() for as long as the owner lives, and removed on destruction.
// A pid file whose lock is held by a live process is refused ("pid file F is held by pid N").
// The lock is an open-file-description lock, so it survives daemonize()'s fork: call
// rewrite() in the child to record the new pid.
class PidFile {
  public:
    static Result<PidFile> acquire(const std::string& path);

    PidFile(PidFile&& other) noexcept;
    PidFile& operator=(PidFile&& other) noexcept;
    ~PidFile();

    // Writes getpid() into the file again (after daemonize()).
    bool rewrite();
    const std::string& path() const { return path_; }

  private:
    PidFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    void release();
    std::string path_;
    UniqueFd fd_;
};

// Detaches from the terminal: fork (the parent exits 0 at once, without running destructors),
// setsid, and stdin/stdout/stderr redirected to /dev/null. The working directory is kept, so
// relative paths given on the command line stay valid. Returns an error text on failure (in the
// original process).
Result<pid_t> daemonize();

// Writes `content` to `path` so that no reader ever sees a half-written file and nothing at
// `path` is followed: the bytes go to a fresh temporary file made with mkstemp() in the same
// directory (an unpredictable name, O_EXCL), which is then renamed over `path` (a symbolic link
// there is replaced, not written through). Mode 0666 minus the umask. Returns "" or the reason,
// naming the path.
std::string replaceFile(const std::string& path, std::string_view content);

}  // namespace tcpcopy::os
