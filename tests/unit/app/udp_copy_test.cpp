// UdpCopier: -x udp: rules matched, destination rewritten, client kept or replaced (-H, -c),
// copies on distinct ports (-n), sampling per flow (-r), both checksums right, and what is not
// copied (truncated, fragments, malformed) counted.
#include "tcpcopy/app/udp_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tcpcopy/net/udp.h"

namespace tcpcopy::app {
namespace {

using ByteVec = std::vector<std::byte>;

net::Ipv4Addr ip(const char* text) { return *net::Ipv4Addr::parse(text); }

// A captured IPv4/UDP datagram; checksums left 0 (captures taken with offload carry any value).
ByteVec datagram(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
                 const std::string& payload, std::uint16_t fragmentField = 0x4000) {
    const std::size_t total = 28 + payload.size();
    ByteVec p(total);
    auto put16 = [&p](std::size_t at, std::uint32_t v) {
        p[at] = std::byte(v >> 8);
        p[at + 1] = std::byte(v & 0xff);
    };
    auto put32 = [&](std::size_t at, std::uint32_t v) {
        put16(at, v >> 16);
        put16(at + 2, v & 0xffff);
    };
    p[0] = std::byte{0x45};
    p[1] = std::byte{0x10};
    put16(2, static_cast<std::uint32_t>(total));
    put16(4, 0xbeef);
    put16(6, fragmentField);
    p[8] = std::byte{3};
    p[9] = std::byte{17};
    put32(12, ip(src).value());
    put32(16, ip(dst).value());
    put16(20, sport);
    put16(22, dport);
    put16(24, static_cast<std::uint32_t>(8 + payload.size()));
    for (std::size_t i = 0; i < payload.size(); ++i) p[28 + i] = std::byte(payload[i]);
    return p;
}

// An independent RFC 1071 sum, to check what UdpCopier wrote.
std::uint32_t sum16(const ByteVec& p, std::size_t from, std::size_t to, std::uint32_t sum = 0) {
    for (std::size_t i = from; i < to; i += 2) {
        const std::uint32_t hi = std::to_integer<std::uint32_t>(p[i]) << 8;
        const std::uint32_t lo = i + 1 < to ? std::to_integer<std::uint32_t>(p[i + 1]) : 0;
        sum += hi | lo;
    }
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

struct Sent {
    net::Endpoint source;
    net::Endpoint destination;
    std::string payload;
    std::uint8_t ttl = 0;
    std::uint8_t tos = 0;
};

class UdpCopyTest : public ::testing::Test {
  protected:
    UdpCopier make(UdpCopyConfig config) {
        return UdpCopier(std::move(config),
                         [this](net::Bytes packet) { packets_.emplace_back(packet.begin(), packet.end()); });
    }

    static UdpCopyConfig dnsRule() {
        UdpCopyConfig c;
        c.rules.push_back({std::nullopt, net::Port(53), {ip("198.18.1.2"), net::Port(5353)}});
        return c;
    }

    bool feed(UdpCopier& copier, const ByteVec& packet) {
        return copier.onPacket(net::parseIpLayer(net::Bytes(packet.data(), packet.size())));
    }

    // Decodes packet i, checking it is a well-formed IPv4/UDP packet with both checksums right.
    Sent sent(std::size_t i) {
        const ByteVec& p = packets_.at(i);
        const net::IpLayer layer = net::parseIpLayer(net::Bytes(p.data(), p.size()));
        EXPECT_EQ(layer.status, net::DecodeStatus::Ok);
        EXPECT_EQ(layer.protocol, 17);
        EXPECT_EQ(sum16(p, 0, 20), 0xffffu) << "IPv4 header checksum";
        const std::uint32_t pseudo = sum16(p, 12, 20) + 17 + static_cast<std::uint32_t>(p.size() - 20);
        EXPECT_EQ(sum16(p, 20, p.size(), pseudo), 0xffffu) << "UDP checksum";
        const net::UdpParseResult udp = net::parseUdp(layer.payload, layer.payloadLength);
        EXPECT_EQ(udp.status, net::UdpStatus::Ok);
        Sent s;
        s.source = {net::Ipv4Addr((std::to_integer<std::uint32_t>(p[12]) << 24) |
                                  (std::to_integer<std::uint32_t>(p[13]) << 16) |
                                  (std::to_integer<std::uint32_t>(p[14]) << 8) |
                                  std::to_integer<std::uint32_t>(p[15])),
                    udp.datagram.sport};
        s.destination = {net::Ipv4Addr((std::to_integer<std::uint32_t>(p[16]) << 24) |
                                       (std::to_integer<std::uint32_t>(p[17]) << 16) |
                                       (std::to_integer<std::uint32_t>(p[18]) << 8) |
                                       std::to_integer<std::uint32_t>(p[19])),
                         udp.datagram.dport};
        for (std::byte b : udp.datagram.payload) s.payload.push_back(static_cast<char>(b));
        s.ttl = std::to_integer<std::uint8_t>(p[8]);
        s.tos = std::to_integer<std::uint8_t>(p[1]);
        return s;
    }

    std::vector<ByteVec> packets_;
};

TEST_F(UdpCopyTest, SendsAMatchingDatagramToTheTargetKeepingTheClient) {
    UdpCopier copier = make(dnsRule());
    EXPECT_TRUE(feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "query-one")));
    ASSERT_EQ(packets_.size(), 1u);
    const Sent s = sent(0);
    EXPECT_EQ(s.source.toString(), "192.0.2.7:40000");
    EXPECT_EQ(s.destination.toString(), "198.18.1.2:5353");
    EXPECT_EQ(s.payload, "query-one");
    EXPECT_EQ(s.ttl, 64);  // the config's, not the capture's 3
    EXPECT_EQ(s.tos, 0x10);
    EXPECT_EQ(copier.stats().matched, 1u);
    EXPECT_EQ(copier.stats().copied, 1u);
    EXPECT_EQ(copier.stats().bytes, 9u);
}

TEST_F(UdpCopyTest, ChecksumsAreRightForOddPayloadsAndEmptyOnes) {
    UdpCopier copier = make(dnsRule());
    feed(copier, datagram("203.0.113.255", 65535, "198.18.0.1", 53, "abc"));
    feed(copier, datagram("203.0.113.1", 1, "198.18.0.1", 53, ""));
    ASSERT_EQ(packets_.size(), 2u);
    EXPECT_EQ(sent(0).payload, "abc");
    EXPECT_EQ(sent(1).payload, "");
}

TEST_F(UdpCopyTest, LeavesOtherPortsAddressesAndProtocolsAlone) {
    UdpCopyConfig config;
    config.rules.push_back({ip("198.18.0.1"), net::Port(53), {ip("198.18.1.2"), net::Port(53)}});
    UdpCopier copier = make(config);
    EXPECT_TRUE(feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 54, "x")));  // other port
    EXPECT_TRUE(feed(copier, datagram("192.0.2.7", 40000, "198.18.0.9", 53, "x")));  // other address
    EXPECT_TRUE(feed(copier, datagram("198.18.0.1", 53, "192.0.2.7", 40000, "x")));  // the answer
    ByteVec tcp = datagram("192.0.2.7", 40000, "198.18.0.1", 53, "x");
    tcp[9] = std::byte{6};
    EXPECT_FALSE(feed(copier, tcp));
    EXPECT_TRUE(packets_.empty());
    EXPECT_EQ(copier.stats().matched, 0u);
    EXPECT_TRUE(feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "x")));
    EXPECT_EQ(packets_.size(), 1u);
}

