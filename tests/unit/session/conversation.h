#pragma once
// Captured conversations and the engine test fixture shared by the session tests.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim_target.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {

inline std::string request(int n, std::size_t extra = 0) {
    return "GET /item/" + std::to_string(n) + " HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(extra, 'p') +
           "\r\n\r\n";
}

// A keep-alive conversation of `count` requests, each answered with 300 bytes in the capture.
inline std::vector<TcpSegment> keepAlive(CapturedClient& c, int count, bool close = true) {
    std::vector<TcpSegment> out{c.syn(), c.handshakeAck()};
    for (int i = 0; i < count; ++i) out.push_back(c.data(request(i), 300u * i));
    if (close) out.push_back(c.fin(300u * count));
    return out;
}

// Two captured conversations one after the other.
inline std::vector<TcpSegment> then(std::vector<TcpSegment> first, const std::vector<TcpSegment>& second) {
    first.insert(first.end(), second.begin(), second.end());
    return first;
}

inline std::string concatRequests(int count) {
    std::string all;
    for (int i = 0; i < count; ++i) all += request(i);
    return all;
}

// A simulated target and the calls every engine test makes on it.
class EngineHarness {
  protected:
    void feed(Engine& engine, const std::vector<TcpSegment>& segs) {
        for (const TcpSegment& s : segs) {
            engine.onCaptured(s, target.now);
            target.run(engine);
        }
    }
    void endAndFinish(Engine& engine) {
        engine.onInputEnd(target.now);
        EXPECT_TRUE(target.finish(engine)) << "engine did not finish; active " << engine.activeSessions();
    }
    void expectClean() {
        EXPECT_TRUE(target.violations.empty()) << target.violations.front();
        EXPECT_TRUE(target.routes.empty()) << "routes left behind";
    }
    SimTarget target;
};

// Engine tests run once per address family (sim_target.h testFamily): TEST_P, and one
// INSTANTIATE_FAMILIES(Suite) per fixture class.
class EngineTest : public EngineHarness, public ::testing::TestWithParam<Family> {
  protected:
    EngineTest() { testFamily() = GetParam(); }
    ~EngineTest() override { testFamily() = Family::V4; }
};

inline std::string familyName(const ::testing::TestParamInfo<Family>& info) {
    return info.param == Family::V4 ? "Ipv4" : "Ipv6";
}
#define INSTANTIATE_FAMILIES(Suite) \
    INSTANTIATE_TEST_SUITE_P(Families, Suite, ::testing::Values(Family::V4, Family::V6), familyName)

}  // namespace tcpcopy::session::testing
