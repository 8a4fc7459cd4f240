// Engine behaviour that depends on the address family itself: the MSS an IPv6 header leaves,
// rules and -c pools of another family than the capture, IPv4 and IPv6 sessions side by side.
// (Every other engine test runs in both families: conversation.h INSTANTIATE_FAMILIES.)

#include <gtest/gtest.h>

#include <set>

#include "conversation.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {
namespace {

net::IpAddr addr(const char* text) { return *net::IpAddr::parse(text); }

class FamilyTest : public EngineHarness, public ::testing::Test {
  protected:
    // One POST whose body is far larger than any segment, answered once it has all arrived.
    std::vector<TcpSegment> bigPost(CapturedClient& client, const std::string& body) {
        target.responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
            return pending.size() >= 20000 ? std::pair<std::size_t, std::size_t>{0, pending.size()}
                                           : std::pair<std::size_t, std::size_t>{0, 0};
        };
        return {client.syn(), client.handshakeAck(), client.data(body, 0), client.fin(0)};
    }
    static EngineConfig ruleTo(const char* target, std::uint16_t port = 8080) {
        EngineConfig c;
        c.rules.push_back({std::nullopt, net::Port(80), {addr(target), net::Port(port)}});
        return c;
    }
};

const std::string kBody = "POST /up HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b');

TEST_F(FamilyTest, AnIpv6PacketOfTheMtuHasRoomForTwentyBytesLessPayload) {
    // -M 1280 (IPv6's minimum MTU): 1280 - 40 - 20 = 1220 bytes, less 12 for timestamps; IPv4
    // would carry 1240 - 12. Routers do not fragment IPv6, so a byte over is a lost packet.
    EngineConfig config = ruleTo("fd00:198:18::2");
    config.mtu = 1280;
    Engine engine(config, target);
    CapturedClient client("2001:db8::10", 40000, "2001:db8::1", 80);
    feed(engine, bigPost(client, kBody));
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 1u);
    EXPECT_EQ(target.receivedBy(0), kBody);
    std::size_t largest = 0;
    for (const SentSegment& s : target.sent) largest = std::max(largest, s.payload.size());
    EXPECT_EQ(largest, 1280u - 40u - 20u - 12u);
    for (const SentSegment& s : target.sent) {
        if (s.seg.has(tcpflag::kSyn)) {
            EXPECT_EQ(s.seg.options.mss, 1280 - 40 - 20);
        }
    }
}

TEST_F(FamilyTest, TheSameMtuLeavesAnIpv4PacketTwentyBytesMore) {
    EngineConfig config = ruleTo("198.18.1.2");
    config.mtu = 1280;
    Engine engine(config, target);
    CapturedClient client("192.0.2.10", 40000, "192.0.2.1", 80);
    feed(engine, bigPost(client, kBody));
    endAndFinish(engine);
    std::size_t largest = 0;
    for (const SentSegment& s : target.sent) largest = std::max(largest, s.payload.size());
    EXPECT_EQ(largest, 1280u - 20u - 20u - 12u);
}

TEST_F(FamilyTest, Ipv4AndIpv6SessionsReplaySideBySide) {
    EngineConfig config = ruleTo("198.18.1.2");
    config.rules.push_back({addr("2001:db8::1"), net::Port(80), {addr("fd00:198:18::2"), net::Port(8080)}});
    // The IPv6 rule names its online address; IPv4 traffic to port 80 takes the first rule. A
    // rule list is searched in order, so put the specific one first.
    std::swap(config.rules[0], config.rules[1]);
    Engine engine(config, target);
    CapturedClient v4("192.0.2.10", 40000, "192.0.2.1", 80);
    CapturedClient v6("2001:db8::10", 40000, "2001:db8::1", 80);
    std::vector<TcpSegment> segs = keepAlive(v4, 3, false);
    const std::vector<TcpSegment> six = keepAlive(v6, 3, false);
    std::vector<TcpSegment> interleaved;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        interleaved.push_back(segs[i]);
        interleaved.push_back(six[i]);
    }
    interleaved.push_back(v4.fin(900));
    interleaved.push_back(v6.fin(900));
    feed(engine, interleaved);
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 2u);
    std::set<std::string> servers;
    for (const auto* c : target.connections()) {
        servers.insert(c->flow.server.toString());
        EXPECT_EQ(c->requests, 3u) << c->flow.toString();
        EXPECT_EQ(c->flow.client.addr.isV4(), c->flow.server.addr.isV4());
    }
    EXPECT_EQ(servers, (std::set<std::string>{"198.18.1.2:8080", "[fd00:198:18::2]:8080"}));
    EXPECT_TRUE(target.violations.empty()) << target.violations.front();
    EXPECT_EQ(engine.stats().sessionsCompleted, 2u);
}

TEST_F(FamilyTest, AnIpv4CaptureGoesToAnIpv6TargetThroughAnIpv6ClientPool) {
    EngineConfig config = ruleTo("fd00:198:18::2");
    // A mixed pool: each session takes an address of its target's family.
    config.clientPool = {addr("203.0.113.5"), addr("2001:db8:5::7"), addr("2001:db8:5::8")};
    Engine engine(config, target);
    for (int i = 0; i < 6; ++i) {
        CapturedClient c(("192.0.2." + std::to_string(40 + i)).c_str(), 30000, "192.0.2.1", 80);
        feed(engine, keepAlive(c, 1));
    }
    endAndFinish(engine);
    ASSERT_EQ(target.connectionCount(), 6u);
    for (const auto* c : target.connections()) {
        const std::string a = c->flow.client.addr.toString();
        EXPECT_TRUE(a == "2001:db8:5::7" || a == "2001:db8:5::8") << a;
        EXPECT_EQ(c->requests, 1u);
    }
    EXPECT_EQ(engine.stats().sessionsSkippedFamily, 0u);
}

TEST_F(FamilyTest, AClientOfTheOtherFamilyWithoutAPoolIsSkippedAndCounted) {
    Engine engine(ruleTo("fd00:198:18::2"), target);
    CapturedClient c("192.0.2.40", 30000, "192.0.2.1", 80);
    feed(engine, keepAlive(c, 2));
    endAndFinish(engine);
    EXPECT_EQ(target.connectionCount(), 0u);
    EXPECT_EQ(engine.stats().sessionsSkippedFamily, 1u);
    EXPECT_EQ(engine.stats().sessionsStarted, 0u);
    EXPECT_TRUE(target.routes.empty());
}

}  // namespace
}  // namespace tcpcopy::session::testing
