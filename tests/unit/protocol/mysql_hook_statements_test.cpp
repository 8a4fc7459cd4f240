// Prepared statements through the MySQL hook: captured ids mapped to the target's, in every order
// the three streams can arrive, past long result sets; and COM_CHANGE_USER.

#include <gtest/gtest.h>

#include "hook_session.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

std::uint32_t statementIdOf(const Packet& p) {
    Reader r(ByteView(p.payload).subspan(1));
    return r.u32();
}

TEST(MysqlHookStatements, EveryStatementCommandCarriesTheTargetsId) {
    Session s;
    s.login();
    s.client(command(com::kStmtPrepare, "SELECT * FROM t WHERE id = ?"));
    s.online(prepareOk(7));
    s.target(prepareOk(1));
    EXPECT_EQ(s.hook.targetStatementId(7), 1u);
    s.client(concat({statementCommand(com::kStmtSendLongData, 7,
                                      "\x00\x00"
                                      "blob"sv),
                     statementCommand(com::kStmtExecute, 7, "\x01\x01\x00\x00\x00"sv),
                     statementCommand(com::kStmtFetch, 7, "\x0a\x00\x00\x00"sv),
                     statementCommand(com::kStmtReset, 7), statementCommand(com::kStmtClose, 7)}));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 6u);
    for (std::size_t i = 1; i < packets.size(); ++i) {
        EXPECT_EQ(statementIdOf(packets[i]), 1u) << i;
    }
    EXPECT_EQ(toString(ByteView(packets[1].payload).subspan(5)), std::string("\x00\x00"
                                                                             "blob",
                                                                             6));
    EXPECT_EQ(toString(ByteView(packets[2].payload).subspan(5)), std::string("\x01\x01\x00\x00\x00", 5));
    EXPECT_EQ(s.hook.stats().statementIdsRewritten, 5u);
    EXPECT_FALSE(s.hook.targetStatementId(7));  // closed
}

TEST(MysqlHookStatements, ExecuteWaitsForTheTargetsPrepareOk) {
    Session s;
    s.login();
    s.online(prepareOk(40));  // the capture holds the answer before the engine replays the prepare
    const ClientRewrite first = s.hook.rewriteClient(
        concat({command(com::kStmtPrepare, "SELECT ?"), statementCommand(com::kStmtExecute, 40, "\x00\x01"sv),
                command(0x03, "SELECT 1")}));
    EXPECT_TRUE(first.holding);
    ASSERT_EQ(packetsOf(first.send).size(), 1u);  // the prepare goes, the execute waits
    s.target(prepareOk(2));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_EQ(statementIdOf(packets[0]), 2u);
    EXPECT_EQ(toString(packets[1].payload), "\x03SELECT 1");
    EXPECT_FALSE(s.hook.holding());
}

TEST(MysqlHookStatements, ExecuteWaitsForTheOnlineServersPrepareOk) {
    Session s;
    s.login();
    s.client(concat({command(com::kStmtPrepare, "SELECT ?"), statementCommand(com::kStmtExecute, 40)}));
    s.target(prepareOk(2));
    EXPECT_TRUE(s.hook.holding());
    s.take();
    s.online(prepareOk(40));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(statementIdOf(packets[0]), 2u);
}

TEST(MysqlHookStatements, PreparesPairInOrderPastLongResultSetsAndErrors) {
    Session s;
    s.login();
    // A query with 300 rows (sequence ids wrap), a failed prepare, then two good ones.
    s.client(concat({command(0x03, "SELECT * FROM big"), command(com::kStmtPrepare, "bad"),
                     command(com::kStmtPrepare, "SELECT ?"), command(com::kStmtPrepare, "SELECT ?, ?")}));
    Bytes error = bytesOf({0xff, 0x28, 0x04});
    putBytes(error, toBytes("#42000syntax"));
    s.online(concat({resultSet(300), packet(1, error), prepareOk(11), prepareOk(12)}));
    s.target(concat({resultSet(300), packet(1, error), prepareOk(5), prepareOk(6)}));
    EXPECT_EQ(s.hook.targetStatementId(11), 5u);
    EXPECT_EQ(s.hook.targetStatementId(12), 6u);
    EXPECT_EQ(s.hook.stats().statementsMapped, 2u);
}

