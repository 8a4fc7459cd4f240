// Sessions captured mid-stream through the MySQL hook: the fresh login it writes (byte for byte,
// with auth data computed independently by auth_vectors.py), the client stream cut inside a
// command, the online server's answers that start with one to a command the hook never saw, and
// the statements prepared before the capture.

#include <gtest/gtest.h>

#include "hook_session.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

#include "auth_vectors.inc"

const AuthVector& kSecret = kAuthVectors[0];  // password "secret", scramble 1..20
constexpr std::uint8_t kComPing = 0x0e;
// COM_STMT_EXECUTE's flags and iteration count, for a statement without parameters.
constexpr std::string_view kNoParameters("\x00\x01\x00\x00\x00", 5);

std::shared_ptr<const Credentials> credentials() {
    auto parsed = Credentials::parse("app secret\nreport r3port\n", "test");
    auto c = std::make_shared<Credentials>();
    *c = parsed.value();
    return c;
}

// A hook for a session captured mid-stream, as the engine drives it.
struct Midstream : Session {
    explicit Midstream(MysqlHookContext context = {"192.0.2.7", nullptr,
                                                   MidstreamLogin{"app", "shop", {}, {}}})
        : Session(credentials(), std::move(context)) {}
    // Greeting, the hook's login, the target's OK.
    void freshLogin() {
        ASSERT_TRUE(hook.startMidstream());
        target(greeting(bytesOf(kSecret.scramble)));
        target(ok(2));
        ASSERT_EQ(take().size(), 1u);
    }
};

std::uint32_t statementIdOf(const Packet& p) {
    Reader r(ByteView(p.payload).subspan(1));
    return r.u32();
}

Bytes errPacket(std::uint8_t seq, std::uint16_t code, std::string_view message) {
    Bytes p = bytesOf({0xff});
    putU16(p, code);
    putBytes(p, toBytes("#28000"));
    putBytes(p, toBytes(message));
    return packet(seq, p);
}

TEST(MysqlHookMidstream, WritesAFreshLoginForTheTargetsScrambleByteForByte) {
    Midstream s;
    ASSERT_TRUE(s.hook.startMidstream());
    EXPECT_FALSE(s.hook.refusal());
    s.target(greeting(bytesOf(kSecret.scramble)));
    // Spelled out here, not built with the hook's code: LONG_PASSWORD 0x1, LONG_FLAG 0x4,
    // CONNECT_WITH_DB 0x8, LOCAL_FILES 0x80, PROTOCOL_41 0x200, TRANSACTIONS 0x2000,
    // SECURE_CONNECTION 0x8000, MULTI_STATEMENTS 0x10000, MULTI_RESULTS 0x20000,
    // PS_MULTI_RESULTS 0x40000, PLUGIN_AUTH 0x80000, PLUGIN_AUTH_LENENC_CLIENT_DATA 0x200000.
    Bytes payload = bytesOf({0x8d, 0xa2, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x01, 45});
    payload.resize(payload.size() + 23);  // filler and MariaDB's extended capabilities: none
    putBytes(payload, toBytes(std::string_view("app\0", 4)));
    putU8(payload, 20);
    putBytes(payload, bytesOf(kSecret.native));
    putBytes(payload, toBytes(std::string_view("shop\0mysql_native_password\0", 27)));
    Bytes expected = bytesOf({static_cast<unsigned>(payload.size()), 0x00, 0x00, 0x01});
    putBytes(expected, payload);
    EXPECT_EQ(s.sent, expected);
    EXPECT_EQ(s.hook.stats().midstreamLogins, 1u);
}

TEST(MysqlHookMidstream, WithoutASchemaTheLoginNamesNone) {
    Midstream s({"192.0.2.7", nullptr, MidstreamLogin{"app", std::nullopt, {}, {}}});
    ASSERT_TRUE(s.hook.startMidstream());
    s.target(greeting(bytesOf(kSecret.scramble)));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    const auto sent = parseHandshakeResponse(packets[0].payload);
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->capabilities & cap::kConnectWithDb, 0u);
    EXPECT_FALSE(sent->database);
    EXPECT_EQ(sent->authResponse, bytesOf(kSecret.native));
}

