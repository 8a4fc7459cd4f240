// The comparator's rules: HTTP status, headers, body; RESP type and value; generic bytes;
// missing and cut answers; latency.

#include "tcpcopy/diff/compare.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

// Frames one response (or reply) from its wire text.
Message frame(Protocol protocol, std::string_view text, std::size_t segment = 0, std::size_t known = 0) {
    RecordingSink sink;
    auto f = makeFramer(protocol, Role::Responses, kDefaults, sink);
    if (segment != 0) {
        feedTruncated(*f, text, segment, known);
    } else {
        feedText(*f, text);
    }
    f->finish(0ns);
    EXPECT_EQ(sink.messages.size(), 1u) << text;
    return sink.messages.empty() ? Message{} : sink.messages[0];
}

Exchange exchange(Protocol protocol, std::string_view online, std::optional<std::string_view> target,
                  std::string method = "GET") {
    Exchange e;
    e.protocol = protocol;
    e.request.method = std::move(method);
    e.request.end = 10;
    e.online = frame(protocol, online);
    if (target) e.target = frame(protocol, *target);
    return e;
}

std::vector<std::string> details(const Verdict& v) {
    std::vector<std::string> out;
    for (const auto& d : v.differences) out.push_back(d.detail);
    return out;
}

const std::string kOk =
    "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: nginx/1.22.1\r\n"
    "Content-Type: text/html\r\nETag: \"abc\"\r\nSet-Cookie: sid=111; Path=/\r\n"
    "X-Request-Id: 1\r\nContent-Length: 11\r\n\r\nhello world";

TEST(Comparator, EqualHttpAnswersMatchDespiteVolatileHeaders) {
    std::string target = kOk;
    target.replace(target.find("00:00:00"), 8, "11:22:33");
    target.replace(target.find("\"abc\""), 5, "\"xyz\"");
    target.replace(target.find("sid=111"), 7, "sid=999");
    target.replace(target.find("X-Request-Id: 1"), 15, "X-Request-Id: 2");
    target.replace(target.find("nginx/1.22.1"), 12, "nginx/1.24.0");
    const Verdict v = Comparator().compare(exchange(Protocol::Http, kOk, target));
    EXPECT_EQ(v.outcome, Outcome::Match) << ::testing::PrintToString(details(v));
    EXPECT_FALSE(v.partial);
}

TEST(Comparator, HttpDifferencesInRuleOrder) {
    std::string target = kOk;
    target.replace(target.find("200 OK"), 6, "500 Internal Server Error");
    target.replace(target.find("text/html"), 9, "text/plain");
    target.replace(target.find("sid=111"), 3, "tok");
    target.replace(target.find("hello world"), 11, "hello World");
    const Verdict v = Comparator().compare(exchange(Protocol::Http, kOk, target));
    EXPECT_EQ(v.outcome, Outcome::Differ);
    EXPECT_EQ(details(v),
              (std::vector<std::string>{"status 200 -> 500", "header content-type: text/html -> text/plain",
                                        "header set-cookie: sid=... -> tok=...",
                                        "body differs at byte 6 (11 bytes -> 11 bytes)"}));
    EXPECT_EQ(v.differences[0].category, Category::Status);
    EXPECT_EQ(v.differences[3].category, Category::Body);
}

TEST(Comparator, SelectedHeadersOnlyAndAbsentHeaders) {
    std::string target = kOk;
    target.replace(target.find("Content-Type: text/html\r\n"), 25, "X-New: 1\r\n");
    CompareRules rules;
    rules.headers = {"X-New"};
    EXPECT_EQ(details(Comparator(rules).compare(exchange(Protocol::Http, kOk, target))),
              (std::vector<std::string>{"header x-new: (absent) -> 1"}));
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Http, kOk, target))),
              (std::vector<std::string>{"header content-type: text/html -> (absent)",
                                        "header x-new: (absent) -> 1"}));
}

