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

TEST(IpAddr, Ipv4IsHeldIpv4MappedAndConvertsBack) {
    const IpAddr a = Ipv4Addr::fromOctets(198, 18, 0, 1);
    EXPECT_TRUE(a.isV4());
    EXPECT_EQ(a.v4(), Ipv4Addr::fromOctets(198, 18, 0, 1));
    EXPECT_EQ(a.toString(), "198.18.0.1");
    EXPECT_EQ(a.octets()[10], 0xFF);
    EXPECT_EQ(a.octets()[11], 0xFF);
    EXPECT_EQ(IpAddr::parse("::ffff:198.18.0.1"), a);  // the mapped text is the IPv4 address
    EXPECT_EQ(IpAddr(), IpAddr(Ipv4Addr(0)));          // unset is 0.0.0.0, as before IPv6
    EXPECT_TRUE(IpAddr().isUnspecified());
    EXPECT_TRUE(IpAddr::parse("::")->isUnspecified());
}

TEST(IpAddr, ParsesAndPrintsIpv6InRfc5952Form) {
    const auto a = IpAddr::parse("2001:0db8:0000:0000:0000:0000:0000:0001");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->isV6());
    EXPECT_EQ(a->toString(), "2001:db8::1");
    EXPECT_EQ(IpAddr::parse("fd00:198:18::2")->toString(), "fd00:198:18::2");
    EXPECT_TRUE(IpAddr::parse("::1")->isLoopback());
    EXPECT_FALSE(IpAddr::parse("::2")->isLoopback());
    EXPECT_TRUE(IpAddr(Ipv4Addr::fromOctets(127, 0, 0, 9)).isLoopback());
    for (const char* bad : {"", ":", "2001:db8::1::2", "[2001:db8::1]", "2001:db8::1/64", "fe80::1%eth0",
                            "2001:db8::g", "1.2.3", "12345::1"}) {
        EXPECT_FALSE(IpAddr::parse(bad)) << bad;
    }
}

TEST(IpAddr, WireBytesRoundTrip) {
    const IpAddr a = *IpAddr::parse("2001:db8:1:2:3:4:5:6");
    std::array<std::byte, 16> wire{};
    a.toWire(wire.data());
    EXPECT_EQ(std::to_integer<int>(wire[0]), 0x20);
    EXPECT_EQ(std::to_integer<int>(wire[15]), 0x06);
    EXPECT_EQ(IpAddr::fromWire(wire.data()), a);
}

TEST(IpPrefix, ContainsByFamilyAndLength) {
    const auto v4 = IpPrefix::parse("198.18.0.0/15");
    ASSERT_TRUE(v4);
    EXPECT_TRUE(v4->contains(Ipv4Addr::fromOctets(198, 19, 255, 255)));
    EXPECT_FALSE(v4->contains(Ipv4Addr::fromOctets(198, 20, 0, 0)));
    const auto v6 = IpPrefix::parse("2001:db8::/33");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(*IpAddr::parse("2001:db8:7fff::1")));
    EXPECT_FALSE(v6->contains(*IpAddr::parse("2001:db8:8000::1")));
    EXPECT_FALSE(v6->contains(Ipv4Addr::fromOctets(198, 18, 0, 1)));
    EXPECT_TRUE(IpPrefix::parse("::/0")->contains(*IpAddr::parse("fd00::1")));
    EXPECT_FALSE(IpPrefix::parse("::/0")->contains(Ipv4Addr::fromOctets(1, 2, 3, 4)));  // families differ
    EXPECT_TRUE(IpPrefix::parse("0.0.0.0/0")->contains(Ipv4Addr::fromOctets(1, 2, 3, 4)));
    EXPECT_EQ(IpPrefix::parse("2001:db8::5")->prefixLength, 128);
    EXPECT_EQ(IpPrefix::parse("192.0.2.5")->prefixLength, 32);
    for (const char* bad : {"2001:db8::/129", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "/8", "2001:db8::/-1"}) {
        EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
    }
}

TEST(FlowKey, Ipv6EndpointsPrintInBracketsAndHashApart) {
    const FlowKey a{{*IpAddr::parse("2001:db8::10"), Port(40000)},
                    {*IpAddr::parse("fd00:198:18::2"), Port(80)}};
    EXPECT_EQ(a.toString(), "[2001:db8::10]:40000>[fd00:198:18::2]:80");
    // Keys that differ only in the high half of an address still hash apart.
    FlowKey b = a;
    b.client.addr = *IpAddr::parse("2001:db9::10");
    EXPECT_NE(FlowKeyHash{}(a), FlowKeyHash{}(b));
    std::unordered_set<FlowKey, FlowKeyHash> set{a, b, a};
    EXPECT_EQ(set.size(), 2u);
}

TEST(Port, HostOrder) {
    Port p(0x1F90);
    EXPECT_EQ(p.value(), 8080);
    EXPECT_TRUE(Port(1) < Port(2));
}

}  // namespace
}  // namespace tcpcopy::net
