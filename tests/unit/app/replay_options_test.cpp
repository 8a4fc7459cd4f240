#include "tcpcopy/app/replay_options.h"

#include <gtest/gtest.h>

namespace tcpcopy::app {
namespace {

TEST(ParseRules, AcceptsPortOnlyAndAddressQualifiedRules) {
    std::vector<session::AddressRule> rules;
    ASSERT_EQ(parseRules("80-198.18.1.2:8080,192.0.2.1:6379-198.18.1.3:6379", rules), "");
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_FALSE(rules[0].onlineAddr.has_value());
    EXPECT_EQ(rules[0].onlinePort.value(), 80);
    EXPECT_EQ(rules[0].target.toString(), "198.18.1.2:8080");
    EXPECT_EQ(rules[1].onlineAddr->toString(), "192.0.2.1");
    EXPECT_EQ(rules[1].target.toString(), "198.18.1.3:6379");
}

TEST(ParseRules, RejectsMalformedElementsNamingThem) {
    std::vector<session::AddressRule> rules;
    EXPECT_EQ(parseRules("80", rules), "bad rule '80' (want [onlineIP:]port-targetIP:port)");
    EXPECT_EQ(parseRules("80-198.18.1.2", rules),
              "bad rule '80-198.18.1.2' (want [onlineIP:]port-targetIP:port)");
    EXPECT_NE(parseRules("0-198.18.1.2:80", rules), "");
    EXPECT_NE(parseRules("80-198.18.1.2:65536", rules), "");
    EXPECT_NE(parseRules("80-300.1.1.1:80", rules), "");
    EXPECT_NE(parseRules("x:80-198.18.1.2:80", rules), "");
    EXPECT_EQ(parseRules("80-198.18.1.2:80,80-198.18.1.3:80", rules),
              "rule '80-198.18.1.3:80' repeats the online side of an earlier rule");
    EXPECT_TRUE(rules.empty());
}

TEST(ParseAddressPool, ExpandsListsCidrAndXPatterns) {
    std::vector<net::Ipv4Addr> pool;
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
    std::vector<net::Ipv4Addr> pool;
    EXPECT_NE(parseAddressPool("192.0.2", pool), "");
    EXPECT_NE(parseAddressPool("192.0.2.0/8", pool), "");  // too large a block
    EXPECT_NE(parseAddressPool("192.0.2.0/33", pool), "");
    EXPECT_NE(parseAddressPool("192.0.2.1,", pool), "");
    EXPECT_TRUE(pool.empty());
}

}  // namespace
}  // namespace tcpcopy::app
