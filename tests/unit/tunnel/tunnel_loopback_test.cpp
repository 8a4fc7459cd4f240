// TunnelClient and TunnelServer talking over loopback on one EventBase (no root needed).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "loopback.h"
#include "tcpcopy/tunnel/tunnel_client.h"
#include "tcpcopy/tunnel/tunnel_server.h"

namespace tcpcopy::tunnel {
namespace {

using namespace std::chrono_literals;
using namespace tcpcopy::tunnel::testing;

TEST(TunnelLoopback, HandshakeRoutesAndResponsesFlowBothWays) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(server.value()->localEndpoint()), clog.callbacks());
    EXPECT_FALSE(client.anyConnected());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected() && slog.up.size() == 1; }));
    EXPECT_EQ(slog.up[0].instanceId, "unit-test");
    EXPECT_EQ(clog.connected, 1);

    client.addRoute(flow(1000));
    client.addRoute(flow(1000));  // no-op
    ASSERT_TRUE(loop.runUntil([&] { return slog.adds.size() == 1; }));
    EXPECT_EQ(slog.adds[0].first, slog.up[0].id);
    EXPECT_EQ(slog.adds[0].second, flow(1000));

    for (int i = 0; i < 5; ++i) server.value()->sendResponse(slog.up[0].id, header(i, 40 + i));
    ASSERT_TRUE(loop.runUntil([&] { return clog.responses.size() == 5; }));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(clog.responses[i], header(i, 40 + i));
    // Five items added in one loop turn travel as one batch.
    EXPECT_EQ(server.value()->counters().batchesSent, 1u);
    EXPECT_EQ(server.value()->counters().responsesSent, 5u);

    client.removeRoute(flow(1000));
    client.removeRoute(flow(2000));  // unknown: no-op
    ASSERT_TRUE(loop.runUntil([&] { return slog.dels.size() == 1; }));
    EXPECT_EQ(slog.dels[0].second, flow(1000));
    loop.runFor(20ms);
    EXPECT_EQ(slog.dels.size(), 1u);
    const auto& c = client.counters();
    EXPECT_EQ(c.routesSent, 1u);
    EXPECT_EQ(c.routeDelsSent, 1u);
    EXPECT_EQ(c.responses, 5u);
    EXPECT_EQ(c.liveRoutes, 0u);
    EXPECT_GE(c.framesIn, 3u);  // challenge, ack, responses
}

TEST(TunnelLoopback, MatchingSecretAuthenticates) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.secret = "s3cret";
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    auto copts = clientOptions(server.value()->localEndpoint());
    copts.secret = "s3cret";
    TunnelClient client(loop.base(), copts, clog.callbacks());
    client.start();
    EXPECT_TRUE(loop.runUntil([&] { return client.anyConnected(); }));
    EXPECT_EQ(server.value()->counters().authFailures, 0u);
}

TEST(TunnelLoopback, WrongOrMissingSecretIsRejected) {
    for (std::string clientSecret : {"wrong", ""}) {
        Loop loop;
        ServerLog slog;
        auto opts = serverOptions();
        opts.secret = "s3cret";
        auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
        ASSERT_TRUE(server) << server.error();
        ClientLog clog;
        auto copts = clientOptions(server.value()->localEndpoint());
        copts.secret = clientSecret;
        TunnelClient client(loop.base(), copts, clog.callbacks());
        client.start();
        ASSERT_TRUE(loop.runUntil([&] { return !clog.lost.empty(); })) << clientSecret;
        EXPECT_FALSE(client.anyConnected());
        EXPECT_TRUE(slog.up.empty());
        if (clientSecret.empty()) {
            EXPECT_NE(clog.lost[0].find("requires a shared secret"), std::string::npos) << clog.lost[0];
        } else {
            EXPECT_NE(clog.lost[0].find("authentication failed"), std::string::npos) << clog.lost[0];
            EXPECT_GE(server.value()->counters().authFailures, 1u);
        }
    }
}

TEST(TunnelLoopback, PeersOutsideAllowAreRefused) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.allow = parseCidrList("10.0.0.0/8").value();
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(server.value()->localEndpoint()), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return server.value()->counters().refused >= 1 && !clog.lost.empty(); }));
    EXPECT_NE(clog.lost[0].find("not allowed"), std::string::npos) << clog.lost[0];
    EXPECT_FALSE(client.anyConnected());
}

