#pragma once
// Preflight checks (`tcpcopy --check`, `intercept --check`): the host facts the troubleshooting
// guide (docs/troubleshooting.md) asks operators to verify by hand, as small functions, and a
// report that prints one actionable line per finding.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::os {

// Collects findings and prints each at once: "ok: ...", "info: ...", "warning: ..." (works, but
// unsafe or unusual; not counted as a problem), "problem: ... -> fix".
class Preflight {
  public:
    explicit Preflight(std::FILE* out) : out_(out) {}
    void ok(std::string_view line);
    void info(std::string_view line);
    void warning(std::string_view line);
    void problem(std::string_view line);
    std::size_t problems() const { return problems_; }
    // Prints "<program> --check: N problem(s)" or "<program> --check: all checks passed"; returns
    // the exit status: 0 without problems, 1 with.
    int finish(std::string_view program);

  private:
    std::FILE* out_;
    std::size_t problems_ = 0;
};

// True when a network interface of that name exists in this namespace.
bool interfaceExists(const std::string& name);
// The trimmed content of /proc/sys/<path> ("net/ipv4/ip_forward"), or nullopt when unreadable.
std::optional<std::string> readSysctl(const std::string& path);
// True when /proc/net/route holds a default route (destination 0.0.0.0/0).
bool hasDefaultRoute();

// One IPv4 route of the kernel's table (/proc/net/route).
struct KernelRoute {
    std::string interface;
    std::uint32_t destination = 0;  // host order
    std::uint32_t mask = 0;
    std::uint32_t gateway = 0;  // host order; 0: on the link
};
// Parses the text of /proc/net/route (a header line, then one route per line, addresses as the
// hex of the network-order value). Lines that do not parse are skipped.
std::vector<KernelRoute> parseRouteTable(std::string_view text);

struct RouteInfo {
    net::Ipv4Addr source;   // the address the kernel would send from
    std::string interface;  // the outgoing interface, from /proc/net/route (longest prefix)
};
// The kernel's route to `to`, learnt by connect()ing a UDP socket (no packet is sent). The error
// is the system's text, e.g. "Network is unreachable".
Result<RouteInfo> routeTo(net::Ipv4Addr to);

// Binds and listens on `at` and closes again: "" when a daemon could listen there, else the reason.
std::string checkListen(const net::Endpoint& at);
// A TCP connect with a deadline: "" on success, otherwise the reason ("Connection refused",
// "no answer within 2000 ms").
std::string tcpConnect(const net::Endpoint& to, std::chrono::milliseconds timeout);

}  // namespace tcpcopy::os
