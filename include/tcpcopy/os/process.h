#pragma once
// Process-level helpers for the daemons: an exclusive pid file and daemonizing.

#include <string>
#include <sys/types.h>

#include "tcpcopy/os/event.h"  // Result
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::os {

// An exclusive pid file: created (or taken over when stale) on acquire, holding this process's
// pid, locked with flock() for as long as the owner lives, and removed on destruction.
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

}  // namespace tcpcopy::os
