// Protocol detection from the first client bytes, and generic framing by direction changes.

#include <gtest/gtest.h>

#include "helpers.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

TEST(DetectProtocol, RecognisesHttpAndRespAndWaitsForEnoughBytes) {
    EXPECT_EQ(detectProtocol("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false), Protocol::Http);
    EXPECT_EQ(detectProtocol("OPTIONS * HTTP/1.0\n", false), Protocol::Http);
    EXPECT_EQ(detectProtocol("*2\r\n$3\r\nGET\r\n", false), Protocol::Resp);
    EXPECT_EQ(detectProtocol("GET / HT", false), std::nullopt);
    EXPECT_EQ(detectProtocol("GET / HT", true), Protocol::Generic);
    EXPECT_EQ(detectProtocol("*12", false), std::nullopt);
    EXPECT_EQ(detectProtocol("*12", true), Protocol::Generic);
    EXPECT_EQ(detectProtocol("", false), std::nullopt);
    EXPECT_EQ(detectProtocol("", true), Protocol::Generic);
    EXPECT_EQ(detectProtocol("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false), Protocol::Generic);
    EXPECT_EQ(detectProtocol("\x16\x03\x01\x02\x00", false), Protocol::Generic);  // TLS
    EXPECT_EQ(detectProtocol("get / HTTP/1.1\r\n", false), Protocol::Generic);
    EXPECT_EQ(detectProtocol("PING\r\n", false), Protocol::Generic);  // inline redis: choose resp explicitly
    EXPECT_EQ(detectProtocol("GET /" + std::string(100, 'a'), false, 64), Protocol::Generic);
}

TEST(DetectProtocol, AMethodOfTwentyLettersIsGenericCutOrWhole) {
    // fuzz_framers: whole, this was HTTP; cut after the letters, generic.
    const std::string_view line = "STWWWWWWWWWWWWWWWWWW /up HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(detectProtocol(line, true), Protocol::Generic);
    EXPECT_EQ(detectProtocol(line.substr(0, 20), false), Protocol::Generic);
    EXPECT_EQ(detectProtocol("STWWWWWWWWWWWWWWWWW /up HTTP/1.1\r\n", true), Protocol::Http);  // 19
}

TEST(ProtocolNames, RoundTrip) {
    for (Protocol p : {Protocol::Auto, Protocol::Http, Protocol::Resp, Protocol::Generic}) {
        EXPECT_EQ(parseProtocol(protocolName(p)), p);
    }
    EXPECT_EQ(parseProtocol("redis"), Protocol::Resp);
    EXPECT_EQ(parseProtocol("HTTP"), std::nullopt);
}

TEST(GenericFramer, AMessageIsTheBytesBetweenTwoTurns) {
    RecordingSink sink;
    auto f = makeFramer(Protocol::Generic, Role::Responses, kDefaults, sink);
    std::uint64_t at = feedText(*f, "ab", 1, 0, 1ms);
    at = feedText(*f, "c", 1, at, 2ms);
    f->turn(3ms);
    f->turn(4ms);  // nothing new: no empty message
    at = feedText(*f, "de", std::string_view::npos, at, 5ms);
    f->feed(Chunk{at, asBytes("f"), 10, 6ms});
    f->finish(7ms);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].bodyPrefix, "abc");
    EXPECT_EQ(sink.messages[0].first, 1ms);
    EXPECT_EQ(sink.messages[0].last, 2ms);
    EXPECT_EQ(sink.messages[0].kind, "data");
    EXPECT_EQ(sink.messages[1].bodySize, 12u);
    EXPECT_FALSE(sink.messages[1].bodyKnown);
    EXPECT_EQ(sink.messages[1].begin, 3u);
    EXPECT_EQ(sink.messages[1].end, 15u);
}

TEST(GenericFramer, AServerThatSpeaksFirstGivesAnEmptyGreetingRequest) {
    RecordingSink sink;
    auto f = makeFramer(Protocol::Generic, Role::Requests, kDefaults, sink);
    f->turn(1ms);  // the server's greeting came first
    feedText(*f, "HELO x\r\n");
    f->turn(2ms);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].size(), 0u);
    EXPECT_EQ(sink.messages[1].bodyPrefix, "HELO x\r\n");
    ASSERT_EQ(sink.heads.size(), 2u);
    EXPECT_EQ(sink.heads[1].begin, 0u);
}

}  // namespace
}  // namespace tcpcopy::diff::testing
