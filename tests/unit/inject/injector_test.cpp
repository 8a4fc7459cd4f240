#include "tcpcopy/inject/injector.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "injector_test_support.h"
#include "tcpcopy/net/builder.h"

namespace tcpcopy::inject {
namespace {

using net::Ipv4Addr;
using testing::allocations;
using testing::buildSyn;
using testing::expectChildPassed;
using testing::kProbePort;
using testing::openReceiver;
using testing::receiveSyn;
using testing::runInPrivateNetns;

TEST(CheckIpPacket, AcceptsBuiltPacketsOfBothFamilies) {
    const auto v6src = *net::IpAddr::parse("2001:db8::1");
    const auto v6dst = *net::IpAddr::parse("fd00:198:18::2");
    EXPECT_EQ(checkIpPacket(net::Bytes(buildSyn(40000, 80))), "");
    EXPECT_EQ(checkIpPacket(net::Bytes(buildSyn(40000, 80, 1400))), "");
    EXPECT_EQ(checkIpPacket(net::Bytes(buildSyn(40000, 80, 0, v6src, v6dst))), "");
    EXPECT_EQ(checkIpPacket(net::Bytes(buildSyn(40000, 80, 1400, v6src, v6dst))), "");
}

TEST(CheckIpPacket, RefusesIpv4TheKernelCouldNotRoute) {
    const auto good = buildSyn(40000, 80);
    EXPECT_EQ(checkIpPacket(net::Bytes(good).first(19)), "shorter than an IPv4 header");
    EXPECT_EQ(checkIpPacket(net::Bytes()), "an empty packet");

    auto v5 = good;
    v5[0] = std::byte{0x55};
    EXPECT_EQ(checkIpPacket(net::Bytes(v5)), "IP version is neither 4 nor 6");

    auto shortIhl = good;
    shortIhl[0] = std::byte{0x44};
    EXPECT_EQ(checkIpPacket(net::Bytes(shortIhl)), "IPv4 header length is impossible");
    auto longIhl = good;
    longIhl[0] = std::byte{0x4f};  // 60-byte header in a 40-byte packet
    EXPECT_EQ(checkIpPacket(net::Bytes(longIhl)), "IPv4 header length is impossible");

    auto padded = good;
    padded.push_back(std::byte{0});
    EXPECT_EQ(checkIpPacket(net::Bytes(padded)), "IPv4 total length differs from the packet size");

    std::vector<std::byte> huge(65536);
    huge[0] = std::byte{0x45};
    EXPECT_EQ(checkIpPacket(net::Bytes(huge)), "longer than 65535 bytes");
}

TEST(CheckIpPacket, RefusesIpv6WhosePayloadLengthIsNotItsSize) {
    const auto good =
        buildSyn(40000, 80, 10, *net::IpAddr::parse("2001:db8::1"), *net::IpAddr::parse("fd00:198:18::2"));
    ASSERT_EQ(good.size(), 40u + 20u + 10u);
    EXPECT_EQ(checkIpPacket(net::Bytes(good).first(39)), "shorter than an IPv6 header");
    EXPECT_EQ(checkIpPacket(net::Bytes(good).first(40)), "IPv6 payload length differs from the packet size");
    EXPECT_EQ(checkIpPacket(net::Bytes(good).first(69)), "IPv6 payload length differs from the packet size");
    auto padded = good;
    padded.push_back(std::byte{0});
    EXPECT_EQ(checkIpPacket(net::Bytes(padded)), "IPv6 payload length differs from the packet size");
    // An IPv4 packet whose version nibble says 6 is checked as IPv6, and fails.
    auto relabelled = buildSyn(40000, 80, 30);
    relabelled[0] = std::byte{0x65};
    EXPECT_EQ(checkIpPacket(net::Bytes(relabelled)), "IPv6 payload length differs from the packet size");
    // The largest IPv6 packet without a jumbogram: 40 + 65535 bytes, payload length 0xffff.
    std::vector<std::byte> largest(40 + 65535);
    largest[0] = std::byte{0x60};
    largest[4] = largest[5] = std::byte{0xff};
    EXPECT_EQ(checkIpPacket(net::Bytes(largest)), "");
    largest.push_back(std::byte{0});
    EXPECT_EQ(checkIpPacket(net::Bytes(largest)), "longer than an IPv6 header and 65535 bytes");
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
// A forked child unshares a new network namespace (only `lo`), injects SYNs to 127.0.0.1 and
// reads them back on a raw TCP socket. Skipped without CAP_SYS_ADMIN and CAP_NET_RAW.

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
    const std::size_t before = allocations();
    bool allSent = true;
    for (std::size_t i = 1; i < packets.size(); ++i) {
        allSent = injector.send(net::Bytes(packets[i])) && allSent;
    }
    const std::size_t allocated = allocations() - before;
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
        injector.lastError() != "IP version is neither 4 nor 6") {
        return "malformed packet not refused: " + injector.lastError();
    }
    ::close(rx);
    return {};
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
    const std::size_t before2 = allocations();
    const std::size_t sent2 = injector.sendBatch(again);
    if (allocations() != before2) {
        return "second batch allocated " + std::to_string(allocations() - before2) + " times";
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
