#include "tcpcopy/net/types.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace tcpcopy::net {
namespace {

TEST(Ipv4Addr, ParsesDottedQuad) {
    EXPECT_EQ(Ipv4Addr::parse("198.18.0.1"), Ipv4Addr(0xC6120001));
    EXPECT_EQ(Ipv4Addr::parse("0.0.0.0"), Ipv4Addr(0));
    EXPECT_EQ(Ipv4Addr::parse("255.255.255.255"), Ipv4Addr(0xFFFFFFFF));
    EXPECT_EQ(Ipv4Addr::parse("127.0.0.1")->isLoopback(), true);
    EXPECT_EQ(Ipv4Addr::parse("10.200.3.45"), Ipv4Addr::fromOctets(10, 200, 3, 45));
}

TEST(Ipv4Addr, RejectsEverythingElse) {
    for (const char* bad :
         {"",         "1",        "1.2.3",      "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "1..2.3",
          ".1.2.3",   "1.2.3.",   "01.2.3.4",   "1.2.3.04",  "1.2.3.4 ",  " 1.2.3.4",  "1.2.3.a",
          "1.2.3.-1", "+1.2.3.4", "1.2.3.1000", "0x1.2.3.4", "localhost", "::1",       "1.2.3.4/24"}) {
        EXPECT_FALSE(Ipv4Addr::parse(bad)) << bad;
    }
}

TEST(Ipv4Addr, ToStringRoundTrips) {
    for (std::uint32_t v : {0u, 1u, 0x7F000001u, 0xC6120001u, 0xFFFFFFFFu, 0x0A006409u, 0x64640A0Au}) {
        Ipv4Addr a(v);
        EXPECT_EQ(Ipv4Addr::parse(a.toString()), a) << a.toString();
    }
    EXPECT_EQ(Ipv4Addr(0xC0000201).toString(), "192.0.2.1");
    EXPECT_EQ(Ipv4Addr(0x0A00640A).toString(), "10.0.100.10");
}

TEST(Endpoint, FormatsAddressAndPort) {
    Endpoint e{Ipv4Addr::fromOctets(198, 18, 0, 1), Port(80)};
    EXPECT_EQ(e.toString(), "198.18.0.1:80");
    FlowKey k{{Ipv4Addr::fromOctets(192, 0, 2, 1), Port(40000)}, e};
    EXPECT_EQ(k.toString(), "192.0.2.1:40000>198.18.0.1:80");
}

TEST(FlowKey, HashAndOrdering) {
    FlowKey a{{Ipv4Addr(1), Port(2)}, {Ipv4Addr(3), Port(4)}};
    FlowKey b{{Ipv4Addr(3), Port(4)}, {Ipv4Addr(1), Port(2)}};
    EXPECT_NE(a, b);
    EXPECT_TRUE(a < b);
    std::unordered_set<FlowKey, FlowKeyHash> set{a, b, a};
    EXPECT_EQ(set.size(), 2u);
    EXPECT_NE(FlowKeyHash{}(a), FlowKeyHash{}(b));
}

TEST(SeqNum, ComparesAcrossWraparound) {
    SeqNum high(0xFFFFFFF0u);
    SeqNum low(0x10u);
    EXPECT_TRUE(seqLt(high, low));
    EXPECT_TRUE(seqGt(low, high));
    EXPECT_TRUE(seqLe(high, high));
    EXPECT_TRUE(seqGe(low, low));
    EXPECT_FALSE(seqLt(low, high));
    EXPECT_EQ(low.distanceFrom(high), 0x20);
    EXPECT_EQ(high.distanceFrom(low), -0x20);
    EXPECT_EQ(high + 0x20u, low);
    EXPECT_EQ(low - 0x20u, high);
    EXPECT_EQ(seqMax(high, low), low);
    EXPECT_EQ(seqMax(low, high), low);
    SeqNum s(0xFFFFFFFFu);
    s += 1;
    EXPECT_EQ(s, SeqNum(0));
}

TEST(SeqNum, HalfSpaceBoundary) {
    SeqNum zero(0);
    SeqNum justBelowHalf(0x7FFFFFFFu);
    SeqNum half(0x80000000u);
    EXPECT_TRUE(seqLt(zero, justBelowHalf));
    // Exactly 2^31 apart the order is undefined (RFC 1982 §3.2): neither is before the other.
    EXPECT_FALSE(seqLt(zero, half));
    EXPECT_FALSE(seqLt(half, zero));
    EXPECT_TRUE(seqGt(zero, SeqNum(0x80000001u)));
}

TEST(Port, HostOrder) {
    Port p(0x1F90);
    EXPECT_EQ(p.value(), 8080);
    EXPECT_TRUE(Port(1) < Port(2));
}

}  // namespace
}  // namespace tcpcopy::net
