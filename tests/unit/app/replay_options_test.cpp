#include "tcpcopy/app/replay_options.h"

#include <gtest/gtest.h>

namespace tcpcopy::app {
namespace {

// The refusal of a malformed -x element, with the address parser's reason when there is one.
std::string badRule(const std::string& rule, const std::string& reason = "") {
    return "bad rule '" + rule + "' (want [tcp:|udp:][onlineIP:]port-targetIP:port, IPv6 as [IP]:port)" +
           (reason.empty() ? "" : ": " + reason);
}

TEST(ParseRules, AcceptsPortOnlyAndAddressQualifiedRules) {
    std::vector<session::AddressRule> rules;
    std::vector<session::AddressRule> udp;
    ASSERT_EQ(parseRules("80-198.18.1.2:8080,192.0.2.1:6379-198.18.1.3:6379", rules, udp), "");
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_TRUE(udp.empty());
    EXPECT_FALSE(rules[0].onlineAddr.has_value());
    EXPECT_EQ(rules[0].onlinePort.value(), 80);
    EXPECT_EQ(rules[0].target.toString(), "198.18.1.2:8080");
    EXPECT_EQ(rules[1].onlineAddr->toString(), "192.0.2.1");
    EXPECT_EQ(rules[1].target.toString(), "198.18.1.3:6379");
}

TEST(ParseRules, SortsTcpAndUdpRulesByTheirPrefix) {
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    ASSERT_EQ(parseRules("udp:53-198.18.1.2:5353, tcp:80-198.18.1.2:8080,udp:192.0.2.1:123-198.18.1.3:123,"
                         "6379-198.18.1.3:6379,tcp:53-198.18.1.2:53",
                         tcp, udp),
              "");
    ASSERT_EQ(udp.size(), 2u);
    EXPECT_FALSE(udp[0].onlineAddr.has_value());
    EXPECT_EQ(udp[0].onlinePort.value(), 53);
    EXPECT_EQ(udp[0].target.toString(), "198.18.1.2:5353");
    EXPECT_EQ(udp[1].onlineAddr->toString(), "192.0.2.1");
    EXPECT_EQ(udp[1].target.toString(), "198.18.1.3:123");
    ASSERT_EQ(tcp.size(), 3u);  // DNS over TCP and over UDP on the same port are two rules
    EXPECT_EQ(tcp[0].target.toString(), "198.18.1.2:8080");
    EXPECT_EQ(tcp[1].target.toString(), "198.18.1.3:6379");
    EXPECT_EQ(tcp[2].onlinePort.value(), 53);
}

TEST(ParseRules, RejectsMalformedElementsNamingThem) {
    std::vector<session::AddressRule> rules;
    std::vector<session::AddressRule> udp;
    EXPECT_EQ(parseRules("80", rules, udp), badRule("80"));
    EXPECT_EQ(parseRules("80-198.18.1.2", rules, udp),
              badRule("80-198.18.1.2", "'198.18.1.2' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6"));
    EXPECT_NE(parseRules("0-198.18.1.2:80", rules, udp), "");
    EXPECT_NE(parseRules("80-198.18.1.2:65536", rules, udp), "");
    EXPECT_NE(parseRules("80-300.1.1.1:80", rules, udp), "");
    EXPECT_NE(parseRules("x:80-198.18.1.2:80", rules, udp), "");
    EXPECT_EQ(parseRules("80-198.18.1.2:80,80-198.18.1.3:80", rules, udp),
              "rule '80-198.18.1.3:80' repeats the online side of an earlier rule");
    EXPECT_TRUE(rules.empty());
    EXPECT_TRUE(udp.empty());
}

TEST(ParseRules, RejectsBadUdpRulesAndKeepsNothingOfTheList) {
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    EXPECT_EQ(parseRules("80-198.18.1.2:80,udp:53", tcp, udp), badRule("udp:53"));
    EXPECT_EQ(parseRules("sctp:53-198.18.1.2:53", tcp, udp),
              badRule("sctp:53-198.18.1.2:53", "'sctp' is not an IPv4 or IPv6 address (in 'sctp:53')"));
    EXPECT_NE(parseRules("udp:0-198.18.1.2:53", tcp, udp), "");
    EXPECT_NE(parseRules("udp:53-198.18.1.2:0", tcp, udp), "");
    EXPECT_NE(parseRules("udp:udp:53-198.18.1.2:53", tcp, udp), "");
    EXPECT_EQ(parseRules("udp:53-198.18.1.2:53,udp:53-198.18.1.3:53", tcp, udp),
              "rule 'udp:53-198.18.1.3:53' repeats the online side of an earlier rule");
    EXPECT_TRUE(tcp.empty());
    EXPECT_TRUE(udp.empty());
}

TEST(ParseRules, TakesIpv6InBracketsOnEitherSide) {
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    ASSERT_EQ(parseRules("[2001:db8::1]:80-[2001:db8:1::2]:80,tcp:8080-[fd00:198:18:1::2]:8080,"
                         "[2001:db8::1]:443-198.18.1.2:443,192.0.2.1:6379-[fd00:198:18:1::3]:6379",
                         tcp, udp),
              "");
    ASSERT_EQ(tcp.size(), 4u);
    EXPECT_TRUE(udp.empty());
    EXPECT_EQ(tcp[0].onlineAddr->toString(), "2001:db8::1");
    EXPECT_EQ(tcp[0].onlinePort.value(), 80);
    EXPECT_EQ(tcp[0].target.toString(), "[2001:db8:1::2]:80");
    EXPECT_FALSE(tcp[1].onlineAddr.has_value());
    EXPECT_EQ(tcp[1].onlinePort.value(), 8080);
    EXPECT_EQ(tcp[1].target.toString(), "[fd00:198:18:1::2]:8080");
    // The families of the two sides may differ (-c gives the sessions addresses of the target's).
    EXPECT_EQ(tcp[2].onlineAddr->toString(), "2001:db8::1");
    EXPECT_EQ(tcp[2].target.toString(), "198.18.1.2:443");
    EXPECT_EQ(tcp[3].onlineAddr->toString(), "192.0.2.1");
    EXPECT_EQ(tcp[3].target.toString(), "[fd00:198:18:1::3]:6379");
    // The same port on two online addresses of different families: two rules.
    ASSERT_EQ(parseRules("[2001:db8::1]:80-[fd00::2]:80,192.0.2.1:80-[fd00::2]:80", tcp, udp), "");
    EXPECT_EQ(tcp.size(), 6u);
}

TEST(ParseRules, RefusesIpv6WithoutBracketsOrWithBadPortsNamingTheRule) {
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    EXPECT_EQ(parseRules("80-2001:db8::2:80", tcp, udp),
              badRule("80-2001:db8::2:80",
                      "'2001:db8::2:80' reads as an IPv6 address without a port: write [ADDR]:PORT"));
    EXPECT_EQ(parseRules("2001:db8::1:80-[fd00::2]:80", tcp, udp),
              badRule("2001:db8::1:80-[fd00::2]:80",
                      "'2001:db8::1:80' reads as an IPv6 address without a port: write [ADDR]:PORT"));
    EXPECT_EQ(parseRules("80-[fd00::2:80", tcp, udp),
              badRule("80-[fd00::2:80", "'[fd00::2:80' lacks the closing ']'"));
    EXPECT_EQ(parseRules("80-[fd00::2]:0", tcp, udp),
              badRule("80-[fd00::2]:0", "'0' is not a port 1..65535 (in '[fd00::2]:0')"));
    EXPECT_EQ(parseRules("[2001:db8::1]-[fd00::2]:80", tcp, udp),
              badRule("[2001:db8::1]-[fd00::2]:80",
                      "'[2001:db8::1]' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6"));
    EXPECT_EQ(parseRules("[2001:db8::1]:80-[fd00::2]:80,[2001:db8::1]:80-[fd00::3]:80", tcp, udp),
              "rule '[2001:db8::1]:80-[fd00::3]:80' repeats the online side of an earlier rule");
    EXPECT_TRUE(tcp.empty());
    EXPECT_TRUE(udp.empty());
}

// UDP copy stays IPv4: an IPv6 address on either side of a udp: rule is refused in one line.
TEST(ParseRules, RefusesIpv6UdpRules) {
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    EXPECT_EQ(parseRules("udp:53-[fd00:198:18:1::2]:53", tcp, udp),
              "rule 'udp:53-[fd00:198:18:1::2]:53': udp: rules are IPv4 only (UDP copy sends no IPv6)");
    EXPECT_EQ(parseRules("80-[fd00::2]:80,udp:[2001:db8::1]:53-198.18.1.2:53", tcp, udp),
              "rule 'udp:[2001:db8::1]:53-198.18.1.2:53': udp: rules are IPv4 only (UDP copy sends no IPv6)");
    EXPECT_TRUE(tcp.empty());
    EXPECT_TRUE(udp.empty());
}

TEST(SplitLinkMacs, TakesIpv6RulesInTheMacForm) {
    std::string rules;
    std::vector<LinkRuleMacs> macs;
    ASSERT_EQ(splitLinkMacs("[2001:db8::1]:80@00:11:22:33:44:55-[fd00:198:18:1::2]:8080@66:77:88:99:aa:bb,"
                            "tcp:443-[fd00:198:18:1::3]:443@66:77:88:99:aa:cc",
                            rules, macs),
              "");
    EXPECT_EQ(rules, "[2001:db8::1]:80-[fd00:198:18:1::2]:8080,tcp:443-[fd00:198:18:1::3]:443");
    ASSERT_EQ(macs.size(), 2u);
    EXPECT_EQ(macs[0].target.toString(), "fd00:198:18:1::2");
    EXPECT_TRUE(macs[0].source && macs[0].nextHop);
    EXPECT_EQ(macs[1].target.toString(), "fd00:198:18:1::3");
    EXPECT_FALSE(macs[1].source);
    EXPECT_TRUE(macs[1].nextHop);
    std::vector<session::AddressRule> tcp;
    std::vector<session::AddressRule> udp;
    ASSERT_EQ(parseRules(rules, tcp, udp), "");
    EXPECT_EQ(tcp[0].target.toString(), "[fd00:198:18:1::2]:8080");
    // Without brackets the MAC form's target is no address with a port.
    EXPECT_EQ(
        splitLinkMacs("80-fd00::2:80@66:77:88:99:aa:bb", rules, macs),
        "bad rule '80-fd00::2:80@66:77:88:99:aa:bb' (want [onlineIP:]port@SRC_MAC-targetIP:port@DST_MAC)");
}

TEST(ParseAddressPool, ExpandsListsCidrAndXPatterns) {
    std::vector<net::IpAddr> pool;
    ASSERT_EQ(parseAddressPool("203.0.113.7", pool), "");
    ASSERT_EQ(pool.size(), 1u);
    pool.clear();
    ASSERT_EQ(parseAddressPool("198.51.100.0/30,203.0.113.9", pool), "");
    ASSERT_EQ(pool.size(), 3u);  // .1 .2 (network and broadcast excluded), then .9
    EXPECT_EQ(pool[0].toString(), "198.51.100.1");
    EXPECT_EQ(pool[1].toString(), "198.51.100.2");
    EXPECT_EQ(pool[2].toString(), "203.0.113.9");
    pool.clear();
    ASSERT_EQ(parseAddressPool("192.0.2.x", pool), "");
    ASSERT_EQ(pool.size(), 254u);
    EXPECT_EQ(pool.front().toString(), "192.0.2.1");
    EXPECT_EQ(pool.back().toString(), "192.0.2.254");
}

TEST(ParseAddressPool, RejectsBadElements) {
    std::vector<net::IpAddr> pool;
    EXPECT_NE(parseAddressPool("192.0.2", pool), "");
    EXPECT_NE(parseAddressPool("192.0.2.0/8", pool), "");  // too large a block
    EXPECT_NE(parseAddressPool("192.0.2.0/33", pool), "");
    EXPECT_NE(parseAddressPool("192.0.2.1,", pool), "");
    EXPECT_TRUE(pool.empty());
}

TEST(ParseAddressPool, TakesIpv6AddressesAndPrefixesBesideIpv4) {
    std::vector<net::IpAddr> pool;
    ASSERT_EQ(parseAddressPool("2001:db8::7,[2001:db8::8], 203.0.113.9", pool), "");
    ASSERT_EQ(pool.size(), 3u);
    EXPECT_EQ(pool[0].toString(), "2001:db8::7");
    EXPECT_EQ(pool[1].toString(), "2001:db8::8");
    EXPECT_TRUE(pool[2].isV4());
    pool.clear();
    // A prefix: its hosts but the subnet-router anycast address (host part zero); host bits given
    // in the prefix are ignored.
    ASSERT_EQ(parseAddressPool("2001:db8:1::5/126", pool), "");
    ASSERT_EQ(pool.size(), 3u);
    EXPECT_EQ(pool[0].toString(), "2001:db8:1::5");
    EXPECT_EQ(pool[1].toString(), "2001:db8:1::6");
    EXPECT_EQ(pool[2].toString(), "2001:db8:1::7");
    pool.clear();
    ASSERT_EQ(parseAddressPool("2001:db8::a/127,2001:db8::ff/128", pool), "");
    ASSERT_EQ(pool.size(), 3u);  // /127: both (RFC 6164); /128: the address
    EXPECT_EQ(pool[0].toString(), "2001:db8::a");
    EXPECT_EQ(pool[1].toString(), "2001:db8::b");
    EXPECT_EQ(pool[2].toString(), "2001:db8::ff");
    pool.clear();
    ASSERT_EQ(parseAddressPool("2001:db8:0:1::/112", pool), "");
    ASSERT_EQ(pool.size(), 65535u);
    EXPECT_EQ(pool.front().toString(), "2001:db8:0:1::1");
    EXPECT_EQ(pool.back().toString(), "2001:db8:0:1::ffff");
    pool.clear();
    ASSERT_EQ(parseAddressPool("2001:db8:0:1::ab00/120", pool), "");
    ASSERT_EQ(pool.size(), 255u);
    EXPECT_EQ(pool.front().toString(), "2001:db8:0:1::ab01");
    EXPECT_EQ(pool.back().toString(), "2001:db8:0:1::abff");
}

TEST(ParseAddressPool, BoundsIpv6PrefixesAndSaysWhy) {
    std::vector<net::IpAddr> pool;
    const std::string bounds =
        "; prefixes from /16 to /32 for IPv4, /112 to /128 for IPv6 (at most 65,535 addresses each)";
    EXPECT_EQ(
        parseAddressPool("2001:db8::/111", pool),
        "bad client address '2001:db8::/111' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)" +
            bounds);
    EXPECT_EQ(
        parseAddressPool("2001:db8::/64", pool),
        "bad client address '2001:db8::/64' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)" +
            bounds);
    EXPECT_EQ(
        parseAddressPool("2001:db8::/129", pool),
        "bad client address '2001:db8::/129' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)" +
            bounds);
    EXPECT_EQ(
        parseAddressPool("192.0.2.0/15", pool),
        "bad client address '192.0.2.0/15' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)" +
            bounds);
    EXPECT_EQ(
        parseAddressPool("2001:db8::1,2001:db8::1:x", pool),
        "bad client address '2001:db8::1:x' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)");
    EXPECT_EQ(parseAddressPool("[2001:db8::1]:80", pool),
              "bad client address '[2001:db8::1]:80' (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or "
              "IPv6/n)");
    EXPECT_TRUE(pool.empty());
}

session::AddressRule rule(const char* online, const char* target) {
    session::AddressRule r;
    if (online != nullptr) r.onlineAddr = *net::IpAddr::parse(online);
    r.onlinePort = net::Port(80);
    r.target = net::Endpoint{*net::IpAddr::parse(target), net::Port(80)};
    return r;
}

// A rule whose online address and target differ in family replays only with -c addresses of the
// target's family: without them every session would be skipped, so the start is refused.
TEST(CheckRuleFamilies, NeedsPoolAddressesOfTheTargetsFamilyAcrossFamilies) {
    session::EngineConfig engine;
    engine.rules = {rule("192.0.2.1", "198.18.1.2"), rule(nullptr, "fd00:198:18:1::2"),
                    rule("2001:db8::1", "fd00:198:18:1::2")};
    EXPECT_EQ(checkRuleFamilies(engine), "");
    engine.rules.push_back(rule("192.0.2.1", "fd00:198:18:1::3"));
    EXPECT_EQ(checkRuleFamilies(engine),
              "-x/--transfer: the rule for 192.0.2.1:80 sends IPv4 clients to the IPv6 target "
              "[fd00:198:18:1::3]:80: give -c/--client-ips IPv6 addresses for them to replay from");
    engine.clientPool = {*net::IpAddr::parse("203.0.113.5")};
    EXPECT_NE(checkRuleFamilies(engine), "");
    engine.clientPool.push_back(*net::IpAddr::parse("2001:db8:2::5"));
    EXPECT_EQ(checkRuleFamilies(engine), "");
    engine.rules = {rule("2001:db8::1", "198.18.1.2")};
    engine.clientPool = {*net::IpAddr::parse("2001:db8:2::5")};
    EXPECT_EQ(
        checkRuleFamilies(engine),
        "-x/--transfer: the rule for [2001:db8::1]:80 sends IPv6 clients to the IPv4 target 198.18.1.2:80: "
        "give -c/--client-ips IPv4 addresses for them to replay from");
}

}  // namespace
}  // namespace tcpcopy::app
