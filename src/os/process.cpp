#include "tcpcopy/os/process.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace tcpcopy::os {
namespace {

std::string errnoText() { return std::strerror(errno); }

// The pid recorded in the file, or -1.
long readPid(int fd) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    long pid = -1;
    std::from_chars(buf, buf + n, pid);
    return pid;
}

}  // namespace

Result<PidFile> PidFile::acquire(const std::string& path) {
    using R = Result<PidFile>;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return R::fail("cannot open pid file " + path + ": " + errnoText());
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            long holder = readPid(fd.get());
            return R::fail("pid file " + path + " is held by " +
                           (holder > 0 ? "pid " + std::to_string(holder) : std::string("another process")) +
                           ": is it already running?");
        }
        return R::fail("cannot lock pid file " + path + ": " + errnoText());
    }
    PidFile file(path, std::move(fd));
    if (!file.rewrite()) return R::fail("cannot write pid file " + path + ": " + errnoText());
    return R::ok(std::move(file));
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), fd_(std::move(other.fd_)) {}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = std::move(other.fd_);
    }
    return *this;
}

PidFile::~PidFile() { release(); }

void PidFile::release() {
    if (!fd_) return;
    ::unlink(path_.c_str());  // while still holding the lock, so no one else's file is removed
    fd_.reset();
}

bool PidFile::rewrite() {
    std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) != 0) return false;
    return ::pwrite(fd_.get(), text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
}

Result<pid_t> daemonize() {
    using R = Result<pid_t>;
    pid_t child = ::fork();
    if (child < 0) return R::fail("fork: " + errnoText());
    if (child > 0) ::_exit(0);
    if (::setsid() < 0) return R::fail("setsid: " + errnoText());
    UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) return R::fail("cannot open /dev/null: " + errnoText());
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (::dup2(null.get(), fd) < 0) return R::fail("dup2: " + errnoText());
    }
    return R::ok(::getpid());
}

}  // namespace tcpcopy::os
