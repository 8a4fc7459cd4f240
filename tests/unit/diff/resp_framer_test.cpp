// Redis RESP framing: commands (arrays and inline), replies of every simple type, nesting,
// pipelining, splits at every byte and truncated bulk strings.

#include <gtest/gtest.h>

#include "helpers.h"
#include "tcpcopy/diff/digest.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

std::unique_ptr<Framer> replies(RecordingSink& sink, const FramingLimits& limits = kDefaults) {
    return makeFramer(Protocol::Resp, Role::Responses, limits, sink);
}
std::unique_ptr<Framer> commands(RecordingSink& sink) {
    return makeFramer(Protocol::Resp, Role::Requests, kDefaults, sink);
}

constexpr std::string_view kCommands =
    "*3\r\n$3\r\nset\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
    "PING\r\n"
    "\r\n"
    "*3\r\n$6\r\nCONFIG\r\n$3\r\nget\r\n$4\r\nsave\r\n"
    "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n";

constexpr std::string_view kReplies =
    "+OK\r\n"
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    ":42\r\n"
    "$5\r\nhello\r\n"
    "$-1\r\n"
    "*2\r\n*2\r\n:1\r\n$1\r\na\r\n$0\r\n\r\n"
    "*-1\r\n"
    "*0\r\n"
    "_\r\n"
    "#t\r\n"
    ",3.14\r\n"
    "(12345678901234567890\r\n"
    "!9\r\nERR oops!\r\n"
    "=8\r\ntxt:text\r\n"
    "%1\r\n+k\r\n:1\r\n"
    "~2\r\n+a\r\n+b\r\n"
    ">2\r\n+invalidate\r\n*0\r\n"
    "|1\r\n+ttl\r\n:3\r\n+attributed\r\n";

TEST(RespFramer, NamesPipelinedCommandsArrayAndInline) {
    RecordingSink sink;
    auto f = commands(sink);
    feedText(*f, kCommands);
    ASSERT_EQ(sink.messages.size(), 5u);
    EXPECT_EQ(sink.messages[0].method, "SET");
    EXPECT_EQ(sink.messages[1].method, "GET");
    EXPECT_EQ(sink.messages[2].method, "PING");
    EXPECT_EQ(sink.messages[3].method, "CONFIG GET");
    EXPECT_EQ(sink.messages[4].method, "SUBSCRIBE");
    EXPECT_EQ(sink.messages[0].begin, 0u);
    EXPECT_EQ(sink.messages[0].end, sink.messages[1].begin);
    EXPECT_EQ(sink.messages[2].end, sink.messages[2].begin + 6);
    EXPECT_EQ(sink.messages[3].begin, sink.messages[2].end + 2);  // the empty inline line is skipped
    ASSERT_EQ(sink.heads.size(), 5u);
    EXPECT_FALSE(sink.heads[3].traits.endsPairing);
    EXPECT_TRUE(sink.heads[4].traits.endsPairing);
    EXPECT_EQ(f->lost(), "");
}

TEST(RespFramer, ClientReplyOffEndsPairingButOnDoesNot) {
    RecordingSink sink;
    feedText(*commands(sink),
             "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n*3\r\n$6\r\nclient\r\n$5\r\nreply\r\n$"
             "4\r\nskip\r\n");
    ASSERT_EQ(sink.heads.size(), 2u);
    EXPECT_EQ(sink.messages[0].method, "CLIENT REPLY");
    EXPECT_FALSE(sink.heads[0].traits.endsPairing);
    EXPECT_TRUE(sink.heads[1].traits.endsPairing);
}

TEST(RespFramer, FramesEveryReplyTypeAndSkipsPushes) {
    RecordingSink sink;
    auto f = replies(sink);
    feedText(*f, kReplies);
    EXPECT_EQ(f->lost(), "");
    std::vector<std::string> kinds;
    for (const Message& m : sink.messages) kinds.push_back(m.kind);
    const std::vector<std::string> expect = {
        "simple",  "error WRONGTYPE", "integer", "bulk",      "null",     "array", "null", "array",    "null",
        "boolean", "double",          "bignum",  "error ERR", "verbatim", "map",   "set",  "attribute"};
    EXPECT_EQ(kinds, expect);
    EXPECT_EQ(sink.messages[3].bodyPrefix, "$5\r\nhello\r\n");
    EXPECT_EQ(sink.messages.back().end, kReplies.size());
    for (std::size_t i = 0; i < sink.messages.size(); ++i) EXPECT_EQ(sink.messages[i].index, i);
}

