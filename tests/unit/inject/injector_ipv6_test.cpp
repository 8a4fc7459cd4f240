// The injectors with IPv6: whole IPv6 packets through an AF_INET6 raw socket (libnet's or ours),
// opened on the first IPv6 packet; batches split into one sendmmsg per run of one family; and a
// host without IPv6 (a seccomp filter refusing AF_INET6 sockets) still sending IPv4.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "injector_test_support.h"
#include "tcpcopy/inject/injector.h"

namespace tcpcopy::inject {
namespace {

using testing::allocations;
using testing::buildSyn;
using testing::expectChildPassed;
using testing::kProbePort;
using testing::openReceiver;
using testing::openReceiver6;
using testing::receiveSyn;
using testing::runInPrivateNetns;

const net::IpAddr kLoopback4 = net::Ipv4Addr::fromOctets(127, 0, 0, 1);
const net::IpAddr kLoopback6 = *net::IpAddr::parse("::1");

TEST(RecordingInjector, TakesIpv6Packets) {
    RecordingInjector injector;
    const auto p =
        buildSyn(40000, 80, 5, *net::IpAddr::parse("2001:db8::1"), *net::IpAddr::parse("fd00:198:18::2"));
    EXPECT_TRUE(injector.send(net::Bytes(p)));
    ASSERT_EQ(injector.packets().size(), 1u);
    EXPECT_EQ(injector.packets()[0], p);
}

// Whether the IPv6 socket includes the header (IPV6_HDRINCL, which Linux sets on IPPROTO_RAW).
std::string headerIncluded(int fd6) {
    int on = 0;
    socklen_t length = sizeof on;
    if (::getsockopt(fd6, IPPROTO_IPV6, IPV6_HDRINCL, &on, &length) != 0) {
        return std::string("getsockopt(IPV6_HDRINCL): ") + std::strerror(errno);
    }
    return on == 1 ? "" : "IPV6_HDRINCL is off";
}

// Sends IPv6 SYNs to ::1 one by one through an injector whose IPv6 socket is not open yet
// (`fd6` reads it): the first opens it, the others allocate nothing; each arrives byte for byte.
template <class Injector6>
std::string exerciseIpv6(Injector6& injector, std::uint16_t firstSport) {
    if (injector.fd6() != -1) return "the IPv6 socket was open before any IPv6 packet";
    const int rx = openReceiver6();
    if (rx < 0) return "receiver socket failed";
    std::vector<std::vector<std::byte>> packets;
    for (std::uint16_t i = 0; i < 8; ++i) {
        packets.push_back(buildSyn(static_cast<std::uint16_t>(firstSport + i), kProbePort, i * 100u,
                                   kLoopback6, kLoopback6));
    }
    if (!injector.send(net::Bytes(packets[0]))) return "first send failed: " + injector.lastError();
    if (injector.fd6() < 0) return "no IPv6 socket after an IPv6 send";
    if (std::string off = headerIncluded(injector.fd6()); !off.empty()) return off;
    const std::size_t before = allocations();
    bool allSent = true;
    for (std::size_t i = 1; i < packets.size(); ++i)
        allSent = injector.send(net::Bytes(packets[i])) && allSent;
    const std::size_t allocated = allocations() - before;
    if (!allSent) return "send failed: " + injector.lastError();
    if (allocated != 0) return "send allocated " + std::to_string(allocated) + " times";
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (receiveSyn(rx, static_cast<std::uint16_t>(firstSport + i)) != packets[i]) {
            return "IPv6 packet " + std::to_string(i) + " did not arrive intact";
        }
    }
    std::size_t bytes = 0;
    for (const auto& p : packets) bytes += p.size();
    const InjectCounters& c = injector.counters();
    if (c.packets != packets.size() || c.bytes != bytes || c.errors != 0 || c.calls != packets.size()) {
        return "counters wrong: packets=" + std::to_string(c.packets) + " bytes=" + std::to_string(c.bytes) +
               " errors=" + std::to_string(c.errors) + " calls=" + std::to_string(c.calls);
    }
    ::close(rx);
    return {};
}

// In the child: a new injector of type I (its IPv6 socket not open), exercised from `sport` on.
template <class I, std::string (*Exercise)(I&, std::uint16_t), std::uint16_t Sport>
std::string onNewInjector() {
    auto created = I::create();
    if (!created) return "create failed: " + created.error();
    return Exercise(*created.value(), Sport);
}

TEST(RawSocketInjector, SendsIpv6OnAnIpv6SocketOpenedByTheFirstIpv6Packet) {
    expectChildPassed(runInPrivateNetns(onNewInjector<RawSocketInjector, exerciseIpv6, 47000>));
}

TEST(LibnetInjector, SendsIpv6ThroughLibnetsRaw6Context) {
    expectChildPassed(runInPrivateNetns(onNewInjector<LibnetInjector, exerciseIpv6, 48000>));
}

TEST(Injectors, OpenTheIpv6SocketAtCreateWhenAsked) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto raw = RawSocketInjector::create({.ipv6 = Ipv6Socket::AtCreate});
        auto libnet = LibnetInjector::create(Ipv6Socket::AtCreate);
        if (!raw || !libnet) return "create failed";
        if (raw.value()->fd6() < 0 || libnet.value()->fd6() < 0) return "no IPv6 socket after create";
        return headerIncluded(raw.value()->fd6());
    }));
}

