#include "tcpcopy/os/privileges.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

namespace tcpcopy::os {
namespace {

// The effective capability mask as the kernel reports it in /proc/self/status.
std::uint64_t effectiveFromProc() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) == 0) {
            return std::stoull(line.substr(7), nullptr, 16);
        }
    }
    return 0;
}

TEST(Privileges, HasCapabilityAgreesWithProc) {
    const std::uint64_t eff = effectiveFromProc();
    for (Capability cap : {Capability::NetRaw, Capability::NetAdmin, Capability::NetBindService}) {
        const bool inProc = ((eff >> static_cast<int>(cap)) & 1u) != 0;
        EXPECT_EQ(hasCapability(cap), inProc) << capabilityName(cap);
    }
}

TEST(Privileges, NamesCapabilities) {
    EXPECT_EQ(capabilityName(Capability::NetRaw), "CAP_NET_RAW");
    EXPECT_EQ(capabilityName(Capability::NetAdmin), "CAP_NET_ADMIN");
    EXPECT_EQ(capabilityName(Capability::NetBindService), "CAP_NET_BIND_SERVICE");
}

TEST(Privileges, LooksUpUsersByNameAndUid) {
    auto root = lookupUser("root");
    ASSERT_TRUE(root) << root.error();
    EXPECT_EQ(root.value().uid, 0u);
    EXPECT_EQ(root.value().gid, 0u);
    auto byUid = lookupUser("0");
    ASSERT_TRUE(byUid) << byUid.error();
    EXPECT_EQ(byUid.value().name, "root");
}

TEST(Privileges, UnknownUserIsOneClearLine) {
    auto missing = lookupUser("no-such-user-tcpcopy");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), "unknown user 'no-such-user-tcpcopy'");
    EXPECT_EQ(lookupUser("").error(), "unknown user ''");
    // dropPrivileges looks the user up first and changes nothing when that fails.
    const uid_t before = ::geteuid();
    EXPECT_EQ(dropPrivileges("no-such-user-tcpcopy", {Capability::NetRaw}),
              "unknown user 'no-such-user-tcpcopy'");
    EXPECT_EQ(::geteuid(), before);
}

TEST(Privileges, RefusesToSwitchToRoot) {
    if (::geteuid() != 0) {
        EXPECT_EQ(dropPrivileges("root", {}), "cannot switch to user 'root': not running as root");
    } else {
        EXPECT_EQ(dropPrivileges("root", {}), "cannot switch to user 'root': it is root");
        EXPECT_EQ(::geteuid(), 0u);
    }
}

// The real switch runs in a forked child, so this test process keeps its privileges. The child
// reports what it saw as text through a pipe; "" means every check passed.
std::string inChild(std::string (*body)()) {
    int fds[2];
    if (::pipe(fds) != 0) {
        return "pipe failed";
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const std::string result = body();
        const ssize_t ignored = ::write(fds[1], result.data(), result.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? out : "child crashed";
}

bool canOpenRawSocket() {
    const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // opened, never used to send
    if (fd < 0) {
        return false;
    }
    ::close(fd);
    return true;
}

TEST(Privileges, DropToNobodyKeepsOnlyTheListedCapabilities) {
    if (::geteuid() != 0 || !hasCapability(Capability::NetRaw) || !lookupUser("nobody")) {
        GTEST_SKIP() << "needs root with CAP_NET_RAW and a 'nobody' user";
    }
    EXPECT_EQ(inChild([]() -> std::string {
                  const uid_t nobody = lookupUser("nobody").value().uid;
                  if (std::string error = dropPrivileges("nobody", {Capability::NetRaw}); !error.empty()) {
                      return "drop failed: " + error;
                  }
                  if (::getuid() != nobody || ::geteuid() != nobody) {
                      return "uid not switched";
                  }
                  gid_t groups[4];
                  if (::getgroups(4, groups) > 1) {
                      return "supplementary groups left";
                  }
                  if (!hasCapability(Capability::NetRaw) || hasCapability(Capability::NetAdmin)) {
                      return "capability sets wrong";
                  }
                  if (effectiveFromProc() != (std::uint64_t{1} << 13)) {
                      return "effective set is not exactly CAP_NET_RAW";
                  }
                  if (!canOpenRawSocket()) {
                      return "raw socket refused despite CAP_NET_RAW";
                  }
                  if (::setuid(0) == 0) {
                      return "root regained";
                  }
                  return {};
              }),
              "");
}

TEST(Privileges, DropWithoutCapabilitiesLosesRawSockets) {
    if (::geteuid() != 0 || !lookupUser("nobody")) {
        GTEST_SKIP() << "needs root and a 'nobody' user";
    }
    EXPECT_EQ(inChild([]() -> std::string {
                  if (std::string error = dropPrivileges("nobody", {}); !error.empty()) {
                      return "drop failed: " + error;
                  }
                  if (effectiveFromProc() != 0) {
                      return "capabilities left";
                  }
                  if (canOpenRawSocket()) {
                      return "raw socket allowed without CAP_NET_RAW";
                  }
                  // A second drop, now unprivileged, to another user is refused with a clear line.
                  return dropPrivileges("root", {}) == "cannot switch to user 'root': not running as root"
                             ? std::string()
                             : "second drop not refused";
              }),
              "");
}

// A process already running as the user, with capabilities it was given (systemd: User= and
// AmbientCapabilities=), as the child below sets itself up: -u USER has no uid to switch but must
// still leave no capability behind, or its "without capabilities" would be untrue.
TEST(Privileges, AlreadyTheUserStillLosesEveryCapability) {
    if (::geteuid() != 0 || !hasCapability(Capability::NetRaw) || !lookupUser("nobody")) {
        GTEST_SKIP() << "needs root with CAP_NET_RAW and a 'nobody' user";
    }
    EXPECT_EQ(inChild([]() -> std::string {
                  const auto nobody = lookupUser("nobody").value();
                  const std::uint32_t caps = (1u << 13) | (1u << 12);  // CAP_NET_RAW, CAP_NET_ADMIN
                  if (::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 || ::setgroups(0, nullptr) != 0 ||
                      ::setresgid(nobody.gid, nobody.gid, nobody.gid) != 0 ||
                      ::setresuid(nobody.uid, nobody.uid, nobody.uid) != 0) {
                      return "cannot become nobody for the test";
                  }
                  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
                  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
                  data[0].permitted = data[0].effective = data[0].inheritable = caps;
                  if (::syscall(SYS_capset, &header, data) != 0 ||
                      ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 13L, 0L, 0L) != 0) {
                      return "cannot set up ambient capabilities for the test";
                  }
                  if (effectiveFromProc() != caps) {
                      return "test setup: CapEff is not NET_RAW|NET_ADMIN";
                  }
                  if (std::string error = dropPrivileges("nobody", {}); !error.empty()) {
                      return "drop failed: " + error;
                  }
                  if (effectiveFromProc() != 0) {
                      return "capabilities left in CapEff";
                  }
                  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 13L, 0L, 0L) != 0) {
                      return "CAP_NET_RAW still ambient";
                  }
                  return canOpenRawSocket() ? "raw socket allowed after the drop" : "";
              }),
              "");
}

}  // namespace
}  // namespace tcpcopy::os