TEST(TunnelLoopback, CidrParsing) {
    auto list = parseCidrList("127.0.0.0/8, 198.18.0.0/15,192.0.2.7");
    ASSERT_TRUE(list) << list.error();
    ASSERT_EQ(list.value().size(), 3u);
    EXPECT_TRUE(list.value()[0].contains(net::Ipv4Addr::fromOctets(127, 9, 9, 9)));
    EXPECT_TRUE(list.value()[1].contains(net::Ipv4Addr::fromOctets(198, 19, 255, 1)));
    EXPECT_FALSE(list.value()[1].contains(net::Ipv4Addr::fromOctets(198, 20, 0, 1)));
    EXPECT_TRUE(list.value()[2].contains(net::Ipv4Addr::fromOctets(192, 0, 2, 7)));
    EXPECT_FALSE(list.value()[2].contains(net::Ipv4Addr::fromOctets(192, 0, 2, 8)));
    EXPECT_TRUE(parseCidrList("0.0.0.0/0").value()[0].contains(net::Ipv4Addr::fromOctets(1, 2, 3, 4)));
    EXPECT_FALSE(parseCidrList("1.2.3.4/33"));
    EXPECT_FALSE(parseCidrList("1.2.3/8"));
    EXPECT_FALSE(parseCidrList("1.2.3.4,,"));
    EXPECT_NE(parseCidrList("10.0.0.0/x").error().find("10.0.0.0/x"), std::string::npos);
}

TEST(TunnelLoopback, EndpointListParsing) {
    auto list = parseEndpointList("198.18.0.2,198.18.0.3:4000");
    ASSERT_TRUE(list) << list.error();
    ASSERT_EQ(list.value().size(), 2u);
    EXPECT_EQ(list.value()[0].toString(), "198.18.0.2:36524");
    EXPECT_EQ(list.value()[1].toString(), "198.18.0.3:4000");
    EXPECT_FALSE(parseEndpointList("198.18.0.2:0"));
    EXPECT_FALSE(parseEndpointList("198.18.0.2:70000"));
    EXPECT_FALSE(parseEndpointList("host:80"));
    EXPECT_FALSE(parseEndpointList(""));
    EXPECT_NE(parseEndpointList("1.2.3.4,x").error().find("'x'"), std::string::npos);
}

// intercept -b ::: one listener takes tcpcopy over IPv4 (seen as the IPv4 address, not
// ::ffff:127.0.0.1, so an IPv4 --allow entry matches) and over IPv6, and an IPv6 flow's route and
// response headers travel like an IPv4 one's.
TEST(TunnelLoopback, DualStackListenerServesBothFamilies) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.listen = net::Endpoint{*net::IpAddr::parse("::"), net::Port(0)};
    opts.allow = parseCidrList("127.0.0.0/8,::1/128").value();
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    const net::Port port = server.value()->localEndpoint().port;
    ClientLog v4log, v6log;
    TunnelClient v4(loop.base(), clientOptions(net::Endpoint{net::Ipv4Addr::fromOctets(127, 0, 0, 1), port}),
                    v4log.callbacks());
    TunnelClient v6(loop.base(), clientOptions(net::Endpoint{*net::IpAddr::parse("::1"), port}),
                    v6log.callbacks());
    v4.start();
    v6.start();
    ASSERT_TRUE(loop.runUntil([&] { return v4.anyConnected() && v6.anyConnected() && slog.up.size() == 2; }));
    std::set<std::string> peers;
    for (const PeerInfo& p : slog.up) peers.insert(p.address.addr.toString());
    EXPECT_EQ(peers, (std::set<std::string>{"127.0.0.1", "::1"}));
    EXPECT_EQ(server.value()->counters().refused, 0u);

    const net::FlowKey v6flow{{*net::IpAddr::parse("2001:db8::11"), net::Port(40000)},
                              {*net::IpAddr::parse("fd00:198:18:1::2"), net::Port(80)}};
    v6.addRoute(v6flow);
    ASSERT_TRUE(loop.runUntil([&] { return slog.adds.size() == 1; }));
    EXPECT_EQ(slog.adds[0].second, v6flow);
    const PeerId v6peer = slog.adds[0].first;
    Buffer response(60, std::byte{0});
    response[0] = std::byte{0x60};
    server.value()->sendResponse(v6peer, response);
    ASSERT_TRUE(loop.runUntil([&] { return v6log.responses.size() == 1; }));
    EXPECT_EQ(v6log.responses[0], response);
    EXPECT_TRUE(v4log.responses.empty());
}