TEST(MysqlHookMidstream, CommandsWaitForTheFreshLoginsOk) {
    Midstream s;
    ASSERT_TRUE(s.hook.startMidstream());
    s.client(command(0x03, "SELECT /* q1 */ 1"));
    EXPECT_TRUE(s.hook.holding());
    EXPECT_TRUE(s.sent.empty());
    s.target(greeting(bytesOf(kSecret.scramble)));
    EXPECT_EQ(s.take().size(), 1u);  // the login only
    EXPECT_TRUE(s.hook.holding());
    s.target(ok(2));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].seq, 0);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT /* q1 */ 1");
    EXPECT_FALSE(s.hook.holding());
    EXPECT_EQ(s.hook.stats().midstreamBytesSkipped, 0u);
}

TEST(MysqlHookMidstream, AnswersTheTargetsAuthSwitch) {
    Midstream s;
    ASSERT_TRUE(s.hook.startMidstream());
    s.client(command(0x03, "SELECT 1"));
    s.target(greeting(kTargetScramble));
    s.take();
    s.target(packet(2, buildAuthSwitchRequest({"client_ed25519", bytesOf(kSecret.scramble)})));
    auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].seq, 3);
    EXPECT_EQ(packets[0].payload, bytesOf(kSecret.ed25519Signature));
    s.target(ok(4));
    packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
}

TEST(MysqlHookMidstream, TargetRejectingTheFreshLoginRefusesTheSession) {
    Midstream s;
    ASSERT_TRUE(s.hook.startMidstream());
    s.client(command(0x03, "SELECT 1"));
    s.target(greeting(kTargetScramble));
    s.target(errPacket(2, 1045, "Access denied for user 'app'"));
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, "login_failed");
    EXPECT_FALSE(s.hook.holding());
    EXPECT_EQ(s.take().size(), 1u);  // the login went, the query did not
}

TEST(MysqlHookMidstream, SkipsTheClientsBytesUpToTheFirstCommand) {
    // The capture starts inside a long query; then the client sends two more commands.
    const Bytes cut = toBytes("tail of a query: WHERE id IN (1, 2, 3) ORDER BY name");
    const Bytes stream = concat({cut, command(0x03, "SELECT /* q2 */ 2"), command(kComPing)});
    Midstream whole;
    whole.freshLogin();
    whole.client(stream);
    Midstream bytewise;
    bytewise.freshLogin();
    for (std::size_t i = 0; i < stream.size(); ++i) {
        bytewise.client(ByteView(stream).subspan(i, 1));
    }
    EXPECT_EQ(bytewise.sent, whole.sent);
    const auto packets = whole.take();
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT /* q2 */ 2");
    EXPECT_EQ(packets[1].payload, bytesOf({kComPing}));
    EXPECT_EQ(whole.hook.stats().midstreamBytesSkipped, cut.size());
    EXPECT_FALSE(whole.hook.refusal());
}

TEST(MysqlHookMidstream, AHeaderLookalikeInsideTheCutIsNotTakenForACommand) {
    // Bytes that read as a COM_QUERY header but are followed by no command.
    const Bytes cut = concat({packet(0, toBytes("\x03SELECT")), toBytes("garbage after it")});
    Midstream s;
    s.freshLogin();
    s.client(concat({cut, command(0x03, "SELECT 3")}));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 3");
}

TEST(MysqlHookMidstream, ClientBytesThatNeverResyncRefuseTheSession) {
    Midstream s;
    s.freshLogin();
    const Bytes junk(MysqlHook::kMaxResyncBytes / 4, std::byte{'x'});
    for (int i = 0; i < 5 && !s.hook.refusal(); ++i) {
        s.client(junk);
    }
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, "mid_stream");
    EXPECT_TRUE(s.sent.empty());
}

// The online server's answers to: an unseen query (a 300-row result set), then q1 (OK), then a
// prepare with a parameter and two columns.
Bytes onlineAfterAnUnseenQuery() { return concat({resultSet(300), ok(1), prepareOk(9)}); }

TEST(MysqlHookMidstream, MapsAStatementPreparedAfterTheBoundaryPastAnUnseenAnswer) {
    Midstream s;
    s.freshLogin();
    s.online(onlineAfterAnUnseenQuery());
    s.client(
        concat({command(0x03, "INSERT /* q1 */ INTO t VALUES (1)"), command(com::kStmtPrepare, "SELECT ?"),
                statementCommand(com::kStmtExecute, 9, "\x00\x01\x00\x00\x00"sv)}));
    EXPECT_TRUE(s.hook.holding());  // the execute waits for the target's PREPARE_OK
    s.target(concat({ok(1), prepareOk(3)}));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 3u);
    EXPECT_EQ(statementIdOf(packets[2]), 3u);
    EXPECT_EQ(s.hook.targetStatementId(9), 3u);
    EXPECT_FALSE(s.hook.refusal());
}

