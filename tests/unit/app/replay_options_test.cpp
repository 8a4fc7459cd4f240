#include "tcpcopy/app/replay_options.h"

#include <gtest/gtest.h>

namespace tcpcopy::app {
namespace {

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
    EXPECT_EQ(parseRules("80", rules, udp), "bad rule '80' (want [tcp:|udp:][onlineIP:]port-targetIP:port)");
    EXPECT_EQ(parseRules("80-198.18.1.2", rules, udp),
              "bad rule '80-198.18.1.2' (want [tcp:|udp:][onlineIP:]port-targetIP:port)");
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
    EXPECT_EQ(parseRules("80-198.18.1.2:80,udp:53", tcp, udp),
              "bad rule 'udp:53' (want [tcp:|udp:][onlineIP:]port-targetIP:port)");
    EXPECT_EQ(parseRules("sctp:53-198.18.1.2:53", tcp, udp),
              "bad rule 'sctp:53-198.18.1.2:53' (want [tcp:|udp:][onlineIP:]port-targetIP:port)");
    EXPECT_NE(parseRules("udp:0-198.18.1.2:53", tcp, udp), "");
    EXPECT_NE(parseRules("udp:53-198.18.1.2:0", tcp, udp), "");
    EXPECT_NE(parseRules("udp:udp:53-198.18.1.2:53", tcp, udp), "");
    EXPECT_EQ(parseRules("udp:53-198.18.1.2:53,udp:53-198.18.1.3:53", tcp, udp),
              "rule 'udp:53-198.18.1.3:53' repeats the online side of an earlier rule");
    EXPECT_TRUE(tcp.empty());
    EXPECT_TRUE(udp.empty());
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

}  // namespace
}  // namespace tcpcopy::app
