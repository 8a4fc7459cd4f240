#include "tcpcopy/diff/endpoint.h"

#include <gtest/gtest.h>

namespace tcpcopy::diff {
namespace {

TEST(PathTemplate, CollapsesNumbersUuidsAndHexIds) {
    EXPECT_EQ(pathTemplate("/api/users/123"), "/api/users/{n}");
    EXPECT_EQ(pathTemplate("/api/users/123/orders/9?page=2#top"), "/api/users/{n}/orders/{n}");
    EXPECT_EQ(pathTemplate("/o/550e8400-e29b-41d4-a716-446655440000/x"), "/o/{uuid}/x");
    EXPECT_EQ(pathTemplate("/commit/5f3c9a1b7e"), "/commit/{hex}");
    EXPECT_EQ(pathTemplate("/obj/507f1f77bcf86cd799439011"), "/obj/{hex}");
    EXPECT_EQ(pathTemplate("/deadbeef"), "/deadbeef");  // no digit: a word
    EXPECT_EQ(pathTemplate("/img/42.png"), "/img/{n}.png");
    EXPECT_EQ(pathTemplate("/v2/items/"), "/v2/items/");
    EXPECT_EQ(pathTemplate("http://example.com/a/1?x"), "/a/{n}");
    EXPECT_EQ(pathTemplate("http://example.com"), "/");
    EXPECT_EQ(pathTemplate("*"), "*");
    EXPECT_EQ(pathTemplate(""), "/");
    EXPECT_EQ(pathTemplate("/a b/\x01"), "/a b/\\x01");
}

TEST(PathTemplate, IsBounded) {
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "/s";
    EXPECT_EQ(pathTemplate(deep).size(), 1u + 32u * 2u + 3u);  // 32 segments, then "..."
    EXPECT_LE(pathTemplate("/" + std::string(1000, 'a')).size(), 203u);
}

TEST(EndpointKey, PerProtocol) {
    Message m;
    m.method = "GET";
    m.target = "/users/7?x=1";
    EXPECT_EQ(endpointKey(Protocol::Http, m), "GET /users/{n}");
    Message r;
    r.method = "CONFIG GET";
    EXPECT_EQ(endpointKey(Protocol::Resp, r), "CONFIG GET");
    Message g;
    g.end = 5;
    EXPECT_EQ(endpointKey(Protocol::Generic, g), "(generic)");
    EXPECT_EQ(endpointKey(Protocol::Generic, Message{}), "(greeting)");
}

}  // namespace
}  // namespace tcpcopy::diff