TEST(MysqlHookStatements, DeprecateEofResultSetsAreFollowed) {
    Session s;
    HandshakeResponse h = clientResponse();
    h.capabilities |= cap::kDeprecateEof;
    s.online(greeting(kOnlineScramble));
    s.client(handshake(h));
    s.target(greeting(kTargetScramble));
    s.online(ok(2));
    s.target(ok(2));
    s.take();
    // Without EOF packets: columns, rows, then an OK with the 0xFE header ends the result set.
    Bytes okEnd = bytesOf({0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00});
    const Bytes rows =
        concat({packet(1, bytesOf({0x01})), columnDef(2), packet(3, toBytes("\x01x")), packet(4, okEnd)});
    Bytes prepare = bytesOf({0x00});
    putU32(prepare, 3);
    putU16(prepare, 1);
    putU16(prepare, 1);
    putU8(prepare, 0);
    putU16(prepare, 0);
    s.client(concat({command(0x03, "SELECT x"), command(com::kStmtPrepare, "SELECT ?")}));
    s.online(concat({rows, packet(1, prepare), columnDef(2), columnDef(3)}));
    Bytes targetPrepare = prepare;
    targetPrepare[1] = std::byte{9};
    s.target(concat({rows, packet(1, targetPrepare), columnDef(2), columnDef(3)}));
    EXPECT_EQ(s.hook.targetStatementId(3), 9u);
}

TEST(MysqlHookStatements, IdsNeverPreparedInTheCaptureGoUnchanged) {
    Session s;
    s.login();
    s.client(statementCommand(com::kStmtExecute, 77));
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(statementIdOf(packets[0]), 77u);
    EXPECT_EQ(s.hook.stats().unmappedStatementIds, 1u);
    // MariaDB's "the statement just prepared" id is left alone.
    s.client(statementCommand(com::kStmtExecute, 0xFFFFFFFF));
    EXPECT_EQ(statementIdOf(s.take()[0]), 0xFFFFFFFFu);
    EXPECT_EQ(s.hook.stats().unmappedStatementIds, 1u);
}

TEST(MysqlHookStatements, ChangeUserIsRebuiltForTheTargetAndForgetsStatements) {
    Session s;
    s.login();
    s.client(command(com::kStmtPrepare, "SELECT ?"));
    s.online(prepareOk(7));
    s.target(prepareOk(1));
    ASSERT_TRUE(s.hook.targetStatementId(7));
    s.take();

    const std::uint64_t caps = clientResponse().capabilities;
    ChangeUser change{"report",
                      nativePasswordResponse("r3port", kOnlineScramble),
                      "sales",
                      45,
                      std::string("mysql_native_password"),
                      std::nullopt};
    s.client(concat({packet(0, buildChangeUser(change, caps)), command(0x03, "SELECT 2")}));
    auto packets = s.take();
    ASSERT_EQ(packets.size(), 1u);  // the query waits for the target's OK
    const auto sent = parseChangeUser(packets[0].payload, caps);
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->user, "report");
    EXPECT_EQ(sent->database, "sales");
    EXPECT_EQ(sent->authResponse, nativePasswordResponse("r3port", kTargetScramble));
    EXPECT_FALSE(s.hook.targetStatementId(7));
    const Bytes switched = toBytes("change-user-scramble");
    s.target(packet(1, buildAuthSwitchRequest({"mysql_native_password", switched})));
    packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].seq, 2);
    EXPECT_EQ(packets[0].payload, nativePasswordResponse("r3port", switched));
    s.target(ok(3));
    packets = s.take();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(toString(packets[0].payload), "\x03SELECT 2");
    EXPECT_EQ(s.hook.stats().changeUsersRewritten, 1u);
}