TEST_F(UdpCopyTest, EachCopyLeavesFromItsOwnPort) {
    UdpCopyConfig config = dnsRule();
    config.copies = 3;
    UdpCopier copier = make(config);
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q"));
    ASSERT_EQ(packets_.size(), 3u);
    std::set<std::uint16_t> ports;
    for (std::size_t i = 0; i < 3; ++i) {
        const Sent s = sent(i);
        EXPECT_EQ(s.source.addr.toString(), "192.0.2.7");
        EXPECT_EQ(s.payload, "q");
        ports.insert(s.source.port.value());
    }
    EXPECT_EQ(ports.size(), 3u);
    EXPECT_EQ(sent(0).source.port.value(), 40000);  // the first copy keeps the captured port
    EXPECT_EQ(copier.stats().matched, 1u);
    EXPECT_EQ(copier.stats().copied, 3u);
    // The same client port maps to the same copy ports every time (a DNS client's retries, a
    // flow of several datagrams): the target sees three steady flows.
    packets_.clear();
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "r"));
    std::set<std::uint16_t> again;
    for (std::size_t i = 0; i < 3; ++i) again.insert(sent(i).source.port.value());
    EXPECT_EQ(again, ports);
}

TEST_F(UdpCopyTest, LoopbackClientsAndAddressPoolsReplaceTheSource) {
    UdpCopyConfig config = dnsRule();
    config.loopbackRewrite = ip("203.0.113.9");
    UdpCopier loopback = make(config);
    feed(loopback, datagram("127.0.0.1", 40000, "198.18.0.1", 53, "q"));
    feed(loopback, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q"));
    ASSERT_EQ(packets_.size(), 2u);
    EXPECT_EQ(sent(0).source.toString(), "203.0.113.9:40000");
    EXPECT_EQ(sent(1).source.toString(), "192.0.2.7:40000");

    packets_.clear();
    config = dnsRule();
    config.clientPool = {ip("198.51.100.1"), ip("198.51.100.2")};
    UdpCopier pool = make(config);
    feed(pool, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q"));
    feed(pool, datagram("192.0.2.7", 40001, "198.18.0.1", 53, "q"));
    ASSERT_EQ(packets_.size(), 2u);
    const Sent a = sent(0);
    EXPECT_TRUE(a.source.addr == config.clientPool[0] || a.source.addr == config.clientPool[1]);
    EXPECT_EQ(sent(1).source.addr, a.source.addr);  // chosen by the captured address
}

TEST_F(UdpCopyTest, SamplingKeepsOrDropsWholeFlows) {
    UdpCopyConfig config = dnsRule();
    config.samplePercent = 50;
    UdpCopier copier = make(config);
    std::set<std::uint16_t> kept;
    for (std::uint16_t port = 20000; port < 20200; ++port) {
        const std::size_t before = packets_.size();
        feed(copier, datagram("192.0.2.7", port, "198.18.0.1", 53, "q"));
        if (packets_.size() > before) kept.insert(port);
    }
    // Roughly half of 200 flows; the hash is fixed, so this is exact for a given build.
    EXPECT_GT(kept.size(), 60u);
    EXPECT_LT(kept.size(), 140u);
    EXPECT_EQ(copier.stats().sampledOut + kept.size(), 200u);
    // A second datagram of each flow meets the same fate.
    for (std::uint16_t port = 20000; port < 20200; ++port) {
        const std::size_t before = packets_.size();
        feed(copier, datagram("192.0.2.7", port, "198.18.0.1", 53, "again"));
        EXPECT_EQ(packets_.size() > before, kept.count(port) == 1) << "port " << port;
    }
}

TEST_F(UdpCopyTest, CountsWhatItCannotCopy) {
    UdpCopier copier = make(dnsRule());
    ByteVec cut = datagram("192.0.2.7", 40000, "198.18.0.1", 53, "a longer query");
    cut.resize(32);  // snaplen: the IP header still says the whole datagram
    EXPECT_TRUE(feed(copier, cut));
    EXPECT_TRUE(feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "frag", 0x2000)));  // MF
    ByteVec bad = datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q");
    bad[25] = std::byte{4};  // UDP length below its header
    EXPECT_TRUE(feed(copier, bad));
    EXPECT_TRUE(packets_.empty());
    EXPECT_EQ(copier.stats().truncated, 1u);
    EXPECT_EQ(copier.stats().fragments, 1u);
    EXPECT_EQ(copier.stats().malformed, 1u);
    EXPECT_EQ(copier.stats().copied, 0u);
}

