// The pieces the MySQL hooks of a rule share for sessions captured mid-stream: the login option,
// the memory of logins, the search for a command boundary, and the engine's side of a refusal.

#include "tcpcopy/protocol/mysql_midstream.h"

#include <gtest/gtest.h>

#include "hook_session.h"
#include "tcpcopy/protocol/engine_hook.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

TEST(MidstreamLoginOption, UserAloneOrWithASchema) {
    const auto user = parseMidstreamLogin("app");
    ASSERT_TRUE(user.login);
    EXPECT_EQ(user.login->user, "app");
    EXPECT_FALSE(user.login->schema);
    const auto both = parseMidstreamLogin("app/shop");
    ASSERT_TRUE(both.login);
    EXPECT_EQ(both.login->user, "app");
    EXPECT_EQ(both.login->schema, "shop");
    EXPECT_FALSE(both.login->capabilities);
}

TEST(MidstreamLoginOption, RejectsWhatCannotBeALogin) {
    for (const std::string_view bad :
         {""sv, "/shop"sv, "app/"sv, "ap\tp"sv, std::string_view("app/sh\0op", 9)}) {
        const auto parsed = parseMidstreamLogin(bad);
        EXPECT_FALSE(parsed.login) << bad;
        EXPECT_FALSE(parsed.error.empty()) << bad;
        EXPECT_EQ(parsed.error.find('\n'), std::string::npos);
    }
    EXPECT_NE(parseMidstreamLogin("").error.find("USER[/SCHEMA]"), std::string::npos);
}

TEST(LoginMemory, KeepsTheLastLoginPerClientAndForgetsTheOldestBeyondItsBound) {
    LoginMemory memory(2);
    memory.remember("192.0.2.1", {"a", std::nullopt, {}, {}});
    memory.remember("192.0.2.2", {"b", std::nullopt, {}, {}});
    memory.remember("192.0.2.1", {"a2", "s", {}, {}});  // now the most recent
    memory.remember("192.0.2.3", {"c", std::nullopt, {}, {}});
    EXPECT_EQ(memory.size(), 2u);
    EXPECT_EQ(memory.find("192.0.2.2"), nullptr);
    ASSERT_NE(memory.find("192.0.2.1"), nullptr);
    EXPECT_EQ(memory.find("192.0.2.1")->user, "a2");
    EXPECT_EQ(memory.find("192.0.2.1")->schema, "s");
    EXPECT_EQ(memory.find("192.0.2.3")->user, "c");
}

TEST(CommandStart, NeedsAPlausibleHeaderAndAPlausibleNextOne) {
    const Bytes query = command(0x03, "SELECT 1");
    EXPECT_EQ(commandStartAt(query, 0), CommandStart::kYes);
    EXPECT_EQ(commandStartAt(ByteView(query).first(7), 0), CommandStart::kNeedMore);
    EXPECT_EQ(commandStartAt(packet(1, toBytes("\x03SELECT 1")), 0), CommandStart::kNo);  // sequence id
    EXPECT_EQ(commandStartAt(packet(0, toBytes("\x42SELECT 1")), 0), CommandStart::kNo);  // no such command
    EXPECT_EQ(commandStartAt(statementCommand(com::kStmtClose, 1, "x"), 0), CommandStart::kNo);  // length
    EXPECT_EQ(commandStartAt(concat({query, toBytes("garbage")}), 0), CommandStart::kNo);
    EXPECT_EQ(commandStartAt(concat({query, statementCommand(com::kStmtClose, 1)}), 0), CommandStart::kYes);
    // LOCAL INFILE data after a query: sequence id 2.
    EXPECT_EQ(commandStartAt(concat({query, packet(2, toBytes("1,2\n"))}), 0), CommandStart::kYes);
}