TEST(MysqlHookMidstream, MapsAStatementWhenTheAnswersStartAtTheBoundary) {
    Midstream s;
    s.freshLogin();
    s.client(
        concat({command(0x03, "INSERT /* q1 */ INTO t VALUES (1)"), command(com::kStmtPrepare, "SELECT ?"),
                statementCommand(com::kStmtExecute, 9, kNoParameters)}));
    s.target(concat({ok(1), prepareOk(3)}));
    s.online(concat({ok(1), prepareOk(9)}));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 3u);
    EXPECT_EQ(statementIdOf(packets[2]), 3u);
}

TEST(MysqlHookMidstream, LearnsWhetherTheCapturedAnswersCarryEofPackets) {
    // CLIENT_DEPRECATE_EOF on the online connection: no EOF after definitions, an OK ends rows.
    const Bytes okEnd = bytesOf({0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00});
    const Bytes rows =
        concat({packet(1, bytesOf({0x01})), columnDef(2), packet(3, toBytes("\x01x")), packet(4, okEnd)});
    Bytes prepare = bytesOf({0x00});
    putU32(prepare, 21);
    putU16(prepare, 1);  // columns
    putU16(prepare, 1);  // parameters
    putU8(prepare, 0);
    putU16(prepare, 0);
    for (const bool unseenFirst : {false, true}) {
        Midstream s;
        s.freshLogin();
        s.online(concat({unseenFirst ? rows : Bytes{}, rows, packet(1, prepare), columnDef(2), columnDef(3),
                         packet(1, bytesOf({0x01})), columnDef(2), packet(3, toBytes("\x00\x00\x07")),
                         packet(4, okEnd)}));
        s.client(concat({command(0x03, "SELECT x"), command(com::kStmtPrepare, "SELECT ? FROM t"),
                         statementCommand(com::kStmtExecute, 21, "\x00\x01\x00\x00\x00"sv)}));
        // The target's connection has classic EOFs (the hook's login did not ask for the other).
        s.target(concat({resultSet(1), prepareOk(4)}));
        const auto packets = s.take();
        ASSERT_EQ(packets.size(), 3u) << unseenFirst;
        EXPECT_EQ(statementIdOf(packets[2]), 4u) << unseenFirst;
    }
}

TEST(MysqlHookMidstream, ExecuteOfAStatementPreparedBeforeTheCaptureIsRefused) {
    Midstream s;
    s.freshLogin();
    s.online(resultSet(2));
    s.client(command(0x03, "SELECT 1"));
    s.client(statementCommand(com::kStmtExecute, 5, kNoParameters));
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, "mid_stream");
    EXPECT_NE(s.hook.refusal()->detail.find("statement 5 was prepared before the capture"),
              std::string::npos);
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);  // the query only
}

TEST(MysqlHookMidstream, CloseOfAStatementPreparedBeforeTheCaptureIsDropped) {
    Midstream s;
    s.freshLogin();
    s.client(concat({statementCommand(com::kStmtClose, 5), command(0x03, "SELECT 1")}));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 1");
    EXPECT_EQ(s.hook.stats().midstreamClosesDropped, 1u);
    EXPECT_FALSE(s.hook.refusal());
}

TEST(MysqlHookMidstream, AnswersThatFitNoCountOfUnseenOnesRefuseAtTheFirstMapping) {
    Midstream s;
    s.freshLogin();
    // Two OKs before the PREPARE_OK: with no unseen answer or one, an OK answers the prepare.
    s.online(concat({ok(1), ok(1), prepareOk(9)}));
    s.client(concat(
        {command(com::kStmtPrepare, "SELECT ?"), statementCommand(com::kStmtExecute, 9, kNoParameters)}));
    s.target(prepareOk(3));
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, "mid_stream");
    EXPECT_NE(s.hook.refusal()->detail.find("do not line up"), std::string::npos);
}

