// The address lists of the tunnel's flags: tcpcopy's -s (parseEndpointList) and intercept's
// --allow and -x pass list (parseCidrList), in both families; and a tunnel over IPv6 loopback set
// up from those texts, the way `-s [::1]:PORT` and `-b ::1 --allow ::1/128` do.
#include <gtest/gtest.h>

#include "loopback.h"
#include "tcpcopy/tunnel/tunnel_client.h"
#include "tcpcopy/tunnel/tunnel_server.h"

namespace tcpcopy::tunnel::testing {
namespace {

std::vector<std::string> texts(const std::vector<net::Endpoint>& endpoints) {
    std::vector<std::string> out;
    for (const auto& e : endpoints) out.push_back(e.toString());
    return out;
}

TEST(EndpointList, TakesIpv6AloneOrInBracketsWithAPort) {
    auto list = parseEndpointList("2001:db8::5, [2001:db8::6]:4000,[fd00:198:18:3::2],198.18.3.2:4001");
    ASSERT_TRUE(list) << list.error();
    EXPECT_EQ(texts(list.value()), (std::vector<std::string>{"[2001:db8::5]:36524", "[2001:db8::6]:4000",
                                                             "[fd00:198:18:3::2]:36524", "198.18.3.2:4001"}));
    // The default port of -p, and an unbracketed text is one address.
    list = parseEndpointList("2001:db8::5:4000", 5000);
    ASSERT_TRUE(list) << list.error();
    EXPECT_EQ(texts(list.value()), (std::vector<std::string>{"[2001:db8::5:4000]:5000"}));
}

TEST(EndpointList, RefusalsNameTheElement) {
    EXPECT_EQ(parseEndpointList("198.18.3.2,[2001:db8::5").error(), "'[2001:db8::5' lacks the closing ']'");
    EXPECT_EQ(parseEndpointList("[2001:db8::5]:0").error(),
              "'0' is not a port 1..65535 (in '[2001:db8::5]:0')");
    EXPECT_EQ(parseEndpointList("198.18.3.2:70000").error(),
              "'70000' is not a port 1..65535 (in '198.18.3.2:70000')");
    EXPECT_EQ(parseEndpointList("198.18.3.300").error(), "'198.18.3.300' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parseEndpointList("host:80").error(), "'host' is not an IPv4 or IPv6 address (in 'host:80')");
    EXPECT_EQ(parseEndpointList("198.18.3.2,,[::1]").error(),
              "empty element in address list '198.18.3.2,,[::1]'");
    EXPECT_EQ(parseEndpointList("").error(), "empty element in address list ''");
}

TEST(CidrList, TakesBothFamiliesAndNamesBadElements) {
    auto list = parseCidrList("2001:db8::/32, fd00:198:18::/48,198.18.0.0/15,::1");
    ASSERT_TRUE(list) << list.error();
    ASSERT_EQ(list.value().size(), 4u);
    EXPECT_TRUE(list.value()[0].contains(*net::IpAddr::parse("2001:db8:ffff::1")));
    EXPECT_FALSE(list.value()[0].contains(*net::IpAddr::parse("2001:db9::1")));
    EXPECT_TRUE(list.value()[1].contains(*net::IpAddr::parse("fd00:198:18:3::1")));
    // A prefix holds its own family only: an IPv4 peer is never inside an IPv6 prefix.
    EXPECT_FALSE(list.value()[1].contains(*net::IpAddr::parse("198.18.3.1")));
    EXPECT_TRUE(list.value()[2].contains(*net::IpAddr::parse("198.18.3.1")));
    EXPECT_EQ(list.value()[3].toString(), "::1/128");
    EXPECT_EQ(parseCidrList("2001:db8::/129").error(),
              "bad prefix length in '2001:db8::/129' (expected 0-128)");
    EXPECT_EQ(parseCidrList("198.18.0.0/33").error(), "bad prefix length in '198.18.0.0/33' (expected 0-32)");
    EXPECT_EQ(parseCidrList("[2001:db8::]/32").error(), "bad IP address in '[2001:db8::]/32'");
    EXPECT_EQ(parseCidrList("2001:db8:::/32").error(), "bad IP address in '2001:db8:::/32'");
    EXPECT_EQ(parseCidrList("::1,").error(), "empty element in CIDR list '::1,'");
}

// tcpcopy -s [::1]:PORT to intercept -b ::1 --allow ::1/128: connected, routes go through.
TEST(TunnelOverIpv6, ConnectsFromTheParsedTexts) {
    Loop loop;
    ServerLog slog;
    TunnelServerOptions opts;
    opts.listen = net::Endpoint{*net::IpAddr::parse("::1"), net::Port(0)};
    opts.allow = parseCidrList("::1/128").value();
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    const net::Endpoint bound = server.value()->localEndpoint();
    ASSERT_TRUE(bound.addr.isV6());
    auto intercepts = parseEndpointList("[::1]:" + std::to_string(bound.port.value()));
    ASSERT_TRUE(intercepts) << intercepts.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(intercepts.value().front()), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected() && !slog.up.empty(); }));
    EXPECT_EQ(slog.up[0].address.addr.toString(), "::1");
    const net::FlowKey v6flow{{*net::IpAddr::parse("2001:db8::10"), net::Port(40000)},
                              {*net::IpAddr::parse("fd00:198:18:1::2"), net::Port(80)}};
    client.addRoute(v6flow);
    ASSERT_TRUE(loop.runUntil([&] { return !slog.adds.empty(); }));
    EXPECT_EQ(slog.adds[0].second, v6flow);
}

// The same server refuses an IPv4 peer that --allow (IPv6 only) does not cover.
TEST(TunnelOverIpv6, AnIpv6AllowListRefusesIpv4Peers) {
    Loop loop;
    ServerLog slog;
    TunnelServerOptions opts;
    opts.listen = net::Endpoint{*net::IpAddr::parse("::"), net::Port(0)};  // dual stack
    opts.allow = parseCidrList("::1/128").value();
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(
        loop.base(),
        clientOptions({net::Ipv4Addr::fromOctets(127, 0, 0, 1), server.value()->localEndpoint().port}),
        clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return server.value()->counters().refused >= 1 && !clog.lost.empty(); }));
    EXPECT_NE(clog.lost[0].find("not allowed"), std::string::npos) << clog.lost[0];
    EXPECT_FALSE(client.anyConnected());
}

}  // namespace
}  // namespace tcpcopy::tunnel::testing
