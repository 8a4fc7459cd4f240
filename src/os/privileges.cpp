#include "tcpcopy/os/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

namespace tcpcopy::os {
namespace {

static_assert(static_cast<int>(Capability::NetBindService) == CAP_NET_BIND_SERVICE);
static_assert(static_cast<int>(Capability::NetAdmin) == CAP_NET_ADMIN);
static_assert(static_cast<int>(Capability::NetRaw) == CAP_NET_RAW);

// Version 3 capability sets: two 32-bit words per set.
struct CapSets {
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
};

bool capGet(CapSets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capget, &header, sets.data) == 0;
}

bool capSet(const CapSets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capset, &header, sets.data) == 0;
}

std::string systemError(std::string_view user, std::string_view step, int error) {
    return "cannot switch to user '" + std::string(user) + "': " + std::string(step) + ": " +
           std::strerror(error);
}

std::uint64_t maskOf(std::initializer_list<Capability> caps) {
    std::uint64_t mask = 0;
    for (Capability cap : caps) mask |= std::uint64_t{1} << static_cast<unsigned>(cap);
    return mask;
}

// One "CapXxx:" line of /proc/self/status, or nullopt when it cannot be read.
std::optional<std::uint64_t> procCapabilities(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.size() <= field.size() + 1 || line.compare(0, field.size(), field) != 0 ||
            line[field.size()] != ':') {
            continue;
        }
        std::string_view hex(line);
        hex.remove_prefix(field.size() + 1);
        while (!hex.empty() && (hex.front() == '\t' || hex.front() == ' ')) hex.remove_prefix(1);
        std::uint64_t value = 0;
        const auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
        if (ec != std::errc()) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

// Permitted and effective = exactly `keep`, nothing inheritable, no ambient capability: then the
// kernel's own account (CapEff, CapPrm, CapAmb in /proc/self/status) must agree.
std::string setOnly(std::string_view user, std::initializer_list<Capability> keep) {
    // Ambient capabilities (systemd's AmbientCapabilities=) would survive an exec and are
    // re-granted from the inheritable set: clear them explicitly.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 && errno != EINVAL) {
        return systemError(user, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
    }
    CapSets sets;  // all zero: nothing inheritable, nothing else permitted
    for (Capability cap : keep) {
        const auto n = static_cast<unsigned>(cap);
        sets.data[n / 32].permitted |= 1u << (n % 32);
        sets.data[n / 32].effective |= 1u << (n % 32);
    }
    if (!capSet(sets)) {
        return systemError(user, "capset", errno);
    }
    const std::uint64_t want = maskOf(keep);
    for (std::string_view field : {"CapEff", "CapPrm", "CapAmb"}) {
        const auto have = procCapabilities(field);
        const std::uint64_t expected = field == "CapAmb" ? 0 : want;
        if (!have || *have != expected) {
            char text[32];
            std::snprintf(text, sizeof text, "%016llx",
                          static_cast<unsigned long long>(have.value_or(~0ull)));
            return "cannot switch to user '" + std::string(user) + "': capabilities still held (" +
                   std::string(field) + " " + text + ")";
        }
    }
    return {};
}

}  // namespace

std::string_view capabilityName(Capability cap) {
    switch (cap) {
        case Capability::NetBindService:
            return "CAP_NET_BIND_SERVICE";
        case Capability::NetAdmin:
            return "CAP_NET_ADMIN";
        case Capability::NetRaw:
            return "CAP_NET_RAW";
    }
    return "CAP_?";
}

bool hasCapability(Capability cap) {
    CapSets sets;
    if (!capGet(sets)) {
        return false;
    }
    const auto n = static_cast<unsigned>(cap);
    return (sets.data[n / 32].effective & (1u << (n % 32))) != 0;
}

Result<UserIds> lookupUser(std::string_view user) {
    const std::string name(user);
    long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
    passwd entry{};
    passwd* found = nullptr;
    int rc = 0;
    uid_t uid = 0;
    const char* end = name.data() + name.size();
    const bool numeric = !name.empty() && std::from_chars(name.data(), end, uid).ptr == end;
    while (true) {
        rc = numeric ? ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found)
                     : ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc != ERANGE || buffer.size() > (1u << 20)) {
            break;
        }
        buffer.resize(buffer.size() * 2);
    }
    if (found == nullptr) {
        // getpwnam_r reports "not found" as 0 or, on some setups, ENOENT/ESRCH/EBADF/EPERM.
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM || name.empty()) {
            return Result<UserIds>::fail("unknown user '" + name + "'");
        }
        return Result<UserIds>::fail("user '" + name + "': " + std::strerror(rc));
    }
    return Result<UserIds>::ok(UserIds{found->pw_name, found->pw_uid, found->pw_gid});
}

std::string dropPrivileges(std::string_view user, std::initializer_list<Capability> keep) {
    auto looked = lookupUser(user);
    if (!looked) {
        return looked.error();
    }
    const UserIds ids = looked.value();
    const auto missingKept = [&]() -> std::string {
        for (Capability cap : keep) {
            if (!hasCapability(cap)) {
                return "cannot switch to user '" + std::string(user) +
                       "': " + std::string(capabilityName(cap)) + " is not available";
            }
        }
        return {};
    };

    if (::geteuid() != 0) {
        if (::geteuid() == ids.uid && ::getuid() == ids.uid) {
            // Already USER (a unit with User= and AmbientCapabilities=): no switch, but the
            // capabilities it started with still go, as promised.
            if (std::string missing = missingKept(); !missing.empty()) {
                return missing;
            }
            return setOnly(user, keep);
        }
        return "cannot switch to user '" + std::string(user) + "': not running as root";
    }
    if (ids.uid == 0) {
        return "cannot switch to user '" + std::string(user) + "': it is root";
    }
    // The capabilities to keep must be held now: they cannot be gained after the switch.
    if (std::string missing = missingKept(); !missing.empty()) {
        return missing;
    }

    if (::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        return systemError(user, "prctl(PR_SET_KEEPCAPS)", errno);
    }
    const gid_t gid = ids.gid;
    if (::setgroups(1, &gid) != 0) {
        return systemError(user, "setgroups", errno);
    }
    if (::setresgid(gid, gid, gid) != 0) {
        return systemError(user, "setgid", errno);
    }
    if (::setresuid(ids.uid, ids.uid, ids.uid) != 0) {
        return systemError(user, "setuid", errno);
    }
    if (std::string error = setOnly(user, keep); !error.empty()) {
        return error;
    }
    if (::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) != 0) {
        return systemError(user, "prctl(PR_SET_KEEPCAPS)", errno);
    }
    // Root must be gone for good.
    if (::setuid(0) == 0 || ::setgid(0) == 0) {
        return "cannot switch to user '" + std::string(user) + "': root could be regained";
    }
    return missingKept();
}

}  // namespace tcpcopy::os