TEST(MysqlHookMidstream, LearnsTheLoginFromAnEarlierSessionOfTheSameClient) {
    MysqlHookFactory factory(credentials());
    // A whole session of 192.0.2.7 as report on sales, MariaDB-style (CLIENT_MYSQL off).
    const std::uint64_t caps = (kClientCaps & ~cap::kLongPassword) | cap::kDeprecateEof;
    HandshakeResponse h = clientResponse("report", caps);
    h.database = "sales";
    h.charset = 33;
    auto earlier = factory.create("192.0.2.7");
    earlier->rewriteClient(handshake(h));
    ASSERT_EQ(factory.logins().size(), 1u);

    auto later = factory.create("192.0.2.7");
    ASSERT_TRUE(later->startMidstream());
    const Bytes login = later->onTargetBytes(greeting(bytesOf(kSecret.scramble)));
    const auto packets = packetsOf(login);
    ASSERT_EQ(packets.size(), 1u);
    const auto sent = parseHandshakeResponse(packets[0].payload);
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->user, "report");
    EXPECT_EQ(sent->database, "sales");
    EXPECT_EQ(sent->charset, 33);
    EXPECT_EQ(sent->authResponse, nativePasswordResponse("r3port", bytesOf(kSecret.scramble)));
    // The client's own flags, less the attributes the hook does not send.
    EXPECT_EQ(sent->capabilities, caps & ~cap::kConnectAttrs);
    EXPECT_FALSE(sent->attributes);

    // Another client address has no login to borrow.
    auto other = factory.create("192.0.2.8");
    EXPECT_FALSE(other->startMidstream());
    ASSERT_TRUE(other->refusal());
    EXPECT_EQ(other->refusal()->reason, "mid_stream");
}

TEST(MysqlHookMidstream, TheClientsLastLoginWinsOverTheConfiguredOne) {
    MysqlHookFactory factory(credentials(), MidstreamLogin{"app", "shop", {}, {}});
    factory.create("192.0.2.7")->rewriteClient(handshake(clientResponse("app")));
    factory.create("192.0.2.7")->rewriteClient(handshake(clientResponse("report")));
    auto hook = factory.create("192.0.2.7");
    ASSERT_TRUE(hook->startMidstream());
    const auto packets = packetsOf(hook->onTargetBytes(greeting(kTargetScramble)));
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(parseHandshakeResponse(packets[0].payload)->user, "report");
    // A client never seen gets the configured login.
    auto fresh = factory.create("192.0.2.9");
    ASSERT_TRUE(fresh->startMidstream());
    const auto configured = packetsOf(fresh->onTargetBytes(greeting(kTargetScramble)));
    ASSERT_EQ(configured.size(), 1u);
    EXPECT_EQ(parseHandshakeResponse(configured[0].payload)->user, "app");
    EXPECT_EQ(parseHandshakeResponse(configured[0].payload)->database, "shop");
}

TEST(MysqlHookMidstream, WithoutALoginTheSessionIsRefusedAndTheDetailNamesTheOption) {
    Midstream s({"192.0.2.7", std::make_shared<LoginMemory>(), std::nullopt});
    EXPECT_FALSE(s.hook.startMidstream());
    ASSERT_TRUE(s.hook.refusal());
    EXPECT_EQ(s.hook.refusal()->reason, "mid_stream");
    EXPECT_NE(s.hook.refusal()->detail.find("--mysql-midstream-login"), std::string::npos);
    EXPECT_NE(s.hook.refusal()->detail.find("192.0.2.7"), std::string::npos);
    EXPECT_TRUE(s.hook.rewriteClient(command(0x03, "SELECT 1")).send.empty());
}

TEST(MysqlHookMidstream, ALearnedUserMissingFromTheCredentialsIsUnknown) {
    MysqlHookFactory factory(credentials(), MidstreamLogin{"app", std::nullopt, {}, {}});
    factory.create("192.0.2.7")->rewriteClient(handshake(clientResponse("root")));
    auto hook = factory.create("192.0.2.7");
    EXPECT_TRUE(hook->startMidstream());  // replayable as far as mid-stream goes; refused for its user
    ASSERT_TRUE(hook->refusal());
    EXPECT_EQ(hook->refusal()->reason, "unknown_user");
    EXPECT_NE(hook->refusal()->detail.find("'root'"), std::string::npos);
    EXPECT_TRUE(hook->onTargetBytes(greeting(kTargetScramble)).empty());
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