TEST(TunnelLoopback, MalformedFrameClosesOnlyThatConnection) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(server.value()->localEndpoint()), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected(); }));

    RawPeer bad(server.value()->localEndpoint());
    ASSERT_TRUE(bad.connected());
    std::optional<Message> ack;
    ASSERT_TRUE(rawHandshake(loop, bad, ack));
    ASSERT_TRUE(std::holds_alternative<HelloAck>(*ack));
    ASSERT_TRUE(loop.runUntil([&] { return slog.up.size() == 2; }));
    // A ROUTE_ADD with an impossible address family.
    Buffer frame = {std::byte{0x54}, std::byte{0x43}, std::byte{2}, std::byte{5}, std::byte{0}, std::byte{0},
                    std::byte{0},    std::byte{0},    std::byte{0}, std::byte{1}, std::byte{9}};
    bad.send(frame);
    ASSERT_TRUE(loop.runUntil([&] {
        bad.pump();
        return bad.eof();
    }));
    EXPECT_EQ(server.value()->counters().malformed, 1u);
    ASSERT_EQ(slog.down.size(), 1u);
    EXPECT_NE(slog.down[0].second.find("malformed ROUTE_ADD"), std::string::npos) << slog.down[0].second;
    // The well-behaved client is untouched.
    client.addRoute(flow(5));
    ASSERT_TRUE(loop.runUntil([&] { return slog.adds.size() == 1; }));
    EXPECT_TRUE(client.anyConnected());
    EXPECT_EQ(server.value()->peerCount(), 1u);
}

TEST(TunnelLoopback, GarbageBeforeHandshakeIsDropped) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer http(server.value()->localEndpoint());
    http.send(Buffer{std::byte{'G'}, std::byte{'E'}, std::byte{'T'}, std::byte{' '}});
    ASSERT_TRUE(loop.runUntil([&] {
        http.pump();
        return http.eof();
    }));
    EXPECT_EQ(server.value()->counters().malformed, 1u);
    EXPECT_TRUE(slog.up.empty());
}

TEST(TunnelLoopback, SilentPeerIsDroppedAfterIdleTimeout) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.heartbeatInterval = 50ms;
    opts.idleTimeout = 200ms;
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer silent(server.value()->localEndpoint());
    std::optional<Message> ack;
    ASSERT_TRUE(rawHandshake(loop, silent, ack));
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(loop.runUntil([&] { return slog.down.size() == 1; }, 2000ms));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 150ms);
    EXPECT_EQ(server.value()->counters().idleDropped, 1u);
    // The server sent heartbeats meanwhile.
    silent.pump();
    int heartbeats = 0;
    while (auto m = silent.nextMessage()) heartbeats += std::holds_alternative<Heartbeat>(*m) ? 1 : 0;
    EXPECT_GE(heartbeats, 2);
}

TEST(TunnelLoopback, ClientHeartbeatsKeepAnIdleConnectionAlive) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.heartbeatInterval = 30ms;
    opts.idleTimeout = 150ms;
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    auto copts = clientOptions(server.value()->localEndpoint());
    copts.heartbeatInterval = 30ms;
    copts.idleTimeout = 150ms;
    TunnelClient client(loop.base(), copts, clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected(); }));
    loop.runFor(600ms);
    EXPECT_TRUE(client.anyConnected());
    EXPECT_TRUE(slog.down.empty());
    EXPECT_TRUE(clog.lost.empty());
}

