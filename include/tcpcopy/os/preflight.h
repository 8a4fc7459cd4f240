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

// One IPv6 route of the kernel's tables (/proc/net/ipv6_route: the main and local tables).
struct KernelRoute6 {
    std::string interface;
    net::IpPrefix destination;
    net::IpAddr nextHop;  // :: when on the link
    std::uint32_t metric = 0;
    std::uint32_t flags = 0;  // RTF_* bits
    // An unreachable/prohibit/blackhole route (RTF_REJECT): it says where nothing goes.
    bool rejects() const { return (flags & 0x0200u) != 0; }
};
// Parses the text of /proc/net/ipv6_route (no header; addresses as 32 hex digits, lengths and
// numbers in hex). Lines that do not parse are skipped.
std::vector<KernelRoute6> parseRoute6Table(std::string_view text);
// True when /proc/net/ipv6_route holds a default route (::/0) that is not a reject route.
bool hasDefaultRoute6();

// One IPv6 address of this host (/proc/net/if_inet6).
struct InterfaceAddress6 {
    std::string interface;
    net::IpAddr address;
    std::uint8_t prefixLength = 0;
    std::uint8_t scope = 0;  // 0x00 global (ULAs too), 0x10 host, 0x20 link, 0x40 site
    std::uint8_t flags = 0;  // IFA_F_*: 0x08 DAD failed, 0x40 tentative
    bool global() const { return scope == 0x00; }
    bool usable() const { return (flags & (0x08u | 0x40u)) == 0; }
};
// Parses the text of /proc/net/if_inet6 ("ADDR IFINDEX PLEN SCOPE FLAGS NAME", hex fields).
// Lines that do not parse are skipped.
std::vector<InterfaceAddress6> parseIfInet6(std::string_view text);
// This host's IPv6 addresses (empty when IPv6 is absent or off).
std::vector<InterfaceAddress6> interfaceAddresses6();

struct RouteInfo {
    net::IpAddr source;     // the address the kernel would send from
    std::string interface;  // the outgoing interface: longest prefix of /proc/net/route or
                            // /proc/net/ipv6_route (the main table; policy routing is not read)
};
// The kernel's route to `to` (either family), learnt by connect()ing a UDP socket (no packet is
// sent). The error is the system's text, e.g. "Network is unreachable".
Result<RouteInfo> routeTo(const net::IpAddr& to);

// Binds and listens on `at` and closes again: "" when a daemon could listen there, else the reason.
std::string checkListen(const net::Endpoint& at);
// A TCP connect with a deadline: "" on success, otherwise the reason ("Connection refused",
// "no answer within 2000 ms").
std::string tcpConnect(const net::Endpoint& to, std::chrono::milliseconds timeout);

}  // namespace tcpcopy::os
