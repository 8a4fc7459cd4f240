#include "tcpcopy/tunnel/nat_map.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/tunnel/codec.h"

namespace tcpcopy::tunnel {
namespace {

using net::Endpoint;
using net::Ipv4Addr;
using net::Port;

Endpoint ep(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    return Endpoint{Ipv4Addr::fromOctets(a, b, c, d), Port(port)};
}

NatMap parsed(std::string_view text) {
    auto map = NatMap::parse(text);
    EXPECT_TRUE(map) << text << ": " << map.error();
    return map ? std::move(map).value() : NatMap{};
}

std::string parseError(std::string_view text) {
    auto map = NatMap::parse(text);
    return map ? std::string("(parsed)") : map.error();
}

// A SYN-ACK from the container 198.18.6.2:8080 to the replayed client 192.0.2.10:40000, with
// options and a payload-free body, as the target's kernel builds it (both checksums right).
std::size_t synAckFromContainer(std::array<std::byte, 128>& out) {
    net::TcpSegment s;
    s.src = Ipv4Addr::fromOctets(198, 18, 6, 2);
    s.dst = Ipv4Addr::fromOctets(192, 0, 2, 10);
    s.sport = Port(8080);
    s.dport = Port(40000);
    s.seq = net::SeqNum(0x01020304);
    s.ack = net::SeqNum(0xA0B0C0D0);
    s.flags = net::tcpflag::kSyn | net::tcpflag::kAck;
    s.window = 64240;
    s.ttl = 64;
    s.options.mss = 1460;
    s.options.windowScale = 7;
    s.options.sackPermitted = true;
    s.options.timestamps = net::TcpTimestamps{0x11111111, 0x22222222};
    return net::buildIpTcp(s, out);
}

TEST(NatMapParse, TakesTheOriginalsAddressOnlyForm) {
    NatMap map = parsed("198.18.6.2-198.18.1.2");
    ASSERT_EQ(map.mappings().size(), 1u);
    EXPECT_EQ(map.mappings()[0], (NatMapping{Ipv4Addr::fromOctets(198, 18, 6, 2), std::nullopt,
                                             Ipv4Addr::fromOctets(198, 18, 1, 2), std::nullopt}));
}

TEST(NatMapParse, TakesPortsAndLists) {
    NatMap map = parsed("198.18.6.2:8080-198.18.1.2:80, 10.0.0.5:443-10.0.0.1 ,172.17.0.2-10.0.0.2");
    ASSERT_EQ(map.mappings().size(), 3u);
    EXPECT_EQ(map.mappings()[0].seenPort, Port(8080));
    EXPECT_EQ(map.mappings()[0].sentPort, Port(80));
    EXPECT_EQ(map.mappings()[1].seenPort, Port(443));
    EXPECT_EQ(map.mappings()[1].sentPort, std::nullopt);
    EXPECT_EQ(map.mappings()[2].sentAddr, Ipv4Addr::fromOctets(10, 0, 0, 2));
}

TEST(NatMapParse, RejectsBadMappingsQuotingThem) {
    EXPECT_NE(parseError("198.18.6.2").find("expected SEEN[:PORT]-SENT[:PORT]"), std::string::npos);
    EXPECT_NE(parseError("").find("got ''"), std::string::npos);
    EXPECT_NE(parseError("1.2.3.4-5.6.7.8,,").find("got '' in '1.2.3.4-5.6.7.8,,'"), std::string::npos);
    EXPECT_EQ(parseError("198.18.6-198.18.1.2"),
              "'198.18.6-198.18.1.2': '198.18.6' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parseError("198.18.6.2-"), "'198.18.6.2-': empty address");
    EXPECT_EQ(parseError("198.18.6.2:0-198.18.1.2:80"),
              "'198.18.6.2:0-198.18.1.2:80': '0' is not a port 1..65535 (in '198.18.6.2:0')");
    EXPECT_EQ(parseError("198.18.6.2:8080-198.18.1.2:65536"),
              "'198.18.6.2:8080-198.18.1.2:65536': '65536' is not a port 1..65535 (in '198.18.1.2:65536')");
    EXPECT_EQ(parseError("198.18.6.2:http-198.18.1.2"),
              "'198.18.6.2:http-198.18.1.2': 'http' is not a port 1..65535 (in '198.18.6.2:http')");
    EXPECT_EQ(parseError("198.18.6.2-198.18.1.2:80"),
              "'198.18.6.2-198.18.1.2:80': a port on the SENT side needs one on the SEEN side");
    EXPECT_EQ(parseError("198.18.6.2:1-198.18.1.2:2,198.18.6.2:1-198.18.1.3:2"),
              "'198.18.6.2:1-198.18.1.3:2': its SEEN side is mapped twice");
}

// -D and --nat-client stay IPv4 (the rewrite is IPv4's): an IPv6 side is refused in one line, in
// either of the forms the other flags take.
TEST(NatMapParse, RefusesIpv6SidesSayingTheMapsAreIpv4Only) {
    EXPECT_EQ(parseError("[2001:db8::1]:80-198.18.1.2:80"),
              "'[2001:db8::1]:80-198.18.1.2:80': '[2001:db8::1]:80' is IPv6: NAT mappings are IPv4 only");
    EXPECT_EQ(parseError("198.18.6.2-fd00:198:18::2"),
              "'198.18.6.2-fd00:198:18::2': 'fd00:198:18::2' is IPv6: NAT mappings are IPv4 only");
    EXPECT_EQ(parseError("198.18.6.2-[fd00:198:18::2"),
              "'198.18.6.2-[fd00:198:18::2': '[fd00:198:18::2' lacks the closing ']'");
}

TEST(NatMapLookup, APortMappingWinsOverTheWholeAddress) {
    NatMap map = parsed("198.18.6.2-198.18.1.9,198.18.6.2:8080-198.18.1.2:80,198.18.6.3:443-198.18.1.3");
    EXPECT_EQ(map.sentFor(ep(198, 18, 6, 2, 8080)), ep(198, 18, 1, 2, 80));
    EXPECT_EQ(map.sentFor(ep(198, 18, 6, 2, 9000)), ep(198, 18, 1, 9, 9000));  // address only: port kept
    EXPECT_EQ(map.sentFor(ep(198, 18, 6, 3, 443)), ep(198, 18, 1, 3, 443));    // no SENT port: kept
    EXPECT_EQ(map.sentFor(ep(198, 18, 6, 3, 80)), std::nullopt);
    EXPECT_EQ(map.sentFor(ep(198, 18, 6, 4, 8080)), std::nullopt);
    EXPECT_EQ(NatMap{}.sentFor(ep(198, 18, 6, 2, 8080)), std::nullopt);
}

TEST(NatMapRewrite, MappedResponseGetsTheSentSourceWithBothChecksumsRight) {
    std::array<std::byte, 128> packet{};
    const std::size_t n = synAckFromContainer(packet);
    ASSERT_GT(n, 40u);
    // What intercept forwards: the headers of the captured response.
    const net::Bytes headers = responseHeaderBytes(net::Bytes(packet.data(), n));
    ASSERT_EQ(headers.size(), n);
    const net::Bytes before(headers.begin(), headers.end());
    net::DecodeResult decoded = net::decodeIpTcp(headers);
    ASSERT_EQ(decoded.status, net::DecodeStatus::Ok);
    net::FlowKey flow = decoded.segment.serverToClientKey();

    NatMap map = parsed("198.18.6.2:8080-198.18.1.2:80");
    NatScratch scratch{};
    const net::Bytes out = map.apply(headers, flow, scratch);
    EXPECT_EQ(out.data(), scratch.data());
    EXPECT_EQ(std::memcmp(packet.data(), before.data(), n), 0);  // the capture's bytes are untouched
    EXPECT_EQ(flow.server, ep(198, 18, 1, 2, 80));
    EXPECT_EQ(flow.client, ep(192, 0, 2, 10, 40000));

    net::DecodeResult rewritten = net::decodeIpTcp(out);
    ASSERT_EQ(rewritten.status, net::DecodeStatus::Ok);
    EXPECT_EQ(rewritten.segment.serverToClientKey(), flow);
    EXPECT_EQ(rewritten.segment.seq, decoded.segment.seq);
    EXPECT_EQ(rewritten.segment.options.mss, 1460);
    EXPECT_EQ(net::internetChecksum(out.first(20)), 0);
    EXPECT_EQ(net::tcpChecksum(rewritten.segment.src, rewritten.segment.dst, out.subspan(20)), 0);
}

TEST(NatMapRewrite, AddressOnlyMappingKeepsThePortAndFixesChecksums) {
    std::array<std::byte, 128> packet{};
    const std::size_t n = synAckFromContainer(packet);
    net::MutableBytes bytes(packet.data(), n);
    ASSERT_TRUE(rewriteSource(bytes, ep(198, 18, 1, 2, 8080)));
    net::DecodeResult r = net::decodeIpTcp(bytes);
    ASSERT_EQ(r.status, net::DecodeStatus::Ok);
    EXPECT_EQ(r.segment.src, Ipv4Addr::fromOctets(198, 18, 1, 2));
    EXPECT_EQ(r.segment.sport, Port(8080));
    EXPECT_EQ(net::internetChecksum(bytes.first(20)), 0);
    EXPECT_EQ(net::tcpChecksum(r.segment.src, r.segment.dst, bytes.subspan(20)), 0);
}

// --nat-client (the original intercept's -D): the target saw the client translated (here as
// 198.51.100.77) and answers it there; the response goes back to the client tcpcopy sent from.
TEST(NatMapRewrite, ClientMappingReaddressesTheResponseToTheReplayedClient) {
    std::array<std::byte, 128> packet{};
    const std::size_t n = synAckFromContainer(packet);
    net::MutableBytes bytes(packet.data(), n);
    ASSERT_TRUE(rewriteDestination(bytes, ep(198, 51, 100, 77, 40000)));  // as the target answered
    const net::Bytes headers(packet.data(), n);
    net::DecodeResult decoded = net::decodeIpTcp(headers);
    ASSERT_EQ(decoded.status, net::DecodeStatus::Ok);
    EXPECT_EQ(net::tcpChecksum(decoded.segment.src, decoded.segment.dst, headers.subspan(20)), 0);
    net::FlowKey flow = decoded.segment.serverToClientKey();

    NatMap map = parsed("198.51.100.77-192.0.2.10");
    NatScratch scratch{};
    const net::Bytes out = map.applyToClient(headers, flow, scratch);
    EXPECT_EQ(out.data(), scratch.data());
    EXPECT_EQ(flow.client, ep(192, 0, 2, 10, 40000));  // the port is kept
    EXPECT_EQ(flow.server, ep(198, 18, 6, 2, 8080));
    net::DecodeResult rewritten = net::decodeIpTcp(out);
    ASSERT_EQ(rewritten.status, net::DecodeStatus::Ok);
    EXPECT_EQ(rewritten.segment.serverToClientKey(), flow);
    EXPECT_EQ(net::internetChecksum(out.first(20)), 0);
    EXPECT_EQ(net::tcpChecksum(rewritten.segment.src, rewritten.segment.dst, out.subspan(20)), 0);
    // Another client, or the server side of a client mapping: unchanged.
    net::FlowKey other = flow;
    EXPECT_EQ(map.applyToClient(out, other, scratch).data(), out.data());
    NatScratch second{};
    net::FlowKey same = decoded.segment.serverToClientKey();
    EXPECT_EQ(map.apply(headers, same, second).data(), headers.data());
}

TEST(NatMapRewrite, UnmappedResponsePassesUnchanged) {
    std::array<std::byte, 128> packet{};
    const std::size_t n = synAckFromContainer(packet);
    const net::Bytes headers(packet.data(), n);
    net::FlowKey flow = net::decodeIpTcp(headers).segment.serverToClientKey();
    const net::FlowKey original = flow;
    NatScratch scratch{};
    EXPECT_EQ(parsed("198.18.6.2:9090-198.18.1.2:80").apply(headers, flow, scratch).data(), packet.data());
    EXPECT_EQ(flow, original);
    EXPECT_EQ(NatMap{}.apply(headers, flow, scratch).data(), packet.data());
}

TEST(NatMapRewrite, RefusesWhatIsNotAWholeIpv4TcpHeader) {
    std::array<std::byte, 128> packet{};
    const std::size_t n = synAckFromContainer(packet);
    EXPECT_FALSE(rewriteSource(net::MutableBytes(packet.data(), 39), ep(1, 2, 3, 4, 5)));
    EXPECT_FALSE(rewriteSource(net::MutableBytes(packet.data(), 10), ep(1, 2, 3, 4, 5)));
    packet[0] = std::byte{0x65};  // IPv6 version nibble
    EXPECT_FALSE(rewriteSource(net::MutableBytes(packet.data(), n), ep(1, 2, 3, 4, 5)));
}

}  // namespace
}  // namespace tcpcopy::tunnel
