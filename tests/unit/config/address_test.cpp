// Addresses in option values (config/address.h): every form each flag takes, and the refusals.
#include "tcpcopy/config/address.h"

#include <gtest/gtest.h>

namespace tcpcopy::config {
namespace {

struct Parsed {
    std::string reason;
    HostPort value;
};

Parsed parse(std::string_view text, PortUse use, std::uint16_t minPort = 1) {
    Parsed p;
    p.value.addr = *net::IpAddr::parse("192.0.2.99");  // a sentinel: refusals leave it
    p.reason = parseHostPort(text, use, p.value, minPort);
    return p;
}

TEST(ParseHostPort, TakesIpv4WithAndWithoutPort) {
    Parsed p = parse("198.18.0.1", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ(p.value.addr.toString(), "198.18.0.1");
    EXPECT_TRUE(p.value.addr.isV4());
    EXPECT_FALSE(p.value.port);
    p = parse("198.18.0.1:36524", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ(p.value.port, net::Port(36524));
    p = parse("198.18.0.1:80", PortUse::Required);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ((net::Endpoint{p.value.addr, *p.value.port}).toString(), "198.18.0.1:80");
}

TEST(ParseHostPort, TakesIpv6BareOrInBracketsAndItsPortOnlyInBrackets) {
    Parsed p = parse("2001:db8::5", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_TRUE(p.value.addr.isV6());
    EXPECT_EQ(p.value.addr.toString(), "2001:db8::5");
    EXPECT_FALSE(p.value.port);
    // The last group of an unbracketed IPv6 text is part of the address, never a port.
    p = parse("2001:db8::5:8080", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ(p.value.addr.toString(), "2001:db8::5:8080");
    EXPECT_FALSE(p.value.port);
    p = parse("[2001:db8::5]", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ(p.value.addr.toString(), "2001:db8::5");
    EXPECT_FALSE(p.value.port);
    p = parse("[2001:db8::5]:36524", PortUse::Optional);
    ASSERT_EQ(p.reason, "");
    EXPECT_EQ((net::Endpoint{p.value.addr, *p.value.port}).toString(), "[2001:db8::5]:36524");
    p = parse("[::]:9100", PortUse::Required, 0);
    ASSERT_EQ(p.reason, "");
    EXPECT_TRUE(p.value.addr.isUnspecified() && p.value.addr.isV6());
    p = parse("::", PortUse::None);
    ASSERT_EQ(p.reason, "");
    EXPECT_TRUE(p.value.addr.isUnspecified() && p.value.addr.isV6());
    // An IPv4-mapped text is the IPv4 address, as everywhere else.
    p = parse("[::ffff:198.18.0.1]:80", PortUse::Required);
    ASSERT_EQ(p.reason, "");
    EXPECT_TRUE(p.value.addr.isV4());
}

TEST(ParseHostPort, PortsFollowWhatTheFlagAllows) {
    EXPECT_EQ(parse("198.18.0.1", PortUse::Required).reason,
              "'198.18.0.1' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6");
    EXPECT_EQ(parse("[2001:db8::1]", PortUse::Required).reason,
              "'[2001:db8::1]' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6");
    EXPECT_EQ(parse("2001:db8::1:80", PortUse::Required).reason,
              "'2001:db8::1:80' reads as an IPv6 address without a port: write [ADDR]:PORT");
    EXPECT_EQ(parse("198.18.0.1:80", PortUse::None).reason,
              "'198.18.0.1:80' has a port: give the address alone");
    EXPECT_EQ(parse("[::1]:80", PortUse::None).reason, "'[::1]:80' has a port: give the address alone");
    EXPECT_EQ(parse("198.18.0.1:0", PortUse::Optional).reason,
              "'0' is not a port 1..65535 (in '198.18.0.1:0')");
    EXPECT_EQ(parse("198.18.0.1:0", PortUse::Required, 0).reason, "");
    EXPECT_EQ(parse("[::1]:65536", PortUse::Required).reason,
              "'65536' is not a port 1..65535 (in '[::1]:65536')");
    EXPECT_EQ(parse("[::1]:", PortUse::Required).reason, "'' is not a port 1..65535 (in '[::1]:')");
    EXPECT_EQ(parse("198.18.0.1:-1", PortUse::Optional).reason,
              "'-1' is not a port 1..65535 (in '198.18.0.1:-1')");
    EXPECT_EQ(parse("198.18.0.1:+80", PortUse::Optional).reason,
              "'+80' is not a port 1..65535 (in '198.18.0.1:+80')");
}

TEST(ParseHostPort, RefusesWhatIsNoAddressQuotingIt) {
    EXPECT_EQ(parse("", PortUse::Optional).reason, "empty address");
    EXPECT_EQ(parse("198.18.0.300", PortUse::Optional).reason,
              "'198.18.0.300' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse("localhost:80", PortUse::Required).reason,
              "'localhost' is not an IPv4 or IPv6 address (in 'localhost:80')");
    EXPECT_EQ(parse("2001:db8:::1", PortUse::Optional).reason,
              "'2001:db8:::1' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse("[2001:db8::1", PortUse::Optional).reason, "'[2001:db8::1' lacks the closing ']'");
    EXPECT_EQ(parse("[2001:db8::1]80", PortUse::Optional).reason,
              "'[2001:db8::1]80': only ':PORT' may follow ']'");
    EXPECT_EQ(parse("[]:80", PortUse::Required).reason, "'' is not an IPv4 or IPv6 address (in '[]:80')");
    EXPECT_EQ(parse("[[::1]]:80", PortUse::Required).reason, "'[[::1]]:80': only ':PORT' may follow ']'");
    EXPECT_EQ(parse("[[::1]:80", PortUse::Required).reason,
              "'[::1' is not an IPv4 or IPv6 address (in '[[::1]:80')");
    EXPECT_EQ(parse("fe80::1%eth0", PortUse::Optional).reason,
              "'fe80::1%eth0' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse("2001:db8::/64", PortUse::Optional).reason,
              "'2001:db8::/64' is not an IPv4 or IPv6 address");
    // Bytes a terminal should not see are escaped, and a flood is cut.
    EXPECT_EQ(parse(std::string_view("1.2.3.\x1b\n", 8), PortUse::Optional).reason,
              "'1.2.3.\\x1b\\x0a' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse(std::string(200, 'a'), PortUse::Optional).reason,
              "'" + std::string(80, 'a') + "...' is not an IPv4 or IPv6 address");
}

TEST(ParseHostPort, LeavesTheOutputAloneOnARefusal) {
    Parsed p = parse("198.18.0.1:99999", PortUse::Optional);
    EXPECT_NE(p.reason, "");
    EXPECT_EQ(p.value.addr.toString(), "192.0.2.99");
    EXPECT_FALSE(p.value.port);
}

TEST(ParseAddress, TakesEitherFamilyAloneAndRefusesPorts) {
    net::IpAddr addr;
    EXPECT_EQ(parseAddress("0.0.0.0", addr), "");
    EXPECT_TRUE(addr.isV4() && addr.isUnspecified());
    EXPECT_EQ(parseAddress("[fd00:198:18:3::2]", addr), "");
    EXPECT_EQ(addr.toString(), "fd00:198:18:3::2");
    EXPECT_EQ(parseAddress("::1", addr), "");
    EXPECT_TRUE(addr.isLoopback() && addr.isV6());
    EXPECT_EQ(parseAddress("198.18.3.2:36524", addr),
              "'198.18.3.2:36524' has a port: give the address alone");
    EXPECT_EQ(addr.toString(), "::1");
}

TEST(SplitList, TrimsBlanksAndKeepsEmptyElements) {
    EXPECT_EQ(splitList("a, b ,\tc"), (std::vector<std::string_view>{"a", "b", "c"}));
    EXPECT_EQ(splitList("[::1]:80,198.18.0.1"), (std::vector<std::string_view>{"[::1]:80", "198.18.0.1"}));
    EXPECT_EQ(splitList("a,,b,"), (std::vector<std::string_view>{"a", "", "b", ""}));
    EXPECT_EQ(splitList(""), (std::vector<std::string_view>{""}));
}

TEST(FamilyName, NamesEachFamily) {
    EXPECT_EQ(familyName(*net::IpAddr::parse("198.18.0.1")), "IPv4");
    EXPECT_EQ(familyName(*net::IpAddr::parse("2001:db8::1")), "IPv6");
}

}  // namespace
}  // namespace tcpcopy::config