// A batch alternating families: one sendmmsg per run of one family (a malformed packet inside a
// run does not end it; a run longer than kMaxBatch takes two calls), every packet delivered in
// order and intact, nothing allocated by a second batch.
template <class Injector6>
std::string exerciseMixedBatch(Injector6& injector, std::uint16_t firstSport) {
    const int rx4 = openReceiver();
    const int rx6 = openReceiver6();
    if (rx4 < 0 || rx6 < 0) return "receiver socket failed";
    // Runs: 5 IPv4, 5 IPv6, 3 IPv4 + junk + 2 IPv4, 70 IPv6 -> 5 system calls (5, 5, 5, 64, 6).
    const int runs[][2] = {{4, 5}, {6, 5}, {4, 3}, {4, 2}, {6, 70}};
    std::vector<std::vector<std::byte>> packets;
    std::vector<std::size_t> junkAfter;  // a malformed packet goes after packets[i]
    std::uint16_t sport = firstSport;
    for (const auto& run : runs) {
        if (run[0] == 4 && run[1] == 2) junkAfter.push_back(packets.size() - 1);
        for (int i = 0; i < run[1]; ++i) {
            const net::IpAddr to = run[0] == 4 ? kLoopback4 : kLoopback6;
            packets.push_back(buildSyn(sport++, kProbePort, 0, to, to));
        }
    }
    const std::vector<std::byte> junk(3, std::byte{0x45});
    std::vector<net::Bytes> views;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        views.emplace_back(packets[i]);
        if (i == junkAfter.front()) views.emplace_back(junk);
    }
    const std::size_t sent = injector.sendBatch(views);
    if (sent != packets.size()) {
        return "sent " + std::to_string(sent) + " of " + std::to_string(packets.size()) + ": " +
               injector.lastError();
    }
    const InjectCounters& c = injector.counters();
    if (c.calls != 5 || c.packets != packets.size() || c.errors != 1 || c.malformed != 1) {
        return "calls=" + std::to_string(c.calls) + " (want 5) packets=" + std::to_string(c.packets) +
               " errors=" + std::to_string(c.errors);
    }
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const bool v6 = (std::to_integer<unsigned>(packets[i][0]) >> 4) == 6;
        if (receiveSyn(v6 ? rx6 : rx4, static_cast<std::uint16_t>(firstSport + i)) != packets[i]) {
            return "batch packet " + std::to_string(i) + (v6 ? " (IPv6)" : " (IPv4)") +
                   " did not arrive intact";
        }
    }
    const std::size_t before = allocations();
    const std::size_t again = injector.sendBatch(views);
    if (allocations() != before)
        return "second batch allocated " + std::to_string(allocations() - before) + " times";
    if (again != packets.size() || injector.counters().calls != 10) return "second batch went otherwise";
    ::close(rx4);
    ::close(rx6);
    return {};
}

