#include "tcpcopy/os/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tcpcopy::os {
namespace {

std::string tempPath(const char* name) {
    return (std::filesystem::temp_directory_path() / (std::string(name) + std::to_string(::getpid()))).string();
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
    EXPECT_NE(second.error().find("held by pid " + std::to_string(child)), std::string::npos) << second.error();
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

TEST(Daemonize, ChildRunsDetachedInItsOwnSession) {
    std::string out = tempPath("tcpcopy_daemon");
    pid_t launcher = ::fork();
    if (launcher == 0) {
        auto r = daemonize();
        if (!r) ::_exit(3);
        std::ofstream(out) << (::getsid(0) == ::getpid() ? "leader" : "not-leader") << ' ' << ::getppid();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(launcher, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);  // the parent returns at once
    for (int i = 0; i < 200 && !std::filesystem::exists(out); ++i) ::usleep(10000);
    ::usleep(20000);
    EXPECT_EQ(slurp(out).substr(0, 6), "leader");
    std::filesystem::remove(out);
}

}  // namespace
}  // namespace tcpcopy::os