// With route hooks (a tunnel): each replayed flow is announced once, before its first datagram
// leaves, and the target's answers intercept forwards (headers only) are counted per flow.
class UdpRoutesTest : public UdpCopyTest {
  protected:
    UdpCopier makeRouted(UdpCopyConfig config) {
        UdpCopier::RouteHooks hooks;
        hooks.add = [this](const net::FlowKey& flow) {
            events_.push_back("add " + flow.toString() + " after " + std::to_string(packets_.size()));
        };
        hooks.remove = [this](const net::FlowKey& flow) { events_.push_back("del " + flow.toString()); };
        return UdpCopier(
            std::move(config),
            [this](net::Bytes packet) { packets_.emplace_back(packet.begin(), packet.end()); },
            std::move(hooks));
    }
    // What intercept forwards of an answer: the IPv4 and UDP headers, the total length kept.
    static ByteVec answerHeader(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
                                const std::string& payload) {
        ByteVec p = datagram(src, sport, dst, dport, payload);
        p.resize(28);
        return p;
    }
    static void answer(UdpCopier& copier, const ByteVec& header) {
        copier.onResponse(net::Bytes(header.data(), header.size()));
    }
    std::vector<std::string> events_;
};

TEST_F(UdpRoutesTest, AnnouncesEachFlowOnceBeforeItsFirstDatagram) {
    UdpCopyConfig config = dnsRule();
    config.copies = 2;
    UdpCopier copier = makeRouted(config);
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q1"));
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q2"));  // the same flows
    ASSERT_EQ(packets_.size(), 4u);
    const std::string second = sent(1).source.toString();
    EXPECT_EQ(events_, (std::vector<std::string>{"add 192.0.2.7:40000>198.18.1.2:5353 after 0",
                                                 "add " + second + ">198.18.1.2:5353 after 1"}));
    EXPECT_EQ(copier.stats().routes, 2u);
    EXPECT_EQ(copier.flowsAwaitingResponse(), 2u);
}