TEST(RawSocketInjector, BatchTakesOneSendmmsgPerRunOfOneFamily) {
    expectChildPassed(runInPrivateNetns(onNewInjector<RawSocketInjector, exerciseMixedBatch, 49000>));
}

TEST(LibnetInjector, BatchTakesOneSendmmsgPerRunOfOneFamily) {
    expectChildPassed(runInPrivateNetns(onNewInjector<LibnetInjector, exerciseMixedBatch, 50000>));
}

// A host without IPv6 (AF_INET6 sockets refused, as with ipv6.disable=1): create() succeeds,
// IPv4 is delivered, each IPv6 packet counts as an error whose text names IPv6 and the reason.
template <class Injector6>
std::string exerciseWithoutIpv6(Injector6& injector, std::uint16_t firstSport, const std::string& wanted) {
    const int rx = openReceiver();
    if (injector.fd6() != -1) return "an IPv6 socket on a host without IPv6";
    const auto v4 = buildSyn(firstSport, kProbePort, 0, kLoopback4, kLoopback4);
    const auto v6 =
        buildSyn(static_cast<std::uint16_t>(firstSport + 1), kProbePort, 0, kLoopback6, kLoopback6);
    const auto v4again =
        buildSyn(static_cast<std::uint16_t>(firstSport + 2), kProbePort, 0, kLoopback4, kLoopback4);
    if (!injector.send(net::Bytes(v4))) return "IPv4 send failed: " + injector.lastError();
    if (injector.send(net::Bytes(v6))) return "IPv6 sent without an IPv6 socket";
    if (injector.lastError() != wanted)
        return "lastError '" + injector.lastError() + "', want '" + wanted + "'";
    const std::vector<net::Bytes> batch = {net::Bytes(v6), net::Bytes(v6), net::Bytes(v4again),
                                           net::Bytes(v6)};
    if (injector.sendBatch(batch) != 1) return "the batch did not send its one IPv4 packet";
    const InjectCounters& c = injector.counters();
    if (c.packets != 2 || c.errors != 4 || c.malformed != 0 || injector.lastError() != wanted) {
        return "counters: packets=" + std::to_string(c.packets) + " errors=" + std::to_string(c.errors) +
               " malformed=" + std::to_string(c.malformed) + " lastError=" + injector.lastError();
    }
    if (receiveSyn(rx, firstSport) != v4 ||
        receiveSyn(rx, static_cast<std::uint16_t>(firstSport + 2)) != v4again) {
        return "the IPv4 packets did not arrive";
    }
    ::close(rx);
    return {};
}

TEST(RawSocketInjector, OnAHostWithoutIpv6SendsIpv4AndCountsIpv6AsErrors) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        if (std::string error = testing::refuseIpv6Sockets(); !error.empty()) return error;
        for (const Ipv6Socket when : {Ipv6Socket::OnFirstPacket, Ipv6Socket::AtCreate}) {
            auto created = RawSocketInjector::create({.ipv6 = when});
            if (!created) return "create failed: " + created.error();
            if (std::string error = exerciseWithoutIpv6(
                    *created.value(), 51000, "raw IPv6 socket: Address family not supported by protocol");
                !error.empty()) {
                return error;
            }
        }
        return {};
    }));
}

TEST(LibnetInjector, OnAHostWithoutIpv6SendsIpv4AndCountsIpv6AsErrors) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        if (std::string error = testing::refuseIpv6Sockets(); !error.empty()) return error;
        auto created = LibnetInjector::create(Ipv6Socket::AtCreate);
        if (!created) return "create failed: " + created.error();
        return exerciseWithoutIpv6(
            *created.value(), 52000,
            "libnet_open_raw6(): SOCK_RAW allocation failed: Address family not supported "
            "by protocol");
    }));
}

}  // namespace
}  // namespace tcpcopy::inject