TEST(MysqlHookStatements, PreparesPairPastMultipleResultSetsLocalInfileAndCursors) {
    Session s;
    s.login();
    constexpr std::uint16_t kMoreResults = 0x0008;
    constexpr std::uint16_t kCursorExists = 0x0040;
    // CALL: a result set whose EOF says more follow, then the procedure's OK.
    const Bytes call = concat({packet(1, bytesOf({0x01})), columnDef(2), eof(3), packet(4, toBytes("\x01x")),
                               eof(5, 0x0002 | kMoreResults), ok(6)});
    // LOAD DATA LOCAL INFILE: the server asks for the file, the client sends it, then OK.
    const Bytes infileRequest = packet(1, toBytes("\xfb/tmp/rows.csv"));
    const Bytes infileDone = ok(4);
    // A cursor: the execute answers the columns only, the fetch the rows.
    Bytes cursorExecute = concat({packet(1, bytesOf({0x01})), columnDef(2), eof(3, 0x0002 | kCursorExists)});
    const Bytes fetched = concat({packet(1, bytesOf({0x00, 0x00, 0x07})), eof(2, 0x0002 | 0x0080)});
    s.client(concat(
        {command(0x03, "CALL p()"), command(0x03, "LOAD DATA LOCAL INFILE '/tmp/rows.csv' INTO TABLE t"),
         packet(2, toBytes("1,2\n")), packet(3, {}), command(com::kStmtPrepare, "SELECT a FROM t"),
         statementCommand(com::kStmtExecute, 20, "\x01\x01\x00\x00\x00"sv),
         statementCommand(com::kStmtFetch, 20, "\x0a\x00\x00\x00"sv),
         command(com::kStmtPrepare, "SELECT ?")}));
    s.online(concat({call, infileRequest, infileDone, prepareOk(20), cursorExecute, fetched, prepareOk(21)}));
    s.target(concat({call, infileRequest, infileDone, prepareOk(6), cursorExecute, fetched, prepareOk(7)}));
    EXPECT_EQ(s.hook.targetStatementId(20), 6u);
    EXPECT_EQ(s.hook.targetStatementId(21), 7u);
    const auto packets = s.take();
    ASSERT_EQ(packets.size(), 8u);
    EXPECT_EQ(toString(packets[2].payload), "1,2\n");  // the file's data goes through unchanged
    EXPECT_EQ(packets[2].seq, 2);
    EXPECT_EQ(statementIdOf(packets[5]), 6u);
    EXPECT_EQ(statementIdOf(packets[6]), 6u);
}

TEST(MysqlHookStatements, MariaDbMetadataCachingSkipsColumnDefinitions) {
    Session s;
    constexpr std::uint64_t kMariaDbServer = (kServerCaps & ~cap::kLongPassword) | cap::kMariaDbCacheMetadata;
    const std::uint64_t mariaDbClient = (kClientCaps & ~cap::kLongPassword) | cap::kMariaDbCacheMetadata;
    s.online(greeting(kOnlineScramble, "mysql_native_password", kMariaDbServer));
    s.client(handshake(clientResponse("app", mariaDbClient)));
    s.target(greeting(kTargetScramble, "mysql_native_password", kMariaDbServer));
    s.online(ok(2));
    s.target(ok(2));
    ASSERT_EQ(parseHandshakeResponse(s.take().at(0).payload)->capabilities, mariaDbClient);
    // An execute whose metadata the client cached: column count, "no metadata", then the rows.
    const Bytes cachedExecute =
        concat({packet(1, bytesOf({0x01, 0x00})), packet(2, bytesOf({0x00, 0x00, 0x05})), eof(3)});
    s.client(
        concat({statementCommand(com::kStmtExecute, 0xFFFFFFFF), command(com::kStmtPrepare, "SELECT ?")}));
    s.online(concat({cachedExecute, prepareOk(30)}));
    s.target(concat({cachedExecute, prepareOk(8)}));
    EXPECT_EQ(s.hook.targetStatementId(30), 8u);
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
