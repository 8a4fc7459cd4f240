// The tunnel handshake against hand-driven peers (loopback, no root): mutual authentication,
// what an unauthenticated peer can and cannot make the other side do, versions of another
// release, and the connection cap.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "loopback.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/tunnel/tunnel_client.h"
#include "tcpcopy/tunnel/tunnel_server.h"

namespace tcpcopy::tunnel {
namespace {

using namespace std::chrono_literals;
using namespace tcpcopy::tunnel::testing;

bool closedBy(Loop& loop, RawPeer& peer) {
    return loop.runUntil([&] {
        peer.pump();
        return peer.eof();
    });
}

// tcpcopy's side of a connection to a fake intercept: the client, and the accepted socket the
// test drives by hand.
struct FakeIntercept {
    Loop loop;
    RawListener listener;
    ClientLog clog;
    std::unique_ptr<TunnelClient> client;
    std::unique_ptr<RawPeer> peer;

    explicit FakeIntercept(std::string secret) {
        auto options = clientOptions(listener.endpoint());
        options.secret = std::move(secret);
        client = std::make_unique<TunnelClient>(loop.base(), options, clog.callbacks());
        client->start();
        loop.runUntil([&] { return (peer = listener.accept()) != nullptr; });
    }
    // Completes a handshake without secret and waits until the client counts it as connected.
    bool connectWithoutSecret() {
        if (!peer || !challenge(Challenge{false, randomNonce(), kVersion})) return false;
        peer->send(HelloAck{1, std::nullopt});
        peer->enterSession();
        return loop.runUntil([&] { return client->anyConnected(); });
    }
    // Sends a CHALLENGE and returns the HELLO that comes back (nullopt if none).
    std::optional<Hello> challenge(const Challenge& c) {
        peer->send(c);
        auto m = nextFrom(loop, *peer);
        if (!m || !std::holds_alternative<Hello>(*m)) return std::nullopt;
        return std::get<Hello>(*m);
    }
};

// The intercept must prove the secret too: an impostor that accepts tcpcopy's HELLO without
// knowing the secret is refused, and tcpcopy never counts it as connected.
TEST(Handshake, TcpcopyRefusesAnInterceptThatCannotProveTheSecret) {
    FakeIntercept fake("s3cret");
    ASSERT_TRUE(fake.peer);
    Challenge c{true, randomNonce(), kVersion};
    auto hello = fake.challenge(c);
    ASSERT_TRUE(hello);
    // tcpcopy's own proof is right (the impostor could check it, not forge the answer).
    EXPECT_TRUE(macMatches(computeHelloMac("s3cret", c.nonce, hello->nonce), hello->mac));
    Mac guessed{};
    fake.peer->send(HelloAck{1, guessed});
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    EXPECT_NE(fake.clog.lost[0].find("did not prove it knows the shared secret"), std::string::npos)
        << fake.clog.lost[0];
    EXPECT_FALSE(fake.client->anyConnected());
    EXPECT_EQ(fake.clog.connected, 0);
}

TEST(Handshake, TcpcopyRefusesAHelloAckWithoutProof) {
    FakeIntercept fake("s3cret");
    ASSERT_TRUE(fake.peer);
    ASSERT_TRUE(fake.challenge(Challenge{true, randomNonce(), kVersion}));
    fake.peer->send(HelloAck{1, std::nullopt});
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    EXPECT_NE(fake.clog.lost[0].find("no HMAC in HELLO_ACK"), std::string::npos) << fake.clog.lost[0];
    EXPECT_FALSE(fake.client->anyConnected());
}

// A tcpcopy with a secret does not answer an intercept that asks for none: it would learn nothing
// about whom it talks to, and would hand its HMAC to anyone.
TEST(Handshake, TcpcopyWithASecretRefusesAnInterceptThatAsksForNone) {
    FakeIntercept fake("s3cret");
    ASSERT_TRUE(fake.peer);
    fake.peer->send(Challenge{false, randomNonce(), kVersion});
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    EXPECT_NE(fake.clog.lost[0].find("does not ask for the shared secret"), std::string::npos)
        << fake.clog.lost[0];
    EXPECT_TRUE(closedBy(fake.loop, *fake.peer));
    fake.peer->pump();
    while (auto m = fake.peer->nextMessage()) EXPECT_FALSE(std::holds_alternative<Hello>(*m));
    EXPECT_FALSE(fake.client->anyConnected());
}

TEST(Handshake, TheRealInterceptProvesTheSecretAndTcpcopyAcceptsIt) {
    Loop loop;
    ServerLog slog;
    auto options = serverOptions();
    options.secret = "s3cret";
    auto server = TunnelServer::listen(loop.base(), options, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    auto challenge = nextFrom(loop, peer);
    ASSERT_TRUE(challenge && std::holds_alternative<Challenge>(*challenge));
    const Challenge c = std::get<Challenge>(*challenge);
    EXPECT_TRUE(c.authRequired);
    const Nonce mine = randomNonce();
    peer.send(Hello{kVersion, "raw", mine, computeHelloMac("s3cret", c.nonce, mine)});
    auto ack = nextFrom(loop, peer);
    ASSERT_TRUE(ack && std::holds_alternative<HelloAck>(*ack));
    EXPECT_TRUE(macMatches(computeAckMac("s3cret", c.nonce, mine), std::get<HelloAck>(*ack).mac));
}

// Before HELLO a peer is a stranger: intercept decodes nothing but HELLO and HEARTBEAT. A
// RESPONSES frame (12 bytes announcing 65535 items) is refused as such, its payload never parsed.
TEST(Handshake, InterceptDecodesNothingButHelloBeforeTheHandshake) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    ASSERT_TRUE(nextFrom(loop, peer));                                          // CHALLENGE
    peer.send(raw({0x54, 0x43, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C,  //
                   0xFF, 0xFF, 0x00, 0x01, 0x45, 0x00, 0x01, 0x46, 0x00, 0x01, 0x47, 0x00}));
    auto reject = nextFrom(loop, peer);
    ASSERT_TRUE(reject && std::holds_alternative<Reject>(*reject));
    EXPECT_EQ(std::get<Reject>(*reject).reason, RejectReason::Protocol);
    EXPECT_EQ(std::get<Reject>(*reject).text, "RESPONSES before the handshake is complete");
    EXPECT_TRUE(closedBy(loop, peer));
    EXPECT_TRUE(slog.up.empty());
    // The same for a ROUTE_ADD: routes come from authenticated peers only.
    RawPeer second(server.value()->localEndpoint());
    ASSERT_TRUE(nextFrom(loop, second));
    second.send(RouteAdd{flow(1)});
    reject = nextFrom(loop, second);
    ASSERT_TRUE(reject && std::holds_alternative<Reject>(*reject));
    EXPECT_EQ(std::get<Reject>(*reject).text, "ROUTE_ADD before the handshake is complete");
    EXPECT_TRUE(slog.adds.empty());
}

// Before HELLO only small frames: a header announcing more than 512 bytes closes the connection
// at once, before any of the payload is buffered.
TEST(Handshake, InterceptTakesOnlySmallFramesBeforeTheHandshake) {
    Loop loop;
    ServerLog slog;
    auto options = serverOptions();
    options.handshakeTimeout = 60s;  // the close below must come from the size, not the clock
    auto server = TunnelServer::listen(loop.base(), options, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    ASSERT_TRUE(nextFrom(loop, peer));
    peer.send(raw({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01}));  // HELLO of 513 bytes
    EXPECT_TRUE(closedBy(loop, peer));
    EXPECT_EQ(server.value()->counters().malformed, 1u);
}

// tcpcopy of the previous release (protocol 1) is told in a frame it reads which version this
// intercept speaks.
TEST(Handshake, InterceptAnswersAVersion1HelloWithAClearRejectItCanRead) {
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    auto challenge = nextFrom(loop, peer);
    ASSERT_TRUE(challenge && std::holds_alternative<Challenge>(*challenge));
    EXPECT_EQ(std::get<Challenge>(*challenge).maxVersion, kVersion);
    // Exactly what tcpcopy 0.1 sends: HELLO version 1, id "old", no MAC, in a version 1 frame.
    peer.send(
        raw({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 'o', 'l', 'd', 0x00}));
    auto reject = nextFrom(loop, peer);  // decoded as a version 1 frame
    ASSERT_TRUE(reject && std::holds_alternative<Reject>(*reject));
    EXPECT_EQ(std::get<Reject>(*reject).reason, RejectReason::BadVersion);
    EXPECT_EQ(std::get<Reject>(*reject).text,
              "intercept speaks tunnel protocol 2, tcpcopy sent 1: run the same release on both sides");
    EXPECT_EQ(server.value()->counters().authFailures, 1u);
}

// The other way round: an intercept of the previous release (its CHALLENGE has no version
// flags). tcpcopy says which versions meet, to its owner and, in a REJECT, to that intercept.
TEST(Handshake, TcpcopyNamesAnInterceptOfAnotherRelease) {
    FakeIntercept fake("");
    ASSERT_TRUE(fake.peer);
    Buffer v1 = raw({0x54, 0x43, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00});
    v1.resize(v1.size() + kNonceSize, std::byte{0x11});
    fake.peer->send(v1);
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    EXPECT_NE(fake.clog.lost[0].find("speaks tunnel protocol 1, this tcpcopy 2"), std::string::npos)
        << fake.clog.lost[0];
    auto reject = nextFrom(fake.loop, *fake.peer);
    ASSERT_TRUE(reject && std::holds_alternative<Reject>(*reject));
    EXPECT_EQ(std::get<Reject>(*reject).reason, RejectReason::BadVersion);
}

// A frame header of another version in the middle of a session is named as a version mismatch.
TEST(Handshake, AFrameOfAnotherVersionIsNamedAsSuch) {
    FakeIntercept fake("");
    ASSERT_TRUE(fake.connectWithoutSecret());
    fake.peer->send(raw({0x54, 0x43, 0x03, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    EXPECT_NE(fake.clog.lost[0].find("version 3 frame where version 2 was due"), std::string::npos)
        << fake.clog.lost[0];
}

// Text a peer sends reaches the log escaped and cut: a REJECT cannot forge log lines.
TEST(Handshake, RejectTextFromAPeerIsEscapedAndCut) {
    FakeIntercept fake("");
    ASSERT_TRUE(fake.connectWithoutSecret());
    fake.peer->send(Reject{RejectReason::Protocol,
                           "bad\n2030-01-01 info [tunnel] forged line" + std::string(60000, 'x')});
    ASSERT_TRUE(fake.loop.runUntil([&] { return !fake.clog.lost.empty(); }));
    const std::string& why = fake.clog.lost[0];
    EXPECT_EQ(why.find('\n'), std::string::npos) << why.substr(0, 200);
    EXPECT_NE(why.find("bad\\x0a2030"), std::string::npos) << why.substr(0, 200);
    EXPECT_LT(why.size(), 400u);
}

// The instance id a peer names itself with (HELLO) reaches intercept's log escaped.
TEST(Handshake, TheInstanceIdIsEscapedInInterceptsLog) {
    auto captured = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*captured);
    log::setExtraSink(sink);
    Loop loop;
    ServerLog slog;
    auto server = TunnelServer::listen(loop.base(), serverOptions(), slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    ASSERT_TRUE(nextFrom(loop, peer));
    peer.send(Hello{kVersion, "evil\r\ninfo  [intercept] forged", randomNonce(), std::nullopt});
    ASSERT_TRUE(loop.runUntil([&] { return slog.up.size() == 1; }));
    log::setExtraSink(nullptr);
    const std::string text = captured->str();
    EXPECT_NE(text.find("(evil\\x0d\\x0ainfo  [intercept] forged)"), std::string::npos) << text;
    EXPECT_EQ(text.find("\ninfo  [intercept] forged"), std::string::npos) << text;
}

// Connections beyond --max-connections are refused at accept with a REJECT saying so, and counted;
// once one closes there is room again.
TEST(Handshake, ConnectionsBeyondTheCapAreRefusedAtAccept) {
    Loop loop;
    ServerLog slog;
    auto options = serverOptions();
    options.maxConnections = 2;
    auto server = TunnelServer::listen(loop.base(), options, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    auto first = std::make_unique<RawPeer>(server.value()->localEndpoint());
    RawPeer second(server.value()->localEndpoint());
    ASSERT_TRUE(nextFrom(loop, *first));
    ASSERT_TRUE(nextFrom(loop, second));
    EXPECT_EQ(server.value()->counters().connections, 2u);
    RawPeer third(server.value()->localEndpoint());
    auto reject = nextFrom(loop, third);
    ASSERT_TRUE(reject && std::holds_alternative<Reject>(*reject));
    EXPECT_EQ(std::get<Reject>(*reject).reason, RejectReason::TooManyConnections);
    EXPECT_TRUE(closedBy(loop, third));
    EXPECT_EQ(server.value()->counters().refusedBusy, 1u);
    first.reset();
    ASSERT_TRUE(loop.runUntil([&] { return server.value()->counters().connections == 1; }));
    RawPeer fourth(server.value()->localEndpoint());
    auto challenge = nextFrom(loop, fourth);
    ASSERT_TRUE(challenge && std::holds_alternative<Challenge>(*challenge));
}

}  // namespace
}  // namespace tcpcopy::tunnel
