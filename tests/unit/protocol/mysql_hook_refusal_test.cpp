// Sessions the MySQL hook refuses: counted by reason, nothing sent after the refusal.

#include <gtest/gtest.h>

#include "hook_session.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

void expectRefused(Session& s, std::string_view reason) {
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, reason);
    EXPECT_FALSE(s.hook.refusal()->detail.empty());
    EXPECT_EQ(s.hook.refusal()->detail.find('\n'), std::string::npos);
    // Nothing more goes out, whatever comes in.
    EXPECT_TRUE(s.hook.rewriteClient(command(0x03, "SELECT 1")).send.empty());
    EXPECT_TRUE(s.hook.onTargetBytes(ok(2)).empty());
    EXPECT_TRUE(s.hook.onCapturedServerBytes(ok(2)).empty());
    EXPECT_FALSE(s.hook.holding());
}

TEST(MysqlHookRefusal, TlsFromTheSslRequest) {
    Session s;
    HandshakeResponse ssl = clientResponse("app", kClientCaps | cap::kSsl);
    ssl.sslRequest = true;
    s.target(greeting(kTargetScramble));
    s.client(handshake(ssl));
    EXPECT_TRUE(s.sent.empty());
    expectRefused(s, "tls");
}

TEST(MysqlHookRefusal, Compression) {
    for (const std::uint64_t flag : {cap::kCompress, cap::kZstdCompression}) {
        Session s;
        s.client(handshake(clientResponse("app", kClientCaps | flag)));
        EXPECT_TRUE(s.sent.empty());
        expectRefused(s, "compression");
    }
}

TEST(MysqlHookRefusal, UserMissingFromTheCredentials) {
    Session s;
    s.client(handshake(clientResponse("root")));
    expectRefused(s, "unknown_user");
    EXPECT_NE(s.hook.refusal()->detail.find("'root'"), std::string::npos);
}

TEST(MysqlHookRefusal, CachingSha2FullAuthentication) {
    Session s;
    s.target(greeting(kTargetScramble, "caching_sha2_password"));
    s.client(concat({handshake(), command(0x03, "SELECT 1")}));
    s.target(packet(2, bytesOf({0x01, 0x04})));  // perform_full_authentication
    expectRefused(s, "unsupported_auth");
    EXPECT_NE(s.hook.refusal()->detail.find("full authentication"), std::string::npos);
}

TEST(MysqlHookRefusal, AuthSwitchToAPluginTheHookCannotCompute) {
    Session s;
    s.target(greeting(kTargetScramble));
    s.client(handshake());
    s.target(packet(2, buildAuthSwitchRequest({"auth_gssapi_client", toBytes("spn")})));
    expectRefused(s, "unsupported_auth");
    EXPECT_NE(s.hook.refusal()->detail.find("auth_gssapi_client"), std::string::npos);
}

TEST(MysqlHookRefusal, TargetRejectsTheLogin) {
    Session s;
    s.target(greeting(kTargetScramble));
    s.client(handshake());
    Bytes error = bytesOf({0xff, 0x15, 0x04});
    putBytes(error, toBytes("#28000Access denied for user 'app'"));
    s.target(packet(2, error));
    expectRefused(s, "login_failed");
    EXPECT_NE(s.hook.refusal()->detail.find("1045 Access denied"), std::string::npos);
}

TEST(MysqlHookRefusal, CaptureThatStartsAfterTheLogin) {
    Session s;
    s.target(greeting(kTargetScramble));
    s.client(command(0x03, "SELECT 1"));
    expectRefused(s, "mid_stream");
}

TEST(MysqlHookRefusal, ChangeUserToAnUnknownUser) {
    Session s;
    s.login();
    const ChangeUser change{"root", {}, "", std::nullopt, std::nullopt, std::nullopt};
    s.client(packet(0, buildChangeUser(change, kClientCaps)));
    expectRefused(s, "unknown_user");
}

TEST(MysqlHookRefusal, TooMuchWaitingForTheTarget) {
    Session s;
    s.client(handshake());
    const Bytes big(MysqlHook::kMaxHeldBytes / 8, std::byte{'x'});
    for (int i = 0; i < 9 && !s.hook.refusal(); ++i) {
        Bytes wire;
        Bytes payload = bytesOf({0x03});
        putBytes(payload, big);
        appendMessage(wire, 0, payload);
        s.client(wire);
    }
    expectRefused(s, "hold_overflow");
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
