// HTTP/1.x framing: where each request and response ends, however the bytes are split, with
// gaps where intercept --payload N did not forward the payload.

#include <gtest/gtest.h>

#include "helpers.h"
#include "tcpcopy/diff/digest.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

// The framer keeps a reference to `limits`: it must outlive it.
std::unique_ptr<Framer> responses(RecordingSink& sink, const FramingLimits& limits = kDefaults) {
    return makeFramer(Protocol::Http, Role::Responses, limits, sink);
}

std::unique_ptr<Framer> requests(RecordingSink& sink) {
    return makeFramer(Protocol::Http, Role::Requests, kDefaults, sink);
}

constexpr std::string_view kPipelined =
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    "POST /api/users/42 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";

constexpr std::string_view kPipelinedAnswers =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc"
    "HTTP/1.1 201 Created\r\nTransfer-Encoding: "
    "chunked\r\n\r\n4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";

constexpr std::string_view kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    "7\r\nMozilla\r\n9\r\nDeveloper\r\n7\r\nNetwork\r\n0\r\nExpires: now\r\n\r\n";

TEST(HttpFramer, FramesPipelinedRequestsWithTheirOffsetsAndHeads) {
    RecordingSink sink;
    auto f = requests(sink);
    feedText(*f, kPipelined);
    ASSERT_EQ(sink.messages.size(), 3u);
    EXPECT_EQ(sink.messages[0].method, "GET");
    EXPECT_EQ(sink.messages[0].target, "/a");
    EXPECT_EQ(sink.messages[1].method, "POST");
    EXPECT_EQ(sink.messages[1].bodySize, 5u);
    EXPECT_EQ(sink.messages[1].bodyPrefix, "hello");
    EXPECT_EQ(sink.messages[2].method, "HEAD");
    EXPECT_EQ(sink.messages[0].begin, 0u);
    EXPECT_EQ(sink.messages[0].end, sink.messages[1].begin);
    EXPECT_EQ(sink.messages[1].end, sink.messages[2].begin);
    EXPECT_EQ(sink.messages[2].end, kPipelined.size());
    ASSERT_EQ(sink.heads.size(), 3u);
    EXPECT_TRUE(sink.heads[2].traits.head);
    EXPECT_FALSE(sink.heads[1].traits.head);
    EXPECT_EQ(sink.heads[1].begin, sink.messages[1].begin);
    EXPECT_EQ(f->lost(), "");
}

TEST(HttpFramer, FramesPipelinedResponsesAndKnowsHeadHasNoBody) {
    RecordingSink sink;
    sink.traits[2].head = true;
    auto f = responses(sink);
    feedText(*f, kPipelinedAnswers);
    ASSERT_EQ(sink.messages.size(), 3u);
    EXPECT_EQ(sink.messages[0].status, 200);
    EXPECT_EQ(sink.messages[0].kind, "200");
    EXPECT_EQ(sink.messages[0].bodyPrefix, "abc");
    EXPECT_EQ(sink.messages[1].status, 201);
    EXPECT_EQ(sink.messages[1].bodySize, 9u);
    EXPECT_EQ(sink.messages[1].bodyPrefix, "wikipedia");
    EXPECT_EQ(sink.messages[1].bodyDigest, digestOf(std::string_view("wikipedia")));
    EXPECT_EQ(sink.messages[2].bodySize, 0u);  // HEAD: Content-Length describes the GET
    EXPECT_EQ(sink.messages[2].end, kPipelinedAnswers.size());
    ASSERT_EQ(sink.messages[0].headers.size(), 2u);
    EXPECT_EQ(sink.messages[0].headers[1].name, "content-type");
    EXPECT_EQ(sink.messages[0].headers[1].value, "text/plain");
}

