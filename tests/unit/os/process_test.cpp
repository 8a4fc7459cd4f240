#include "tcpcopy/os/process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace tcpcopy::os {
namespace {

std::string tempPath(const char* name) {
    return (std::filesystem::temp_directory_path() / (std::string(name) + std::to_string(::getpid())))
        .string();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

TEST(PidFile, WritesOurPidAndRemovesTheFileOnDestruction) {
    std::string path = tempPath("tcpcopy_pid_a");
    {
        auto pid = PidFile::acquire(path);
        ASSERT_TRUE(pid) << pid.error();
        EXPECT_EQ(slurp(path), std::to_string(::getpid()));
    }
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(PidFile, RefusesAFileHeldByALiveProcess) {
    std::string path = tempPath("tcpcopy_pid_b");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = ::fork();
    if (child == 0) {
        auto pid = PidFile::acquire(path);
        char c = pid ? 'y' : 'n';
        [[maybe_unused]] auto n = ::write(ready[1], &c, 1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
    auto second = PidFile::acquire(path);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("held by pid " + std::to_string(child)), std::string::npos)
        << second.error();
    EXPECT_NE(second.error().find(path), std::string::npos);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // The holder died without cleaning up: the stale file is taken over.
    auto third = PidFile::acquire(path);
    ASSERT_TRUE(third) << third.error();
    EXPECT_EQ(slurp(path), std::to_string(::getpid()));
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST(PidFile, UnwritableDirectoryIsAnErrorNamingThePath) {
    auto pid = PidFile::acquire("/nonexistent-dir/x.pid");
    ASSERT_FALSE(pid);
    EXPECT_NE(pid.error().find("/nonexistent-dir/x.pid"), std::string::npos);
}

TEST(PidFile, ASymbolicLinkIsRefusedAndItsTargetLeftAlone) {
    const std::string target = tempPath("tcpcopy_pid_victim");
    const std::string link = tempPath("tcpcopy_pid_link");
    std::ofstream(target) << "precious\n";
    std::filesystem::remove(link);
    std::filesystem::create_symlink(target, link);
    auto pid = PidFile::acquire(link);
    ASSERT_FALSE(pid);
    EXPECT_NE(pid.error().find("symbolic link"), std::string::npos) << pid.error();
    EXPECT_NE(pid.error().find(link), std::string::npos) << pid.error();
    EXPECT_EQ(slurp(target), "precious");
    std::filesystem::remove(link);
    std::filesystem::remove(target);
}

TEST(PidFile, AFifoIsRefusedWithoutBlocking) {
    const std::string fifo = tempPath("tcpcopy_pid_fifo");
    std::filesystem::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto pid = PidFile::acquire(fifo);
    ASSERT_FALSE(pid);
    EXPECT_NE(pid.error().find("not a regular file"), std::string::npos) << pid.error();
    std::filesystem::remove(fifo);
}

TEST(InitDaemonProcess, IgnoresSigpipeAndKeepsCreatedFilesUnwritableByOthers) {
    pid_t child = ::fork();
    if (child == 0) {
        ::signal(SIGPIPE, SIG_DFL);
        ::umask(0);
        initDaemonProcess();
        int fds[2];
        if (::pipe(fds) != 0) ::_exit(3);
        ::close(fds[0]);
        // A write to a pipe nobody reads: EPIPE instead of death by SIGPIPE.
        const bool epipe = ::write(fds[1], "x", 1) < 0 && errno == EPIPE;
        const mode_t mask = ::umask(0);
        ::_exit(epipe && (mask & 022) == 022 ? 0 : 4);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ReplaceFile, WritesTheContentWithTheUmaskAppliedAndLeavesNoTemporaryFile) {
    const std::string dir = tempPath("tcpcopy_replace_dir");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directory(dir);
    const mode_t old = ::umask(022);
    EXPECT_EQ(replaceFile(dir + "/report.json", "{\"a\": 1}\n"), "");
    ::umask(old);
    EXPECT_EQ(slurp(dir + "/report.json"), "{\"a\": 1}");
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/report.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()),
              1);
    std::filesystem::remove_all(dir);
}

TEST(ReplaceFile, ASymbolicLinkAtThePathIsReplacedNotWrittenThrough) {
    const std::string dir = tempPath("tcpcopy_replace_link");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directory(dir);
    const std::string victim = dir + "/victim";
    std::ofstream(victim) << "precious\n";
    std::filesystem::create_symlink(victim, dir + "/report.json");
    EXPECT_EQ(replaceFile(dir + "/report.json", "new\n"), "");
    EXPECT_EQ(slurp(victim), "precious");
    EXPECT_FALSE(std::filesystem::is_symlink(dir + "/report.json"));
    EXPECT_EQ(slurp(dir + "/report.json"), "new");
    std::filesystem::remove_all(dir);
}

TEST(ReplaceFile, AMissingDirectoryIsAnErrorNamingThePath) {
    const std::string error = replaceFile("/nonexistent-dir/report.json", "x");
    EXPECT_NE(error.find("/nonexistent-dir/report.json"), std::string::npos) << error;
}

TEST(Daemonize, ChildRunsDetachedInItsOwnSession) {
    std::string out = tempPath("tcpcopy_daemon");
    pid_t launcher = ::fork();
    if (launcher == 0) {
        auto r = daemonize();
        if (!r) ::_exit(3);
        // Written whole, then renamed: the file appears complete or not at all.
        std::ofstream(out + ".part") << (::getsid(0) == ::getpid() ? "leader" : "not-leader") << ' '
                                     << ::getppid();
        std::filesystem::rename(out + ".part", out);
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(launcher, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);  // the parent returns at once
    // The detached child is not ours to wait for: poll for its file (the deadline only bounds a
    // failure).
    for (int i = 0; i < 3000 && !std::filesystem::exists(out); ++i) ::usleep(10000);
    EXPECT_EQ(slurp(out).substr(0, 6), "leader");
    std::filesystem::remove(out);
}

}  // namespace
}  // namespace tcpcopy::os