TEST(RespFramer, RepliesSplitAtEveryByteFrameTheSame) {
    RecordingSink whole;
    feedText(*replies(whole), kReplies);
    for (std::size_t split = 1; split < kReplies.size(); ++split) {
        RecordingSink sink;
        auto f = replies(sink);
        f->feed(Chunk{0, asBytes(kReplies.substr(0, split)), split, 0ns});
        f->feed(Chunk{split, asBytes(kReplies.substr(split)), kReplies.size() - split, 0ns});
        ASSERT_EQ(sink.messages.size(), whole.messages.size()) << "split at " << split;
        for (std::size_t i = 0; i < sink.messages.size(); ++i) {
            EXPECT_EQ(sink.messages[i].bodyDigest, whole.messages[i].bodyDigest) << split << " " << i;
            EXPECT_EQ(sink.messages[i].end, whole.messages[i].end);
            EXPECT_EQ(sink.messages[i].kind, whole.messages[i].kind);
        }
    }
}

TEST(RespFramer, TruncatedBulkStringsKeepTheFraming) {
    const std::string big(4000, 'x');
    const std::string text = "$4000\r\n" + big + "\r\n+OK\r\n";
    RecordingSink sink;
    auto f = replies(sink);
    feedTruncated(*f, std::string_view(text).substr(0, 4009), 1448, 64);
    feedText(*f, std::string_view(text).substr(4009), std::string_view::npos, 4009);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].kind, "bulk");
    EXPECT_EQ(sink.messages[0].size(), 4009u);
    EXPECT_FALSE(sink.messages[0].bodyKnown);
    EXPECT_EQ(sink.messages[1].kind, "simple");
    EXPECT_TRUE(sink.messages[1].bodyKnown);
    EXPECT_EQ(f->lost(), "");
}

TEST(RespFramer, GapInALineLosesTheStream) {
    RecordingSink sink;
    auto f = replies(sink);
    f->feed(Chunk{0, asBytes("*2\r\n:1"), 10, 0ns});
    EXPECT_EQ(f->lost(), "payload not captured where a RESP line is");
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_TRUE(sink.messages[0].cut);
}

TEST(RespFramer, MalformedRepliesLoseTheStream) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"hello\r\n", "not a RESP reply"},
        {"*1\r\nx\r\n", "not a RESP type byte inside an aggregate"},
        {"$abc\r\n", "invalid RESP bulk length"},
        {"$-2\r\n", "invalid RESP bulk length"},
        {"$600000000\r\n", "invalid RESP bulk length"},
        {"*-5\r\n", "invalid RESP aggregate length"},
        {"$?\r\n", "RESP3 streamed strings are not supported"},
        {"*?\r\n", "RESP3 streamed aggregates are not supported"},
        {"$2\r\nabc\r\n", "bulk string longer than its length"},
    };
    for (const auto& [text, reason] : cases) {
        RecordingSink sink;
        auto f = replies(sink);
        feedText(*f, text);
        EXPECT_EQ(f->lost(), reason) << text;
    }
}

TEST(RespFramer, BoundsNestingAndLineLength) {
    FramingLimits limits;
    limits.maxRespDepth = 3;
    limits.maxLine = 16;
    RecordingSink sink;
    auto f = replies(sink, limits);
    feedText(*f, "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    EXPECT_EQ(f->lost(), "RESP values nested too deeply");
    RecordingSink sink2;
    auto g = replies(sink2, limits);
    feedText(*g, "+" + std::string(40, 'a') + "\r\n", 5);
    EXPECT_EQ(g->lost(), "RESP line too long");
}

TEST(RespFramer, ReplyCutByTheEndOfTheStream) {
    RecordingSink sink;
    auto f = replies(sink);
    feedText(*f, "+OK\r\n*3\r\n:1\r\n");
    f->finish(1s);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_FALSE(sink.messages[0].cut);
    EXPECT_TRUE(sink.messages[1].cut);
}

}  // namespace
}  // namespace tcpcopy::diff::testing
