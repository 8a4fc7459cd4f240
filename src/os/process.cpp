#include "tcpcopy/os/process.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <vector>

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

void initDaemonProcess() {
    ::umask(::umask(0) | S_IWGRP | S_IWOTH);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, nullptr);
}

Result<PidFile> PidFile::acquire(const std::string& path) {
    using R = Result<PidFile>;
    // O_NOFOLLOW: a symbolic link at the path is refused (ELOOP), never followed; O_NONBLOCK:
    // a FIFO planted there cannot block the start (it is refused below).
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644));
    if (!fd) {
        if (errno == ELOOP)
            return R::fail("pid file " + path + " is a symbolic link: refused (give a plain file's path)");
        return R::fail("cannot open pid file " + path + ": " + errnoText());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return R::fail("cannot stat pid file " + path + ": " + errnoText());
    if (!S_ISREG(st.st_mode)) return R::fail("pid file " + path + " is not a regular file: refused");
    if (st.st_nlink > 1) return R::fail("pid file " + path + " has other hard links: refused");
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

std::string replaceFile(const std::string& path, std::string_view content) {
    const std::size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return path + ": not a file name";
    std::string name = dir + "/." + base + ".XXXXXX";
    std::vector<char> tmpl(name.begin(), name.end());
    tmpl.push_back('\0');
    UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd) return "cannot create a temporary file in " + dir + " for " + path + ": " + errnoText();
    const std::string tmp(tmpl.data());
    const auto fail = [&tmp, &path](const std::string& step) {
        const std::string text = "cannot write " + path + " (" + step + "): " + errnoText();
        ::unlink(tmp.c_str());
        return text;
    };
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd.get(), 0666 & ~mask) != 0) return fail("fchmod");
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("write");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail("fsync");
    if (::close(fd.release()) != 0) return fail("close");
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
    return {};
}

}  // namespace tcpcopy::os