TEST(CommandFinder, FindsTheSameBoundaryWhateverThePieces) {
    const Bytes cut = toBytes("...ERE name = 'x' \x05\x00\x00 LIMIT 10");
    const Bytes stream = concat({cut, command(0x03, "SELECT 2"), command(0x0e)});
    for (const std::size_t piece : {std::size_t{1}, std::size_t{3}, stream.size()}) {
        CommandFinder finder;
        std::optional<Bytes> found;
        for (std::size_t i = 0; i < stream.size() && !found; i += piece) {
            found = finder.feed(ByteView(stream).subspan(i, std::min(piece, stream.size() - i)));
            if (found) {
                putBytes(*found, ByteView(stream).subspan(std::min(i + piece, stream.size())));
            }
        }
        ASSERT_TRUE(found) << piece;
        EXPECT_EQ(*found, concat({command(0x03, "SELECT 2"), command(0x0e)})) << piece;
        EXPECT_EQ(finder.skipped(), cut.size()) << piece;
    }
}

TEST(CommandFinder, AnIncompleteLookalikeDoesNotHideALaterCommand) {
    // "\xff\xff\x00\x00\x03": a COM_QUERY header claiming 64 KiB, inside the cut.
    const Bytes cut = toBytes(std::string_view("tail \xff\xff\x00\x00\x03 more", 15));
    CommandFinder finder;
    const auto found = finder.feed(concat({cut, command(0x03, "SELECT 3")}));
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, command(0x03, "SELECT 3"));
}

std::shared_ptr<const Credentials> appCredentials() {
    auto parsed = Credentials::parse("app s3cret\n", "test");
    auto c = std::make_shared<Credentials>();
    *c = parsed.value();
    return c;
}

net::FlowKey flow() {
    return {{*net::Ipv4Addr::parse("192.0.2.7"), net::Port(40000)},
            {*net::Ipv4Addr::parse("198.18.0.2"), net::Port(3306)}};
}

TEST(EngineHookMidstream, WithoutALoginTheEngineIsToldMidstreamAndTheLogSaysWhichOptionHelps) {
    std::vector<std::pair<session::HookRefusal, std::string>> reported;
    const RefusalReport report = [&](const net::FlowKey&, session::HookRefusal r, const std::string& detail) {
        reported.emplace_back(r, detail);
    };
    EngineHookFactory factory(std::make_unique<MysqlHookFactory>(appCredentials()), report);
    auto hook = factory.create(flow());
    EXPECT_FALSE(hook->startMidstream());
    EXPECT_EQ(hook->refused(), session::HookRefusal::Midstream);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_NE(reported[0].second.find("--mysql-midstream-login"), std::string::npos);
    EXPECT_NE(reported[0].second.find("192.0.2.7"), std::string::npos);
}

TEST(EngineHookMidstream, AKnownLoginStartsAndAnUnknownUserIsCountedAsSuch) {
    EngineHookFactory good(
        std::make_unique<MysqlHookFactory>(appCredentials(), MidstreamLogin{"app", "shop", {}, {}}), nullptr);
    auto hook = good.create(flow());
    EXPECT_TRUE(hook->startMidstream());
    EXPECT_FALSE(hook->refused());

    std::vector<session::HookRefusal> reported;
    const RefusalReport report = [&](const net::FlowKey&, session::HookRefusal r, const std::string&) {
        reported.push_back(r);
    };
    EngineHookFactory unknown(
        std::make_unique<MysqlHookFactory>(appCredentials(), MidstreamLogin{"root", std::nullopt, {}, {}}),
        report);
    auto refused = unknown.create(flow());
    EXPECT_TRUE(refused->startMidstream());  // the engine opens the connection, then counts the refusal
    EXPECT_EQ(refused->refused(), session::HookRefusal::UnknownUser);
    std::vector<std::byte> out;
    EXPECT_EQ(refused->rewriteClient(command(0x03, "SELECT 1"), out).status,
              session::RewriteResult::Status::Refuse);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(reported, std::vector<session::HookRefusal>{session::HookRefusal::UnknownUser});
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
