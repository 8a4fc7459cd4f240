#include "tcpcopy/inject/injector.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/tcp_segment.h"

// Counts heap allocations so the tests can check that the send paths make none. Only these
// test binaries replace operator new; the library itself has no such hook.
namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

// noinline: GCC otherwise inlines the pair and misreads malloc/free as a new/delete mismatch.
[[gnu::noinline]] void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace tcpcopy::inject {
namespace {

using net::Ipv4Addr;

std::vector<std::byte> buildSyn(std::uint16_t sport, std::uint16_t dport, std::size_t payloadLen = 0,
                                Ipv4Addr src = Ipv4Addr::fromOctets(192, 0, 2, 1),
                                Ipv4Addr dst = Ipv4Addr::fromOctets(198, 18, 0, 2)) {
    std::vector<std::byte> payload(payloadLen, std::byte{'x'});
    net::TcpSegment seg;
    seg.src = src;
    seg.dst = dst;
    seg.sport = net::Port(sport);
    seg.dport = net::Port(dport);
    seg.seq = net::SeqNum(0x01020304);
    seg.flags = net::tcpflag::kSyn;
    seg.window = 65535;
    seg.ipId = 77;
    seg.ttl = 64;
    seg.payload = net::Bytes(payload);
    seg.payloadLength = static_cast<std::uint32_t>(payloadLen);
    std::vector<std::byte> out(net::kMaxHeadersLen + payloadLen);
    out.resize(net::buildIpTcp(seg, net::MutableBytes(out)));
    return out;
}

TEST(CheckIpv4Packet, AcceptsBuiltPacket) {
    EXPECT_EQ(checkIpv4Packet(net::Bytes(buildSyn(40000, 80))), "");
    EXPECT_EQ(checkIpv4Packet(net::Bytes(buildSyn(40000, 80, 1400))), "");
}

TEST(CheckIpv4Packet, RefusesWhatTheKernelCouldNotRoute) {
    const auto good = buildSyn(40000, 80);
    EXPECT_EQ(checkIpv4Packet(net::Bytes(good).first(19)), "shorter than an IPv4 header");
    EXPECT_EQ(checkIpv4Packet(net::Bytes()), "shorter than an IPv4 header");

    auto v6 = good;
    v6[0] = std::byte{0x65};
    EXPECT_EQ(checkIpv4Packet(net::Bytes(v6)), "IP version is not 4");

    auto shortIhl = good;
    shortIhl[0] = std::byte{0x44};
    EXPECT_EQ(checkIpv4Packet(net::Bytes(shortIhl)), "IPv4 header length is impossible");
    auto longIhl = good;
    longIhl[0] = std::byte{0x4f};  // 60-byte header in a 40-byte packet
    EXPECT_EQ(checkIpv4Packet(net::Bytes(longIhl)), "IPv4 header length is impossible");

    auto padded = good;
    padded.push_back(std::byte{0});
    EXPECT_EQ(checkIpv4Packet(net::Bytes(padded)), "IPv4 total length differs from the packet size");

    std::vector<std::byte> huge(65536);
    huge[0] = std::byte{0x45};
    EXPECT_EQ(checkIpv4Packet(net::Bytes(huge)), "longer than 65535 bytes");
}

TEST(RecordingInjector, RecordsExactBytesAndCounts) {
    RecordingInjector injector;
    const auto a = buildSyn(40000, 80);
    const auto b = buildSyn(40001, 80, 100);
    EXPECT_TRUE(injector.send(net::Bytes(a)));
    EXPECT_TRUE(injector.send(net::Bytes(b)));
    ASSERT_EQ(injector.packets().size(), 2u);
    EXPECT_EQ(injector.packets()[0], a);
    EXPECT_EQ(injector.packets()[1], b);
    EXPECT_EQ(injector.counters().packets, 2u);
    EXPECT_EQ(injector.counters().bytes, a.size() + b.size());
    EXPECT_EQ(injector.counters().errors, 0u);
    EXPECT_EQ(injector.lastError(), "");
    EXPECT_EQ(injector.kind(), "recording");
}

TEST(RecordingInjector, RefusesMalformedLikeTheRealInjectors) {
    RecordingInjector injector;
    auto bad = buildSyn(40000, 80);
    bad.pop_back();
    EXPECT_FALSE(injector.send(net::Bytes(bad)));
    EXPECT_TRUE(injector.packets().empty());
    EXPECT_EQ(injector.counters().errors, 1u);
    EXPECT_EQ(injector.counters().malformed, 1u);
    EXPECT_EQ(injector.counters().packets, 0u);
    EXPECT_EQ(injector.lastError(), "IPv4 total length differs from the packet size");
}

TEST(RecordingInjector, ScheduledFailuresAreCountedThenSendingResumes) {
    RecordingInjector injector;
    injector.failNext(2);
    const auto p = buildSyn(40000, 80);
    EXPECT_FALSE(injector.send(net::Bytes(p)));
    EXPECT_FALSE(injector.send(net::Bytes(p)));
    EXPECT_TRUE(injector.send(net::Bytes(p)));
    EXPECT_EQ(injector.counters().errors, 2u);
    EXPECT_EQ(injector.counters().malformed, 0u);
    EXPECT_EQ(injector.counters().packets, 1u);
    EXPECT_EQ(injector.lastError(), "injected failure");
}

TEST(Injector, DefaultBatchSendsEachAndReportsHowManyWent) {
    RecordingInjector injector;
    const auto a = buildSyn(40000, 80);
    const auto b = buildSyn(40001, 80);
    const std::vector<std::byte> junk(10);
    injector.failNext(1);
    const std::vector<net::Bytes> batch = {net::Bytes(a), net::Bytes(junk), net::Bytes(b), net::Bytes(a)};
    EXPECT_EQ(injector.sendBatch(batch), 2u);  // a fails (scheduled), junk is malformed
    ASSERT_EQ(injector.packets().size(), 2u);
    EXPECT_EQ(injector.packets()[0], b);
    EXPECT_EQ(injector.packets()[1], a);
    EXPECT_EQ(injector.counters().errors, 2u);
    EXPECT_EQ(injector.counters().malformed, 1u);
}

// ---- the real injectors, inside a private network namespace --------------------------------
//
// A forked child unshares a new network namespace (only `lo`, which it brings up), injects
// SYNs to 127.0.0.1 and reads them back on a raw TCP socket. Nothing leaves the namespace,
// which disappears with the child. Needs CAP_SYS_ADMIN and CAP_NET_RAW; skipped without them.

// Failure text from the child, or "" when every check passed.
using ChildBody = std::string (*)();

// Runs `body` in a child in its own network namespace. Returns "skip" when the namespace cannot
// be created (no privilege), otherwise the child's failure text ("" on success).
std::string runInPrivateNetns(ChildBody body) {
    int pipeFds[2];
    if (::pipe(pipeFds) != 0) {
        return "pipe failed";
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        return "fork failed";
    }
    if (pid == 0) {
        ::close(pipeFds[0]);
        std::string result;
        if (::unshare(CLONE_NEWNET) != 0) {
            result = "skip";
        } else {
            const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
            if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
                result = "cannot read lo flags";
            } else {
                ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
                result = ::ioctl(s, SIOCSIFFLAGS, &ifr) != 0 ? "cannot bring lo up" : body();
            }
        }
        const ssize_t ignored = ::write(pipeFds[1], result.data(), result.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(pipeFds[1]);
    std::string out;
    char buf[512];
    ssize_t n = 0;
    while ((n = ::read(pipeFds[0], buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return "child crashed";
    }
    return out;
}

constexpr std::uint16_t kProbePort = 9;  // discard: nothing listens in the private namespace

// Reads from the raw TCP socket until a SYN to kProbePort from `sport` arrives (the kernel's
// RST replies are skipped); returns its bytes or an empty vector after a 2-second timeout.
std::vector<std::byte> receiveSyn(int fd, std::uint16_t sport) {
    for (int attempts = 0; attempts < 100; ++attempts) {
        std::vector<std::byte> buf(70000);
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
            return {};
        }
        buf.resize(static_cast<std::size_t>(n));
        if (buf.size() < 40) {
            continue;
        }
        const auto at = [&](std::size_t i) { return std::to_integer<unsigned>(buf[i]); };
        const std::size_t ihl = (at(0) & 0x0f) * 4;
        const unsigned gotSport = (at(ihl) << 8) | at(ihl + 1);
        const unsigned gotDport = (at(ihl + 2) << 8) | at(ihl + 3);
        if (gotSport == sport && gotDport == kProbePort && (at(ihl + 13) & net::tcpflag::kSyn) != 0) {
            return buf;
        }
    }
    return {};
}

int openReceiver() {
    const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // Room for every SYN of a batch and the kernel's RST answers, which land here as well.
    const int bytes = 8 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    return fd;
}

const Ipv4Addr kLoopback = Ipv4Addr::fromOctets(127, 0, 0, 1);

// Sends through `injector` one by one, checks every packet arrives byte for byte, and that the
// sends after the first allocated nothing.
std::string exerciseInjector(Injector& injector, std::uint16_t firstSport) {
    const int rx = openReceiver();
    if (rx < 0) {
        return "receiver socket failed";
    }
    std::vector<std::vector<std::byte>> packets;
    for (std::uint16_t i = 0; i < 8; ++i) {
        packets.push_back(
            buildSyn(static_cast<std::uint16_t>(firstSport + i), kProbePort, i * 100u, kLoopback, kLoopback));
    }
    if (!injector.send(net::Bytes(packets[0]))) {
        return "first send failed: " + injector.lastError();
    }
    const std::size_t before = allocations.load();
    bool allSent = true;
    for (std::size_t i = 1; i < packets.size(); ++i) {
        allSent = injector.send(net::Bytes(packets[i])) && allSent;
    }
    const std::size_t allocated = allocations.load() - before;
    if (!allSent) {
        return "send failed: " + injector.lastError();
    }
    if (allocated != 0) {
        return "send allocated " + std::to_string(allocated) + " times";
    }
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto got = receiveSyn(rx, static_cast<std::uint16_t>(firstSport + i));
        if (got != packets[i]) {
            return "packet " + std::to_string(i) + " did not arrive intact (got " +
                   std::to_string(got.size()) + " bytes)";
        }
        if (net::internetChecksum(net::Bytes(got).first(20)) != 0) {
            return "packet " + std::to_string(i) + " has a bad IP header checksum";
        }
    }
    const InjectCounters& c = injector.counters();
    std::size_t bytes = 0;
    for (const auto& p : packets) {
        bytes += p.size();
    }
    if (c.packets != packets.size() || c.bytes != bytes || c.errors != 0) {
        return "counters wrong: packets=" + std::to_string(c.packets) + " bytes=" + std::to_string(c.bytes) +
               " errors=" + std::to_string(c.errors);
    }
    // A malformed packet is refused before the system call and counted.
    std::vector<std::byte> junk(10);
    if (injector.send(net::Bytes(junk)) || injector.counters().malformed != 1 ||
        injector.lastError() != "shorter than an IPv4 header") {
        return "malformed packet not refused: " + injector.lastError();
    }
    ::close(rx);
    return {};
}

void expectChildPassed(const std::string& result) {
    if (result == "skip") {
        GTEST_SKIP() << "cannot create a network namespace (needs CAP_SYS_ADMIN)";
    }
    EXPECT_EQ(result, "");
}

TEST(RawSocketInjector, DeliversPacketsIntactWithoutAllocating) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = RawSocketInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        return exerciseInjector(*created.value(), 41000);
    }));
}