TEST_F(UdpRoutesTest, CountsAnswersPerFlowAndStrayOnesApart) {
    UdpCopier copier = makeRouted(dnsRule());
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q1"));
    feed(copier, datagram("192.0.2.8", 40001, "198.18.0.1", 53, "q2"));
    answer(copier, answerHeader("198.18.1.2", 5353, "192.0.2.7", 40000, "answer-1"));
    EXPECT_EQ(copier.flowsAwaitingResponse(), 1u);
    answer(copier, answerHeader("198.18.1.2", 5353, "192.0.2.7", 40000, "again"));         // a second one
    answer(copier, answerHeader("198.18.1.2", 53, "192.0.2.8", 40001, "other port"));      // not our flow
    answer(copier, answerHeader("198.18.1.2", 5353, "192.0.2.9", 40001, "other client"));  // not ours
    ByteVec tcp = answerHeader("198.18.1.2", 5353, "192.0.2.8", 40001, "x");
    tcp[9] = std::byte{6};
    answer(copier, tcp);
    ByteVec cut = answerHeader("198.18.1.2", 5353, "192.0.2.8", 40001, "x");
    cut.resize(24);  // half a UDP header
    answer(copier, cut);
    EXPECT_EQ(copier.stats().responses, 2u);
    EXPECT_EQ(copier.stats().responseBytes, 13u);  // from the UDP length: the payload is not there
    EXPECT_EQ(copier.stats().flowsAnswered, 1u);
    EXPECT_EQ(copier.stats().responsesUnmatched, 2u);
    EXPECT_EQ(copier.stats().responsesMalformed, 2u);
    EXPECT_EQ(copier.flowsAwaitingResponse(), 1u);
    answer(copier, answerHeader("198.18.1.2", 5353, "192.0.2.8", 40001, "answer-2"));
    EXPECT_EQ(copier.flowsAwaitingResponse(), 0u);
    EXPECT_EQ(copier.stats().flowsAnswered, 2u);
}

TEST_F(UdpRoutesTest, WithdrawsTheOldestFlowBeyondTheBound) {
    UdpCopyConfig config = dnsRule();
    config.maxRoutes = 2;
    UdpCopier copier = makeRouted(config);
    for (std::uint16_t port = 40000; port < 40003; ++port) {
        feed(copier, datagram("192.0.2.7", port, "198.18.0.1", 53, "q"));
    }
    ASSERT_EQ(events_.size(), 4u);
    EXPECT_EQ(events_[3], "del 192.0.2.7:40000>198.18.1.2:5353");
    EXPECT_EQ(copier.stats().routesEvicted, 1u);
    EXPECT_EQ(copier.flowsAwaitingResponse(), 2u);  // the withdrawn one waits no more
    answer(copier, answerHeader("198.18.1.2", 5353, "192.0.2.7", 40000, "late"));
    EXPECT_EQ(copier.stats().responsesUnmatched, 1u);
}

TEST_F(UdpCopyTest, WithoutHooksNothingIsAnnouncedOrAwaited) {
    UdpCopier copier = make(dnsRule());
    feed(copier, datagram("192.0.2.7", 40000, "198.18.0.1", 53, "q"));
    EXPECT_EQ(copier.stats().routes, 0u);
    EXPECT_EQ(copier.flowsAwaitingResponse(), 0u);
}

TEST(UdpCopyConfig, TakesTheEngineSettings) {
    session::EngineConfig engine;
    engine.copies = 4;
    engine.samplePercent = 30;
    engine.portShiftFactor = 2;
    engine.ttl = 9;
    engine.loopbackRewrite = ip("203.0.113.9");
    engine.clientPool = {ip("198.51.100.1")};
    const UdpCopyConfig c =
        UdpCopyConfig::from(engine, {{std::nullopt, net::Port(53), {ip("198.18.1.2"), net::Port(53)}}});
    EXPECT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.copies, 4u);
    EXPECT_EQ(c.samplePercent, 30u);
    EXPECT_EQ(c.portShiftFactor, 2u);
    EXPECT_EQ(c.ttl, 9);
    EXPECT_EQ(c.loopbackRewrite, engine.loopbackRewrite);
    EXPECT_EQ(c.clientPool, engine.clientPool);
}

}  // namespace
}  // namespace tcpcopy::app