TEST(Comparator, BodySizeWithinATolerance) {
    const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a');
    const std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 109\r\n\r\n" + std::string(109, 'b');
    CompareRules rules;
    rules.body = BodyRule::Size;
    rules.sizeTolerancePercent = 10;
    EXPECT_EQ(Comparator(rules).compare(exchange(Protocol::Http, a, b)).outcome, Outcome::Match);
    rules.sizeTolerancePercent = 5;
    const Verdict v = Comparator(rules).compare(exchange(Protocol::Http, a, b));
    EXPECT_EQ(details(v), (std::vector<std::string>{"size 100 bytes -> 109 bytes (tolerance 5%)"}));
    EXPECT_EQ(v.differences[0].category, Category::Size);
    rules.body = BodyRule::None;
    EXPECT_EQ(Comparator(rules).compare(exchange(Protocol::Http, a, b)).outcome, Outcome::Match);
}

TEST(Comparator, BodiesDifferingBeyondTheKeptBytes) {
    const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n" + std::string(6000, 'a');
    std::string b = a;
    b.back() = 'b';
    EXPECT_EQ(
        details(Comparator().compare(exchange(Protocol::Http, a, b))),
        (std::vector<std::string>{"body differs after the first 4096 bytes (6000 bytes -> 6000 bytes)"}));
    const std::string shorter = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\naaa";
    const std::string longer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\naaaaa";
    const Verdict v = Comparator().compare(exchange(Protocol::Http, shorter, longer));
    EXPECT_EQ(details(v), (std::vector<std::string>{"body differs at byte 3 (3 bytes -> 5 bytes)"}));
    EXPECT_EQ(v.differences[0].category, Category::Size);
}

TEST(Comparator, PartlyCapturedBodiesMatchAsFarAsSeen) {
    const std::string body(5000, 'q');
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body;
    Exchange e = exchange(Protocol::Http, text, std::nullopt);
    e.target = frame(Protocol::Http, text, 1448, 200);
    Verdict v = Comparator().compare(e);
    EXPECT_EQ(v.outcome, Outcome::Match);
    EXPECT_TRUE(v.partial);
    std::string other = text;
    other[100] = 'X';
    e.target = frame(Protocol::Http, other, 1448, 200);
    v = Comparator().compare(e);
    EXPECT_EQ(details(v), (std::vector<std::string>{"body differs at byte 59 (5000 bytes -> 5000 bytes)"}));
    const std::string longer = "HTTP/1.1 200 OK\r\nContent-Length: 5001\r\n\r\n" + body + "q";
    e.target = frame(Protocol::Http, longer, 1448, 200);
    EXPECT_EQ(details(Comparator().compare(e)), (std::vector<std::string>{"size 5000 bytes -> 5001 bytes"}));
}

TEST(Comparator, RespTypeThenValueExceptForVolatileCommands) {
    EXPECT_EQ(Comparator().compare(exchange(Protocol::Resp, "$3\r\nabc\r\n", "$3\r\nabc\r\n")).outcome,
              Outcome::Match);
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Resp, "$3\r\nabc\r\n", "$3\r\nabd\r\n"))),
              (std::vector<std::string>{"value differs at byte 6 (9 bytes -> 9 bytes)"}));
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Resp, "$3\r\nabc\r\n", "-ERR no\r\n"))),
              (std::vector<std::string>{"reply bulk -> error ERR"}));
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Resp, "-ERR x\r\n", "-WRONGTYPE x\r\n"))),
              (std::vector<std::string>{"reply error ERR -> error WRONGTYPE"}));
    EXPECT_EQ(Comparator()
                  .compare(exchange(Protocol::Resp, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
                                    "*2\r\n$1\r\n3\r\n$1\r\n4\r\n", "TIME"))
                  .outcome,
              Outcome::Match);
    CompareRules rules;
    rules.typeOnlyCommands = {};
    EXPECT_EQ(Comparator(rules)
                  .compare(exchange(Protocol::Resp, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
                                    "*2\r\n$1\r\n3\r\n$1\r\n4\r\n", "TIME"))
                  .outcome,
              Outcome::Differ);
}