TEST(LibnetInjector, DeliversPacketsIntactWithoutAllocating) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = LibnetInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        if (created.value()->fd() < 0) {
            return "no libnet fd";
        }
        return exerciseInjector(*created.value(), 42000);
    }));
}

// 150 packets through sendBatch: three sendmmsg chunks (64, 64, 22) with two malformed packets in
// between, every packet delivered byte for byte and in order, nothing allocated the second time.
std::string exerciseBatch(Injector& injector, std::uint16_t firstSport) {
    const int rx = openReceiver();
    std::vector<std::vector<std::byte>> packets;
    for (std::uint16_t i = 0; i < 150; ++i) {
        packets.push_back(
            buildSyn(static_cast<std::uint16_t>(firstSport + i), kProbePort, 0, kLoopback, kLoopback));
    }
    const std::vector<std::byte> junk(3);
    std::vector<net::Bytes> views;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        views.emplace_back(packets[i]);
        if (i == 10 || i == 100) {
            views.emplace_back(junk);
        }
    }
    // The first malformed packet is logged (that allocates), so allocations are checked on
    // the second batch below.
    const std::size_t sent = injector.sendBatch(views);
    if (sent != 150) {
        return "sent " + std::to_string(sent) + " of 150: " + injector.lastError();
    }
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (receiveSyn(rx, static_cast<std::uint16_t>(firstSport + i)) != packets[i]) {
            return "batch packet " + std::to_string(i) + " did not arrive intact";
        }
    }
    const InjectCounters& c = injector.counters();
    if (c.packets != 150 || c.errors != 2 || c.malformed != 2 || c.bytes != 150 * packets[0].size()) {
        return "batch counters wrong: packets=" + std::to_string(c.packets) +
               " errors=" + std::to_string(c.errors);
    }
    if (c.calls != 3) {
        return "150 packets took " + std::to_string(c.calls) + " system calls, not 3";
    }
    // With the malformed-packet log already written once, a second batch allocates nothing.
    std::vector<net::Bytes> again(views.begin(), views.begin() + 70);
    const std::size_t before2 = allocations.load();
    const std::size_t sent2 = injector.sendBatch(again);
    if (allocations.load() != before2) {
        return "second batch allocated " + std::to_string(allocations.load() - before2) + " times";
    }
    if (sent2 != 69) {
        return "second batch sent " + std::to_string(sent2) + " of 69";
    }
    ::close(rx);
    return {};
}

