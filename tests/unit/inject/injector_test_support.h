#pragma once
// What the injector tests share: packets built with net::buildIpTcp, a heap allocation counter
// (this test binary replaces operator new; the library has no such hook), and a child process
// in a private network namespace where the real injectors send to loopback.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tcpcopy/net/types.h"

namespace tcpcopy::inject::testing {

// Heap allocations made by this process so far.
std::size_t allocations();

// A SYN from `src`:`sport` to `dst`:`dport` with `payloadLen` bytes of 'x', either family.
std::vector<std::byte> buildSyn(std::uint16_t sport, std::uint16_t dport, std::size_t payloadLen = 0,
                                net::IpAddr src = net::Ipv4Addr::fromOctets(192, 0, 2, 1),
                                net::IpAddr dst = net::Ipv4Addr::fromOctets(198, 18, 0, 2));

// Failure text from the child, or "" when every check passed.
using ChildBody = std::string (*)();

// Runs `body` in a child in its own network namespace (only `lo`, brought up: 127.0.0.1 and
// ::1). Returns "skip" when the namespace cannot be created (no privilege), otherwise the
// child's failure text ("" on success). Nothing leaves the namespace, which disappears with the
// child. Needs CAP_SYS_ADMIN and CAP_NET_RAW.
std::string runInPrivateNetns(ChildBody body);

// The port the probes' SYNs go to (discard: nothing listens in the private namespace).
inline constexpr std::uint16_t kProbePort = 9;

// A receiver for what arrives in the namespace, with a 2-second timeout and room for a batch:
// a raw TCP socket (IPv4 packets from their header on) or, for IPv6, a packet socket on lo
// (a raw IPv6 socket would strip the header).
int openReceiver();
int openReceiver6();
// Reads from either receiver until a SYN to kProbePort from `sport` arrives (the kernel's RST
// replies and, on lo, the outgoing copies are skipped); its IP packet, or empty after the timeout.
std::vector<std::byte> receiveSyn(int fd, std::uint16_t sport);

// GTEST_SKIP for "skip", otherwise expects "".
void expectChildPassed(const std::string& result);

// Makes socket(AF_INET6, ...) fail with EAFNOSUPPORT in this process from now on (a seccomp
// filter), as on a host booted with ipv6.disable=1. For forked children only. "" or the reason
// it could not be installed.
std::string refuseIpv6Sockets();

}  // namespace tcpcopy::inject::testing
