#include <gtest/gtest.h>

#include "tcpcopy/app/checks.h"

namespace tcpcopy::app {
namespace {

TEST(RulesetQueuesTo, FindsTheQueueInNftAndIptablesOutput) {
    // As printed by nft 1.0.6 and iptables-save 1.8.9 (nf_tables) for the rules of docs/nfqueue.md.
    EXPECT_TRUE(rulesetQueuesTo("\t\ttcp sport 80 counter packets 0 bytes 0 queue num 7 bypass\n", 7));
    EXPECT_TRUE(rulesetQueuesTo("\t\ttcp sport 80 queue flags bypass to 7\n", 7));
    EXPECT_TRUE(
        rulesetQueuesTo("-A OUTPUT -p tcp -m tcp --sport 80 -j NFQUEUE --queue-num 7 --queue-bypass\n", 7));
    EXPECT_TRUE(rulesetQueuesTo("-A OUTPUT -p tcp -j NFQUEUE\n", 0));
}

TEST(RulesetQueuesTo, AnotherQueueOrNoRuleIsNotIt) {
    EXPECT_FALSE(rulesetQueuesTo("", 7));
    EXPECT_FALSE(rulesetQueuesTo("\t\ttcp sport 80 queue num 70 bypass\n", 7));
    EXPECT_FALSE(rulesetQueuesTo("-A OUTPUT -j NFQUEUE --queue-num 17\n", 7));
    EXPECT_FALSE(rulesetQueuesTo("-A OUTPUT -p tcp -j NFQUEUE\n", 7));
    EXPECT_FALSE(rulesetQueuesTo("-A OUTPUT -p tcp --sport 7 -j ACCEPT\n", 7));
}

}  // namespace
}  // namespace tcpcopy::app