TEST(Comparator, GenericBytesAndTheFirstDifferingOffset) {
    EXPECT_EQ(Comparator().compare(exchange(Protocol::Generic, "abcdef", "abcdef")).outcome, Outcome::Match);
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Generic, "abcdef", "abcXef"))),
              (std::vector<std::string>{"bytes differ at byte 3 (6 bytes -> 6 bytes)"}));
    EXPECT_EQ(details(Comparator().compare(exchange(Protocol::Generic, "abc", "abcdef"))),
              (std::vector<std::string>{"bytes differ at byte 3 (3 bytes -> 6 bytes)"}));
}

TEST(Comparator, MissingCutAndUncomparableAnswers) {
    Verdict v = Comparator().compare(exchange(Protocol::Http, kOk, std::nullopt));
    EXPECT_EQ(v.outcome, Outcome::Differ);
    EXPECT_EQ(v.differences[0].category, Category::Missing);
    Exchange cut = exchange(Protocol::Http, kOk, std::nullopt);
    {
        RecordingSink sink;
        auto f = makeFramer(Protocol::Http, Role::Responses, kDefaults, sink);
        feedText(*f, std::string_view(kOk).substr(0, kOk.size() - 4));
        f->finish(0ns);
        cut.target = sink.messages.at(0);
    }
    v = Comparator().compare(cut);
    ASSERT_FALSE(v.differences.empty());
    EXPECT_EQ(v.differences[0].category, Category::Cut);
    Exchange skipped = exchange(Protocol::Http, kOk, kOk);
    skipped.skip = Skip::TargetFramingLost;
    EXPECT_EQ(Comparator().compare(skipped).outcome, Outcome::NotCompared);
    skipped.skip = Skip::None;
    skipped.online.reset();
    EXPECT_EQ(Comparator().compare(skipped).skip, Skip::NoOnlineResponse);
}

TEST(Comparator, SlowerNeedsTheFactorAndTheMargin) {
    Exchange e = exchange(Protocol::Http, kOk, kOk);
    e.onlineLatency = 10ms;
    e.targetLatency = 25ms;
    EXPECT_FALSE(Comparator().compare(e).slower);  // 2.5x but only 15 ms more
    e.targetLatency = 31ms;
    EXPECT_TRUE(Comparator().compare(e).slower);
    e.onlineLatency = 100ms;
    e.targetLatency = 190ms;
    EXPECT_FALSE(Comparator().compare(e).slower);  // 90 ms more but under 2x
}

TEST(CompareRules, ParseListsAndValidate) {
    std::vector<std::string> out;
    EXPECT_EQ(parseHeaderList(" Date , X-Request-Id,,", out), "");
    EXPECT_EQ(out, (std::vector<std::string>{"date", "x-request-id"}));
    EXPECT_EQ(parseHeaderList("", out), "");
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(parseHeaderList("a:b", out), "expects a comma-separated list of header names, got 'a:b'");
    EXPECT_EQ(parseCommandList("time, client list", out), "");
    EXPECT_EQ(out, (std::vector<std::string>{"TIME", "CLIENT LIST"}));
    EXPECT_EQ(parseBodyRule("size"), BodyRule::Size);
    EXPECT_EQ(parseBodyRule("md5"), std::nullopt);
    CompareRules r;
    EXPECT_EQ(validateRules(r), "");
    r.sizeTolerancePercent = -1;
    EXPECT_EQ(validateRules(r), "size tolerance must be between 0 and 1000 percent");
    r = CompareRules{};
    r.slowerFactor = 0.5;
    EXPECT_NE(validateRules(r), "");
}

}  // namespace
}  // namespace tcpcopy::diff::testing