TEST(HttpFramer, ChunkedBodySplitAtEveryByteFramesTheSame) {
    RecordingSink whole;
    feedText(*responses(whole), kChunked);
    ASSERT_EQ(whole.messages.size(), 1u);
    const Message& expect = whole.messages[0];
    EXPECT_EQ(expect.bodyPrefix, "MozillaDeveloperNetwork");
    EXPECT_EQ(expect.end, kChunked.size());
    for (std::size_t split = 1; split < kChunked.size(); ++split) {
        RecordingSink sink;
        auto f = responses(sink);
        f->feed(Chunk{0, asBytes(kChunked.substr(0, split)), split, 0ns});
        f->feed(Chunk{split, asBytes(kChunked.substr(split)), kChunked.size() - split, 0ns});
        ASSERT_EQ(sink.messages.size(), 1u) << "split at " << split;
        EXPECT_EQ(sink.messages[0].bodyDigest, expect.bodyDigest) << "split at " << split;
        EXPECT_EQ(sink.messages[0].bodySize, 23u);
        EXPECT_EQ(sink.messages[0].end, expect.end);
    }
    RecordingSink bytewise;
    feedText(*responses(bytewise), kChunked, 1);
    ASSERT_EQ(bytewise.messages.size(), 1u);
    EXPECT_EQ(bytewise.messages[0].bodyDigest, expect.bodyDigest);
    EXPECT_EQ(bytewise.messages[0].sample, std::string(kChunked));
}

TEST(HttpFramer, InterimResponsesAreNotEmitted) {
    RecordingSink sink;
    feedText(*responses(sink),
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"
             "HTTP/1.1 304 Not Modified\r\n\r\n");
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].status, 204);
    EXPECT_EQ(sink.messages[0].begin, 25u);  // after the 100
    EXPECT_EQ(sink.messages[0].index, 0u);
    EXPECT_EQ(sink.messages[1].status, 304);
    EXPECT_EQ(sink.messages[1].index, 1u);
}

TEST(HttpFramer, Http10BodyIsReadUntilTheConnectionCloses) {
    RecordingSink sink;
    auto f = responses(sink);
    const std::uint64_t end = feedText(*f, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody that ends ", 7);
    feedText(*f, "at close", std::string_view::npos, end);
    EXPECT_TRUE(sink.messages.empty());
    f->finish(1s);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0].bodyPrefix, "body that ends at close");
    EXPECT_FALSE(sink.messages[0].cut);
    EXPECT_TRUE(sink.messages[0].bodyKnown);
}

TEST(HttpFramer, ResponseCutByTheEndOfTheStreamIsEmittedCut) {
    RecordingSink sink;
    auto f = responses(sink);
    feedText(*f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    f->finish(1s);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_TRUE(sink.messages[0].cut);
    EXPECT_FALSE(sink.messages[0].bodyKnown);
    EXPECT_EQ(sink.messages[0].bodySize, 3u);
}

TEST(HttpFramer, TruncatedPayloadsKeepTheFramingOfAContentLengthBody) {
    std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
    const std::size_t headerSize = response.size();
    for (int i = 0; i < 5000; ++i) response += static_cast<char>('a' + i % 26);
    response += "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
    RecordingSink sink;
    auto f = responses(sink);
    // 1448-byte segments of which intercept forwarded the first 100 bytes.
    feedTruncated(*f, response.substr(0, headerSize + 5000), 1448, 100);
    feedText(*f, std::string_view(response).substr(headerSize + 5000), std::string_view::npos,
             headerSize + 5000);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].bodySize, 5000u);
    EXPECT_FALSE(sink.messages[0].bodyKnown);
    EXPECT_TRUE(sink.messages[0].gaps);
    EXPECT_EQ(sink.messages[0].bodyPrefix, response.substr(headerSize, 100 - headerSize));
    EXPECT_TRUE(sink.messages[0].sampleGap);
    EXPECT_EQ(sink.messages[1].status, 404);
    EXPECT_TRUE(sink.messages[1].bodyKnown);
    EXPECT_EQ(f->lost(), "");
}

TEST(HttpFramer, GapInsideTheHeaderLosesTheStream) {
    RecordingSink sink;
    auto f = responses(sink);
    const std::string_view text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    feedTruncated(*f, text, 30, 20);  // "HTTP/1.1 200 OK\r\nCon", then a gap
    EXPECT_NE(f->lost(), "");
    ASSERT_EQ(sink.messages.size(), 1u);  // the response is emitted cut: its status is known
    EXPECT_TRUE(sink.messages[0].cut);
    EXPECT_EQ(sink.messages[0].status, 200);
    f->finish(1s);
    EXPECT_EQ(sink.messages.size(), 1u);
}