TEST(TunnelLoopback, ClientReconnectsAndResendsLiveRoutes) {
    Loop loop;
    ServerLog first;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), first.callbacks());
    ASSERT_TRUE(server) << server.error();
    net::Endpoint where = server.value()->localEndpoint();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(where), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected(); }));
    client.addRoute(flow(1));
    client.addRoute(flow(2));
    client.addRoute(flow(3));
    client.removeRoute(flow(2));
    ASSERT_TRUE(loop.runUntil([&] { return first.adds.size() == 3 && first.dels.size() == 1; }));

    server.value().reset();  // intercept restarts
    ASSERT_TRUE(loop.runUntil([&] { return !client.anyConnected() && clog.lost.size() == 1; }));
    ServerLog second;
    auto opts = serverOptions();
    opts.listen = where;
    auto again = TunnelServer::listen(loop.base(), opts, second.callbacks());
    ASSERT_TRUE(again) << again.error();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected() && second.adds.size() == 2; }));
    std::set<net::FlowKey> resent;
    for (auto& [id, f] : second.adds) resent.insert(f);
    EXPECT_EQ(resent, (std::set<net::FlowKey>{flow(1), flow(3)}));
    EXPECT_EQ(clog.connected, 2);
    EXPECT_GE(client.counters().reconnects, 1u);
    EXPECT_EQ(client.counters().connects, 2u);
}

TEST(TunnelLoopback, SeveralConnectionsSplitRoutesByFlowHash) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    auto copts = clientOptions(server.value()->localEndpoint());
    copts.connectionsPerIntercept = 3;
    TunnelClient client(loop.base(), copts, clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.counters().connected == 3; }));
    for (std::uint16_t p = 1; p <= 60; ++p) client.addRoute(flow(p));
    ASSERT_TRUE(loop.runUntil([&] { return slog.adds.size() == 60; }));
    loop.runFor(20ms);
    EXPECT_EQ(slog.adds.size(), 60u);  // each route on exactly one connection
    std::map<PeerId, int> perPeer;
    std::set<net::FlowKey> flows;
    for (auto& [id, f] : slog.adds) {
        ++perPeer[id];
        flows.insert(f);
    }
    EXPECT_EQ(flows.size(), 60u);
    EXPECT_EQ(perPeer.size(), 3u);
    // Removing goes to the connection that has the route.
    std::map<net::FlowKey, PeerId> owner;
    for (auto& [id, f] : slog.adds) owner[f] = id;
    client.removeRoute(flow(7));
    ASSERT_TRUE(loop.runUntil([&] { return slog.dels.size() == 1; }));
    EXPECT_EQ(slog.dels[0].first, owner[flow(7)]);
}

TEST(TunnelLoopback, EveryInterceptGetsEveryRouteAndAnyMayAnswer) {
    // m x n: one tcpcopy, two intercepts (e.g. two assistant hosts): each learns every route,
    // and responses from either reach the client.
    Loop loop;
    ServerLog first, second;
    auto a = TunnelServer::listen(loop.base(), serverOptions(), first.callbacks());
    auto b = TunnelServer::listen(loop.base(), serverOptions(), second.callbacks());
    ASSERT_TRUE(a) << a.error();
    ASSERT_TRUE(b) << b.error();
    ClientLog clog;
    auto copts = clientOptions(a.value()->localEndpoint());
    copts.intercepts.push_back(b.value()->localEndpoint());
    TunnelClient client(loop.base(), copts, clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.allInterceptsConnected(); }));
    for (std::uint16_t p = 1; p <= 10; ++p) client.addRoute(flow(p));
    ASSERT_TRUE(loop.runUntil([&] { return first.adds.size() == 10 && second.adds.size() == 10; }));
    a.value()->sendResponse(first.up.at(0).id, header(1));
    b.value()->sendResponse(second.up.at(0).id, header(2));
    ASSERT_TRUE(loop.runUntil([&] { return clog.responses.size() == 2; }));
    std::set<Buffer> got(clog.responses.begin(), clog.responses.end());
    EXPECT_EQ(got, (std::set<Buffer>{header(1), header(2)}));
}

TEST(TunnelLoopback, PeerThatStopsReadingLosesOldestBatchesNotTheServer) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.maxQueuedBytes = 256 << 10;
    opts.batchBytes = 16 << 10;
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer sleeper(server.value()->localEndpoint());
    int small = 4096;
    ::setsockopt(sleeper.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::optional<Message> ack;
    ASSERT_TRUE(rawHandshake(loop, sleeper, ack));
    PeerId id = std::get<HelloAck>(*ack).peerId;
    Buffer item = header(1, 1000);
    for (int round = 0; round < 40; ++round) {
        for (int i = 0; i < 1000; ++i) server.value()->sendResponse(id, item);
        loop.runFor(1ms);
    }
    server.value()->flush();
    auto c = server.value()->counters();
    EXPECT_EQ(c.responsesSent, 40000u);
    EXPECT_GT(c.queueDrops, 0u);
    EXPECT_LT(c.queueDrops, 40000u);
    EXPECT_EQ(server.value()->peerCount(), 1u);  // still connected: only responses are dropped
}

