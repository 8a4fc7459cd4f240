#include <gtest/gtest.h>

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/inject/link_injector.h"

namespace tcpcopy::app {
namespace {

TEST(SplitLinkMacs, TakesTheOriginalsMacFormOutOfTheRules) {
    std::string rules;
    std::vector<LinkRuleMacs> macs;
    ASSERT_EQ(splitLinkMacs("80@00:11:22:33:44:55-198.18.1.2:8080@66:77:88:99:aa:bb,6379-198.18.1.3:6379",
                            rules, macs),
              "");
    EXPECT_EQ(rules, "80-198.18.1.2:8080,6379-198.18.1.3:6379");
    ASSERT_EQ(macs.size(), 1u);
    EXPECT_EQ(macs[0].target, *net::Ipv4Addr::parse("198.18.1.2"));
    ASSERT_TRUE(macs[0].source && macs[0].nextHop);
    EXPECT_EQ(inject::formatMac(*macs[0].source), "00:11:22:33:44:55");
    EXPECT_EQ(inject::formatMac(*macs[0].nextHop), "66:77:88:99:aa:bb");
    // Either side alone; an online address before the port.
    macs.clear();
    ASSERT_EQ(splitLinkMacs("192.0.2.1:80-198.18.1.2:80@66:77:88:99:aa:bb", rules, macs), "");
    EXPECT_EQ(rules, "192.0.2.1:80-198.18.1.2:80");
    ASSERT_EQ(macs.size(), 1u);
    EXPECT_FALSE(macs[0].source);
    EXPECT_TRUE(macs[0].nextHop);
}

TEST(SplitLinkMacs, RulesWithoutMacsPassUnchangedAndBadMacsAreNamed) {
    std::string rules;
    std::vector<LinkRuleMacs> macs;
    ASSERT_EQ(splitLinkMacs("80-198.18.1.2:80", rules, macs), "");
    EXPECT_EQ(rules, "80-198.18.1.2:80");
    EXPECT_TRUE(macs.empty());
    EXPECT_NE(
        splitLinkMacs("80@00:11:22-198.18.1.2:80", rules, macs).find("bad MAC address '00:11:22-198.18.1'"),
        std::string::npos);
    EXPECT_NE(splitLinkMacs("80@00:11:22:33:44:55-nohost@66:77:88:99:aa:bb", rules, macs).find("bad rule"),
              std::string::npos);
}

}  // namespace
}  // namespace tcpcopy::app
