// The MySQL hook driven as the engine drives it: the captured client's bytes, the online server's
// bytes from the capture and the target's bytes, in the orders they can arrive.

#include "tcpcopy/protocol/mysql_hook.h"

#include <gtest/gtest.h>

#include "hook_session.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

TEST(MysqlHook, HoldsTheLoginUntilTheTargetGreetsThenAnswersItsScramble) {
    Session s;
    const ClientRewrite r = s.hook.rewriteClient(handshake());
    EXPECT_TRUE(r.send.empty());
    EXPECT_TRUE(r.holding);
    s.target(greeting(kTargetScramble));
    EXPECT_FALSE(s.hook.holding());
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].seq, 1);
    const auto sent = parseHandshakeResponse(packets[0].payload);
    ASSERT_TRUE(sent);
    const HandshakeResponse captured = clientResponse();
    EXPECT_EQ(sent->authResponse, nativePasswordResponse("s3cret", kTargetScramble));
    EXPECT_NE(sent->authResponse, captured.authResponse);
    EXPECT_EQ(sent->user, "app");
    EXPECT_EQ(sent->database, "shop");
    EXPECT_EQ(sent->attributes, captured.attributes);
    EXPECT_EQ(sent->capabilities, captured.capabilities);
    EXPECT_EQ(sent->authPlugin, "mysql_native_password");
    EXPECT_EQ(s.hook.stats().loginsRewritten, 1u);
}

TEST(MysqlHook, AnswersTheTargetsGreetingPluginWhenItCanComputeIt) {
    Session s;
    s.target(greeting(kTargetScramble, "caching_sha2_password"));
    s.client(handshake());
    auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    const auto sent = parseHandshakeResponse(packets[0].payload);
    EXPECT_EQ(sent->authPlugin, "caching_sha2_password");
    EXPECT_EQ(sent->authResponse, cachingSha2Response("s3cret", kTargetScramble));
    s.target(packet(2, bytesOf({0x01, 0x03})));  // fast_auth_success
    s.client(command(0x03, "SELECT 1"));
    EXPECT_TRUE(s.hook.holding());
    s.target(ok(3));
    packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
    EXPECT_FALSE(s.hook.refusal());
}

TEST(MysqlHook, CommandsWaitForTheTargetsOk) {
    Session s;
    s.client(concat({handshake(), command(0x03, "SELECT 1"), command(0x0e)}));
    EXPECT_TRUE(s.hook.holding());
    s.target(greeting(kTargetScramble));
    EXPECT_EQ(s.take().size(), 1u);  // the login only
    EXPECT_TRUE(s.hook.holding());
    s.target(ok(2));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
    EXPECT_EQ(packets[1].payload, bytesOf({0x0e}));
    EXPECT_FALSE(s.hook.holding());
}

TEST(MysqlHook, AnswersAnAuthSwitchTheCapturedClientNeverSaw) {
    Session s;
    s.client(concat({handshake(), command(0x03, "SELECT 1")}));
    s.target(greeting(kTargetScramble));
    s.take();
    const Bytes edScramble = toBytes("ed25519-scramble-0123456789abcde");
    s.target(packet(2, buildAuthSwitchRequest({"client_ed25519", edScramble})));
    auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].seq, 3);
    EXPECT_EQ(packets[0].payload, ed25519Response("s3cret", edScramble));
    s.target(ok(4));
    packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
    EXPECT_EQ(s.hook.stats().authSwitchesAnswered, 1u);
}

TEST(MysqlHook, DropsTheCapturedSwitchResponseWhenTheTargetDoesNotSwitch) {
    Session s;
    // Online: greeting, switch to native with a new scramble, the client's answer, OK.
    s.client(
        concat({handshake(), packet(3, nativePasswordResponse("s3cret", toBytes("switched-scramble-xx"))),
                command(0x03, "SELECT 2")}));
    s.target(greeting(kTargetScramble));
    s.target(ok(2));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_EQ(packets[0].seq, 1);
    EXPECT_EQ(toString(packets[1].payload), "\x03SELECT 2");
    EXPECT_EQ(s.hook.stats().clientAuthPacketsDropped, 1u);
}

TEST(MysqlHook, BothSwitchDifferently) {
    Session s;
    s.client(
        concat({handshake(), packet(3, nativePasswordResponse("s3cret", toBytes("online-switch-scramb")))}));
    s.target(greeting(kTargetScramble, "caching_sha2_password"));
    const Bytes nativeScramble = toBytes("target-switch-scramb");
    s.target(packet(2, buildAuthSwitchRequest({"mysql_native_password", nativeScramble})));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_EQ(packets[1].seq, 3);
    EXPECT_EQ(packets[1].payload, nativePasswordResponse("s3cret", nativeScramble));
}

TEST(MysqlHook, OutputDoesNotDependOnHowTheBytesAreCut) {
    // Each stream in causal order: the target answers only what it was sent.
    const Bytes targetGreeting = greeting(kTargetScramble);
    const Bytes clientStream = concat({handshake(), command(0x16, "SELECT ?"),
                                       statementCommand(0x17, 9, "\x00\x01"sv), command(0x03, "SELECT 1")});
    const Bytes onlineStream =
        concat({greeting(kOnlineScramble), ok(2), prepareOk(9), ok(1), resultSet(300)});
    const Bytes targetAnswers = concat({ok(2), prepareOk(3), ok(1), resultSet(300)});
    Session whole;
    whole.target(targetGreeting);
    whole.client(clientStream);
    whole.online(onlineStream);
    whole.target(targetAnswers);
    Session bytewise;
    for (const auto& [stream, feed] : std::vector<std::pair<const Bytes*, void (Session::*)(ByteView)>>{
             {&targetGreeting, &Session::target},
             {&clientStream, &Session::client},
             {&onlineStream, &Session::online},
             {&targetAnswers, &Session::target}}) {
        for (std::size_t i = 0; i < stream->size(); ++i) {
            (bytewise.*feed)(ByteView(*stream).subspan(i, 1));
        }
    }
    EXPECT_EQ(bytewise.sent, whole.sent);
    const auto packets = whole.take();
    ASSERT_EQ(packets.size(), 4u);
    EXPECT_EQ(packets[2].payload, payloadOf(statementCommand(0x17, 3, "\x00\x01"sv)));
    EXPECT_EQ(whole.hook.stats().statementIdsRewritten, 1u);
    EXPECT_FALSE(whole.hook.holding());
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