// Responses added by the callbacks of one loop turn leave as one batch at the end of that turn:
// no timer holds them back, and a turn that adds nothing sends nothing.
TEST(TunnelLoopback, ResponsesOfOneLoopTurnLeaveTogetherAtItsEnd) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(server.value()->localEndpoint()), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected() && slog.up.size() == 1; }));
    const PeerId id = slog.up[0].id;
    const auto before = server.value()->counters();
    // Two captures read in the same turn.
    auto first = os::Event::timer(loop.base(), [&](short) {
                     for (int i = 0; i < 3; ++i) server.value()->sendResponse(id, header(i));
                 }).value();
    auto second = os::Event::timer(loop.base(), [&](short) {
                      server.value()->sendResponse(id, header(3));
                      EXPECT_EQ(server.value()->counters().batchesSent, before.batchesSent);  // not yet
                  }).value();
    first.add(os::Duration(0));
    second.add(os::Duration(0));
    ASSERT_TRUE(loop.base().runOnce(true));
    const auto after = server.value()->counters();
    EXPECT_EQ(after.batchesSent, before.batchesSent + 1);
    EXPECT_EQ(after.responsesSent, before.responsesSent + 4);
    ASSERT_TRUE(loop.runUntil([&] { return clog.responses.size() == 4; }));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(clog.responses[static_cast<std::size_t>(i)], header(i));
}

TEST(TunnelLoopback, AFlushDelayHoldsAPartialBatchUntilItExpires) {
    Loop loop;
    ServerLog slog;
    auto opts = serverOptions();
    opts.flushDelay = std::chrono::seconds(30);  // never expires during the test
    auto server = TunnelServer::listen(loop.base(), opts, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    ClientLog clog;
    TunnelClient client(loop.base(), clientOptions(server.value()->localEndpoint()), clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.anyConnected() && slog.up.size() == 1; }));
    server.value()->sendResponse(slog.up[0].id, header(1));
    ASSERT_TRUE(loop.base().runOnce(false));
    EXPECT_EQ(server.value()->counters().batchesSent, 0u);
    server.value()->flush();
    EXPECT_EQ(server.value()->counters().batchesSent, 1u);
    ASSERT_TRUE(loop.runUntil([&] { return clog.responses.size() == 1; }));
}

// More intercepts than a route keeps inline (8): every one gets the route and its withdrawal.
TEST(TunnelLoopback, RoutesReachEveryOneOfManyIntercepts) {
    Loop loop;
    constexpr int kIntercepts = 10;
    std::vector<ServerLog> logs(kIntercepts);
    std::vector<std::unique_ptr<TunnelServer>> servers;
    TunnelClientOptions copts;
    copts.instanceId = "unit-test";
    copts.reconnectMin = 20ms;
    copts.reconnectMax = 100ms;
    for (auto& log : logs) {
        auto server = TunnelServer::listen(loop.base(), serverOptions(), log.callbacks());
        ASSERT_TRUE(server) << server.error();
        copts.intercepts.push_back(server.value()->localEndpoint());
        servers.push_back(std::move(server).value());
    }
    ClientLog clog;
    TunnelClient client(loop.base(), copts, clog.callbacks());
    client.start();
    ASSERT_TRUE(loop.runUntil([&] { return client.allInterceptsConnected(); }));
    for (std::uint16_t p = 1; p <= 3; ++p) client.addRoute(flow(p));
    client.removeRoute(flow(2));
    auto all = [&](auto field, std::size_t n) {
        return std::all_of(logs.begin(), logs.end(),
                           [&](const ServerLog& l) { return (l.*field).size() == n; });
    };
    ASSERT_TRUE(loop.runUntil([&] { return all(&ServerLog::adds, 3) && all(&ServerLog::dels, 1); }));
    for (const auto& log : logs) {
        EXPECT_EQ(log.adds[1].second, flow(2));
        EXPECT_EQ(log.dels[0].second, flow(2));
    }
    EXPECT_EQ(client.counters().liveRoutes, 2u);
    EXPECT_EQ(client.counters().routesSent, 3u * kIntercepts);
}

}  // namespace
}  // namespace tcpcopy::tunnel
