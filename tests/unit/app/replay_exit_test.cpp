#include "tcpcopy/app/replay_exit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tcpcopy::app {
namespace {

using ::testing::HasSubstr;

ReplayEnd replayed(std::uint64_t started, std::uint64_t established) {
    ReplayEnd end;
    end.input = "x.pcap";
    end.stats.sessionsStarted = started;
    end.stats.sessionsEstablished = established;
    end.stats.sessionsCompleted = established;
    return end;
}

TEST(ReplayExitStatus, ZeroWhenEverySessionWentThrough) {
    const ExitStatus status = replayExitStatus(replayed(3, 3));
    EXPECT_EQ(status.code, 0);
    EXPECT_EQ(status.message, "");
}

TEST(ReplayExitStatus, NothingMatchedTheRulesNamesTheInput) {
    const ExitStatus status = replayExitStatus(replayed(0, 0));
    EXPECT_EQ(status.code, 1);
    EXPECT_EQ(status.message, "nothing replayed: no connection in x.pcap matched -x");
}

TEST(ReplayExitStatus, ConnectionsAHookRefusedBeforeTheirSynAreNotSaidToMatchNothing) {
    ReplayEnd end = replayed(0, 0);
    end.stats.hookRefusals[static_cast<std::size_t>(session::HookRefusal::Midstream)] = 2;
    const ExitStatus status = replayExitStatus(end);
    EXPECT_EQ(status.code, 1);
    EXPECT_THAT(status.message, HasSubstr("the protocol hook refused all 2 captured connections"));
}

TEST(ReplayExitStatus, NoSessionEstablishedSaysWhetherTheTargetResetOrNothingCameBack) {
    ReplayEnd refused = replayed(2, 0);
    refused.stats.sessionsResetByTarget = 2;
    EXPECT_EQ(replayExitStatus(refused).code, 1);
    EXPECT_THAT(replayExitStatus(refused).message, HasSubstr("refused every connection with a reset"));
    ReplayEnd silent = replayed(2, 0);
    silent.stats.sessionsFailed = 2;
    silent.stats.sessionsNoSynAck = 2;
    EXPECT_EQ(replayExitStatus(silent).code, 1);
    EXPECT_THAT(replayExitStatus(silent).message, HasSubstr("no SYN-ACK came back from the target"));
}

TEST(ReplayExitStatus, SessionsLostMidReplayAreCountedByCause) {
    ReplayEnd end = replayed(10, 8);
    end.stats.sessionsResetByTarget = 1;
    end.stats.sessionsTimedOut = 2;
    end.stats.sessionsFailed = 3;
    end.stats.sessionsNoSynAck = 2;
    end.stats.sessionsOverBuffer = 1;
    const ExitStatus status = replayExitStatus(end);
    EXPECT_EQ(status.code, 1);
    EXPECT_EQ(status.message,
              "6 of 10 sessions did not complete: 1 reset by the target, 2 timed out, 3 failed (2 without "
              "SYN-ACK, 1 over --max-session-buffer)");
}

TEST(ReplayExitStatus, ADamagedCaptureFailsWithItsErrorAlreadyLogged) {
    ReplayEnd end = replayed(3, 3);
    end.inputError = "x.pcap: truncated dump file";
    const ExitStatus status = replayExitStatus(end);
    EXPECT_EQ(status.code, 1);
    EXPECT_EQ(status.message, "");
}

TEST(ReplayExitStatus, AnInterruptedReplaySucceedsOnceASessionWasEstablished) {
    ReplayEnd live = replayed(5, 1);
    live.interrupted = true;
    live.stats.sessionsAborted = 4;
    EXPECT_EQ(replayExitStatus(live).code, 0);
    ReplayEnd none = replayed(0, 0);
    none.interrupted = true;
    EXPECT_EQ(replayExitStatus(none).code, 1);
    EXPECT_EQ(replayExitStatus(none).message, "");
}

TEST(ReplayExitStatus, UdpOnlyRulesAreJudgedByWhatWasSent) {
    ReplayEnd end = replayed(0, 0);
    end.tcpRules = false;
    end.udpRules = true;
    EXPECT_EQ(replayExitStatus(end).code, 1);
    EXPECT_EQ(replayExitStatus(end).message, "nothing replayed: no UDP datagram in x.pcap matched -x udp:");
    end.udpSent = 12;
    EXPECT_EQ(replayExitStatus(end).code, 0);
    end.udpSendErrors = 2;
    EXPECT_EQ(replayExitStatus(end).code, 1);
    EXPECT_EQ(replayExitStatus(end).message, "2 UDP packets could not be sent to the target (12 were)");
    end.interrupted = true;  // live: anything sent is a success
    EXPECT_EQ(replayExitStatus(end).code, 0);
}

TEST(ReplayExitStatus, MixedRulesNeedBothProtocolsReplayed) {
    ReplayEnd end = replayed(3, 3);
    end.udpRules = true;
    EXPECT_EQ(replayExitStatus(end).code, 1);
    end.udpSent = 4;
    EXPECT_EQ(replayExitStatus(end).code, 0);
    ReplayEnd noTcp = replayed(0, 0);
    noTcp.udpRules = true;
    noTcp.udpSent = 4;
    EXPECT_EQ(replayExitStatus(noTcp).message, "nothing replayed: no connection in x.pcap matched -x");
}

}  // namespace
}  // namespace tcpcopy::app
