#pragma once
// Process privileges: a preflight check for a capability, and dropping from root to an
// unprivileged user (-u USER) once sockets and captures are open, keeping only the listed
// capabilities (typically CAP_NET_RAW for injection, CAP_NET_ADMIN for a raw capture socket).
//
// Uses the raw capget/capset system calls; no libcap needed. Capabilities are per thread on
// Linux: call dropPrivileges() before any other thread is started (both daemons run a single
// thread). Supplementary groups are cleared, leaving the user's primary group only.

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "tcpcopy/os/result.h"

namespace tcpcopy::os {

// The capabilities the daemons care about; values are the kernel's CAP_* numbers.
enum class Capability : int {
    NetBindService = 10,
    NetAdmin = 12,
    NetRaw = 13,
};

// "CAP_NET_RAW", ...
std::string_view capabilityName(Capability cap);

// True when `cap` is in this thread's effective set (false too when the kernel cannot tell).
bool hasCapability(Capability cap);

struct UserIds {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;  // the primary group
};

// Looks up a user by name, or by a decimal uid. Errors: "unknown user 'name'", or the
// system's text when the user database cannot be read.
Result<UserIds> lookupUser(std::string_view user);

// Switches real, effective and saved uid/gid to `user` and keeps `keep` in the permitted and
// effective capability sets (nothing inheritable, no ambient capability); every other
// capability is gone for good, which is then checked against the kernel's own account
// (CapEff, CapPrm, CapAmb in /proc/self/status). Returns "" on success, otherwise one line:
// "cannot switch to user 'nobody': setgid: ...". On failure after the uid changed the process is
// in an unknown state: the caller must exit. Already running as that user (and not root), there
// is nothing to switch, but the capabilities are cleared all the same (a unit with User= and
// AmbientCapabilities= starts that way).
std::string dropPrivileges(std::string_view user, std::initializer_list<Capability> keep);

}  // namespace tcpcopy::os