TEST(HttpFramer, GapOverAChunkSizeLosesTheStreamButNotOneInsideChunkData) {
    const std::string body(3000, 'z');
    std::string chunked =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n" + body + "\r\n0\r\n\r\n";
    {
        RecordingSink sink;
        auto f = responses(sink);
        const std::size_t head = chunked.find("bb8") + 5;
        feedText(*f, std::string_view(chunked).substr(0, head + 10));
        f->feed(Chunk{head + 10, {}, 2000, 0ns});  // inside the chunk's data
        feedText(*f, std::string_view(chunked).substr(head + 2010), std::string_view::npos, head + 2010);
        ASSERT_EQ(sink.messages.size(), 1u);
        EXPECT_EQ(sink.messages[0].bodySize, 3000u);
        EXPECT_FALSE(sink.messages[0].bodyKnown);
        EXPECT_EQ(f->lost(), "");
    }
    {
        RecordingSink sink;
        auto f = responses(sink);
        const std::size_t size = chunked.find("bb8");
        feedText(*f, std::string_view(chunked).substr(0, size));
        f->feed(Chunk{size, {}, 3, 0ns});
        EXPECT_NE(f->lost(), "");
        ASSERT_EQ(sink.messages.size(), 1u);
        EXPECT_TRUE(sink.messages[0].cut);
    }
}

TEST(HttpFramer, MalformedInputLosesTheStreamWithAReason) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"SSH-2.0-OpenSSH\r\n", "not an HTTP/1.x status line"},
        {"HTTP/1.1 2x0 OK\r\n", "not an HTTP/1.x status line"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
         "chunk data longer than its size"},
    };
    for (const auto& [text, reason] : cases) {
        RecordingSink sink;
        auto f = responses(sink);
        feedText(*f, text);
        EXPECT_EQ(f->lost(), reason) << text;
        f->feed(Chunk{text.size(), asBytes("HTTP/1.1 200 OK\r\n\r\n"), 19, 0ns});  // nothing after a loss
        for (const Message& m : sink.messages) EXPECT_TRUE(m.cut) << text;
    }
}

TEST(HttpFramer, BoundsTheHeaderBlockAndTheStartLine) {
    FramingLimits limits;
    limits.maxLine = 64;
    limits.maxHeaderBytes = 200;
    RecordingSink sink;
    auto f = responses(sink, limits);
    feedText(*f, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'v') + "\r\n\r\n", 7);
    EXPECT_EQ(f->lost(), "header block too large");
    RecordingSink sink2;
    auto g = responses(sink2, limits);
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 20; ++i) many += "X-H: 0123456789\r\n";
    feedText(*g, many);
    EXPECT_EQ(g->lost(), "header block too large");
}

TEST(HttpFramer, KeepsHeadersBoundedAndFoldsContinuationLines) {
    FramingLimits limits;
    limits.maxHeaders = 2;
    limits.maxHeaderValue = 10;
    RecordingSink sink;
    auto f = responses(sink, limits);
    feedText(*f,
             "HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\nX-Long: 0123456789abcdef\r\nX-C: 3\r\nContent-Length: "
             "0\r\n\r\n");
    ASSERT_EQ(sink.messages.size(), 1u);
    const Message& m = sink.messages[0];
    ASSERT_EQ(m.headers.size(), 2u);
    EXPECT_EQ(m.headers[0].value, "one two");
    EXPECT_EQ(m.headers[1].value,
              "0123456789..." + std::string("#") + digestHex(digestOf(std::string_view("0123456789abcdef"))));
    EXPECT_EQ(m.headersDropped, 2u);
}

TEST(HttpFramer, SwitchingProtocolsEndsTheHttpStream) {
    RecordingSink sink;
    auto f = responses(sink);
    feedText(*f, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0].status, 101);
    EXPECT_FALSE(sink.messages[0].cut);
    EXPECT_EQ(f->lost(), "the connection switched protocols (101, or 2xx to CONNECT)");
}

TEST(HttpFramer, RequestFramerSkipsLeadingEmptyLinesAndReadsChunkedBodies) {
    RecordingSink sink;
    auto f = requests(sink);
    feedText(*f,
             "\r\nPUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /y "
             "HTTP/1.0\r\n\r\n",
             3);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].begin, 2u);
    EXPECT_EQ(sink.messages[0].bodyPrefix, "abc");
    EXPECT_EQ(sink.messages[1].target, "/y");
    RecordingSink bad;
    auto g = requests(bad);
    feedText(*g, "HELLO\r\n");
    EXPECT_EQ(g->lost(), "not an HTTP/1.x request line");
    EXPECT_TRUE(bad.messages.empty());
}

}  // namespace
}  // namespace tcpcopy::diff::testing