TEST(RawSocketInjector, BatchSplitsIntoChunksSkipsMalformedAndAllocatesNothing) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = RawSocketInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        return exerciseBatch(*created.value(), 43000);
    }));
}

// libnet has no batch call; its batches go out with sendmmsg on libnet's own raw socket.
TEST(LibnetInjector, BatchGoesOutWithSendmmsgOnLibnetsSocket) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = LibnetInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        return exerciseBatch(*created.value(), 45000);
    }));
}

TEST(LibnetInjector, CountsBatchRefusalsWithTheSystemsText) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = LibnetInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        LibnetInjector& injector = *created.value();
        const auto p = buildSyn(46000, kProbePort, 0, Ipv4Addr::fromOctets(198, 18, 0, 1),
                                Ipv4Addr::fromOctets(198, 18, 0, 2));
        const std::vector<net::Bytes> batch = {net::Bytes(p), net::Bytes(p)};
        if (injector.sendBatch(batch) != 0) {
            return "batch without a route sent something";
        }
        if (injector.counters().errors != 2 || injector.counters().packets != 0 ||
            injector.lastError() != "Network is unreachable") {
            return "errors=" + std::to_string(injector.counters().errors) + " lastError='" +
                   injector.lastError() + "'";
        }
        return {};
    }));
}

TEST(RawSocketInjector, CountsKernelRefusalsWithTheSystemsText) {
    expectChildPassed(runInPrivateNetns([]() -> std::string {
        auto created = RawSocketInjector::create();
        if (!created) {
            return "create failed: " + created.error();
        }
        RawSocketInjector& injector = *created.value();
        // No route to 198.18.0.2 in a namespace holding only lo: the kernel refuses the send.
        const auto p = buildSyn(44000, kProbePort, 0, Ipv4Addr::fromOctets(198, 18, 0, 1),
                                Ipv4Addr::fromOctets(198, 18, 0, 2));
        if (injector.send(net::Bytes(p))) {
            return "send without a route succeeded";
        }
        const std::vector<net::Bytes> batch = {net::Bytes(p), net::Bytes(p)};
        if (injector.sendBatch(batch) != 0) {
            return "batch without a route sent something";
        }
        if (injector.counters().errors != 3 || injector.counters().packets != 0 ||
            injector.lastError() != "Network is unreachable") {
            return "errors=" + std::to_string(injector.counters().errors) + " lastError='" +
                   injector.lastError() + "'";
        }
        return {};
    }));
}

}  // namespace
}  // namespace tcpcopy::inject
