// Response payloads through the tunnel (intercept --payload, tcpcopy --response-payload): the
// RESPONSE_PAYLOADS layout byte by byte, the payload sizes negotiated in HELLO's and HELLO_ACK's
// flags, peers that did not ask (or an intercept that does not grant) getting headers only, and
// the total bound on payload bytes waiting at intercept.
#include <gtest/gtest.h>

#include "loopback.h"
#include "tcpcopy/tunnel/codec.h"
#include "tcpcopy/tunnel/tunnel_client.h"
#include "tcpcopy/tunnel/tunnel_server.h"

namespace tcpcopy::tunnel {
namespace {

using namespace std::chrono_literals;
using namespace tcpcopy::tunnel::testing;

// An IPv4/TCP packet of `payload` bytes ('a', 'b', ...): 20-byte IP header, 20-byte TCP header.
Buffer packet(std::size_t payload) {
    Buffer p(40 + payload, std::byte{0});
    p[0] = std::byte{0x45};
    const std::size_t total = p.size();
    p[2] = static_cast<std::byte>(total >> 8);
    p[3] = static_cast<std::byte>(total & 0xFF);
    p[8] = std::byte{64};
    p[9] = std::byte{6};
    p[32] = std::byte{0x50};  // TCP data offset 5 words
    for (std::size_t i = 0; i < payload; ++i) p[40 + i] = static_cast<std::byte>('a' + i % 26);
    return p;
}

Message decodeOne(const Buffer& wire, MessageError expected = MessageError::None) {
    FrameDecoder decoder(kMaxPayload, std::to_integer<std::uint8_t>(wire.at(2)));
    decoder.feed(wire);
    Frame frame;
    EXPECT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message message;
    EXPECT_EQ(decodeMessage(frame, message), expected);
    return message;
}

TEST(PayloadCodec, ResponsePayloadsGoldenBytes) {
    const Buffer header = raw({0x45, 0x00, 0x00, 0x2c});
    const Buffer hi = raw({'h', 'i'});
    Buffer out;
    EXPECT_EQ(encode(out, ResponsePayloads{{PayloadItem{header, 4, hi}}}), 1u);
    EXPECT_EQ(out, raw({0x54, 0x43, 0x02, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,  // header, 16 bytes
                        0x00, 0x01,                                                  // one item
                        0x00, 0x04, 0x45, 0x00, 0x00, 0x2c,                          // IP+TCP header
                        0x00, 0x00, 0x00, 0x04,                                      // payload length 4
                        0x00, 0x02, 'h',  'i'}));                                    // 2 bytes captured
    FrameDecoder decoder;  // the items are views into its buffer
    decoder.feed(out);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message message;
    ASSERT_EQ(decodeMessage(frame, message), MessageError::None);
    const auto& m = std::get<ResponsePayloads>(message);
    ASSERT_EQ(m.items.size(), 1u);
    EXPECT_TRUE(std::ranges::equal(m.items[0].header, header));
    EXPECT_EQ(m.items[0].payloadLength, 4u);
    EXPECT_TRUE(std::ranges::equal(m.items[0].captured, hi));
}

TEST(PayloadCodec, HelloAndHelloAckCarryThePayloadSizeInTheirFlags) {
    Nonce nonce{};
    Buffer hello;
    encode(hello, Hello{kVersion, "ab", nonce, std::nullopt, 512});
    EXPECT_EQ(Buffer(hello.begin(), hello.begin() + 10),
              raw({0x54, 0x43, 0x01, 0x02, 0x02, 0x00, 0, 0, 0, 0x25}));
    EXPECT_EQ(std::get<Hello>(decodeOne(hello)).payloadBytes, 512);
    Buffer ack;
    encode(ack, HelloAck{0x01020304, std::nullopt, 256});
    EXPECT_EQ(ack, raw({0x54, 0x43, 0x01, 0x03, 0x01, 0x00, 0, 0, 0, 0x05, 0x01, 0x02, 0x03, 0x04, 0x00}));
    EXPECT_EQ(std::get<HelloAck>(decodeOne(ack)).payloadBytes, 256);
    // What a release without payloads writes (flags 0) reads as "headers only".
    EXPECT_EQ(std::get<HelloAck>(decodeOne(raw({0x54, 0x43, 0x01, 0x03, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 1, 0})))
                  .payloadBytes,
              0);
}

TEST(PayloadCodec, MalformedItemsAreRejected) {
    // Two bytes captured of a one-byte payload.
    decodeOne(
        raw({0x54, 0x43, 0x02, 0x09, 0, 0, 0, 0, 0, 0x0d, 0, 1, 0, 1, 0x45, 0, 0, 0, 1, 0, 2, 'h', 'i'}),
        MessageError::BadValue);
    // An empty header.
    decodeOne(raw({0x54, 0x43, 0x02, 0x09, 0, 0, 0, 0, 0, 0x0a, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}),
              MessageError::BadValue);
    // Cut inside the payload length.
    decodeOne(raw({0x54, 0x43, 0x02, 0x09, 0, 0, 0, 0, 0, 0x07, 0, 1, 0, 1, 0x45, 0, 0}),
              MessageError::Truncated);
    // A byte after the last item.
    decodeOne(raw({0x54, 0x43, 0x02, 0x09, 0, 0, 0, 0, 0, 0x0c, 0, 1, 0, 1, 0x45, 0, 0, 0, 0, 0, 0, 9}),
              MessageError::TrailingBytes);
    // The encoder skips what it cannot write.
    Buffer out;
    EXPECT_EQ(encode(out, ResponsePayloads{{PayloadItem{raw({0x45}), 1, raw({1, 2})}}}), 0u);
}

TEST(PayloadCodec, ResponsePrefixKeepsAtMostTheLimitAndSplitsBack) {
    const Buffer p = packet(10);
    EXPECT_TRUE(std::ranges::equal(responsePrefix(p, 0), responseHeaderBytes(p)));
    EXPECT_EQ(responsePrefix(p, 4).size(), 44u);
    EXPECT_EQ(responsePrefix(p, 100).size(), 50u);
    const ResponseParts parts = splitResponse(responsePrefix(p, 4));
    EXPECT_EQ(parts.header.size(), 40u);
    EXPECT_EQ(parts.payloadLength, 10u);
    EXPECT_TRUE(std::ranges::equal(parts.payload, raw({'a', 'b', 'c', 'd'})));
    EXPECT_TRUE(splitResponse(raw({0x45, 0, 0})).header.empty());
    EXPECT_TRUE(responsePrefix(raw({0x60, 0, 0}), 10).empty());
}

// A DNS answer from 198.18.1.2:53 to 192.0.2.7:40000 with a 5-byte payload.
Buffer udpAnswer() {
    return raw({0x45, 0,   0,    33,   0,  1,  0x40, 0,    64, 17, 0, 0, 198, 18, 1, 2, 192, 0, 2, 7,  // IPv4
                0,    53,  0x9c, 0x40, 0,  13, 0xab, 0xcd,                                             // UDP
                'h',  'e', 'l',  'l',  'o'});
}

TEST(PayloadCodec, UdpAnswersTravelAsTheirIpAndUdpHeaders) {
    const Buffer answer = udpAnswer();
    const net::Bytes header = udpResponseHeader(answer);
    ASSERT_EQ(header.size(), 28u);
    // A RESPONSES item as any other: the frame layout does not change, the IP protocol says UDP.
    Buffer out;
    EXPECT_EQ(encode(out, Responses{{header}}), 1u);
    EXPECT_EQ(out,
              raw({0x54, 0x43, 0x02, 0x07, 0, 0,  0,    0,   0,  32, 0, 1, 0,   28,                      //
                   0x45, 0,    0,    33,   0, 1,  0x40, 0,   64, 17, 0, 0, 198, 18, 1, 2, 192, 0, 2, 7,  //
                   0,    53,   0x9c, 0x40, 0, 13, 0xab, 0xcd}));
    // With payloads granted: the header, the payload length the UDP length states, what is there.
    const ResponseParts parts = splitResponse(answer);
    EXPECT_EQ(parts.header.size(), 28u);
    EXPECT_EQ(parts.payloadLength, 5u);
    EXPECT_TRUE(std::ranges::equal(parts.payload, raw({'h', 'e', 'l', 'l', 'o'})));
    EXPECT_EQ(splitResponse(header).payloadLength, 5u);
    EXPECT_TRUE(splitResponse(header).payload.empty());
    EXPECT_TRUE(splitResponse(net::Bytes(answer).first(24)).header.empty());  // half a UDP header
    // Not forwarded: TCP, a later fragment (no UDP header), half a UDP header.
    EXPECT_TRUE(udpResponseHeader(packet(4)).empty());
    Buffer later = answer;
    later[7] = std::byte{0x10};  // fragment offset 16 (x8 bytes)
    EXPECT_TRUE(udpResponseHeader(later).empty());
    Buffer cut = answer;
    cut.resize(24);
    EXPECT_TRUE(udpResponseHeader(cut).empty());
}

struct PayloadLog {
    ClientLog clog;
    std::vector<std::pair<std::uint32_t, Buffer>> payloads;
    TunnelClientCallbacks callbacks() {
        TunnelClientCallbacks cb = clog.callbacks();
        cb.onResponsePayload = [this](net::Bytes, std::uint32_t length, net::Bytes captured) {
            payloads.emplace_back(length, Buffer(captured.begin(), captured.end()));
        };
        return cb;
    }
};

// A server with --payload `grant` and a client asking for `ask`, connected.
struct Pair {
    Loop loop;
    ServerLog slog;
    PayloadLog plog;
    std::unique_ptr<TunnelServer> server;
    std::unique_ptr<TunnelClient> client;
    Pair(std::uint16_t grant, std::uint16_t ask, std::size_t maxPayloadQueued = 64u << 20) {
        auto so = serverOptions();
        so.payloadBytes = grant;
        so.maxPayloadQueuedBytes = maxPayloadQueued;
        server = std::move(TunnelServer::listen(loop.base(), so, slog.callbacks())).value();
        auto co = clientOptions(server->localEndpoint());
        co.payloadBytes = ask;
        client = std::make_unique<TunnelClient>(loop.base(), co, plog.callbacks());
        client->start();
        EXPECT_TRUE(loop.runUntil([&] { return client->anyConnected() && slog.up.size() == 1; }));
    }
    PeerId peer() const { return slog.up.at(0).id; }
};

TEST(PayloadTunnel, AClientThatAsksGetsUpToTheSmallerOfBothSizes) {
    Pair pair(100, 512);
    const Buffer p = packet(300);
    pair.server->sendResponse(pair.peer(), responsePrefix(p, 100));
    pair.server->sendResponse(pair.peer(), responsePrefix(packet(0), 100));  // a bare ACK
    ASSERT_TRUE(pair.loop.runUntil([&] { return pair.plog.payloads.size() == 2; }));
    // The engine's header exactly as without payloads; the payload beside it.
    ASSERT_EQ(pair.plog.clog.responses.size(), 2u);
    EXPECT_EQ(pair.plog.clog.responses[0], Buffer(p.begin(), p.begin() + 40));
    EXPECT_EQ(pair.plog.payloads[0].first, 300u);
    EXPECT_EQ(pair.plog.payloads[0].second, Buffer(p.begin() + 40, p.begin() + 140));
    EXPECT_EQ(pair.plog.payloads[1].first, 0u);
    EXPECT_TRUE(pair.plog.payloads[1].second.empty());
    const auto& c = pair.client->counters();
    EXPECT_EQ(c.payloadItems, 2u);
    EXPECT_EQ(c.payloadBytes, 100u);
    EXPECT_EQ(c.payloadMissing, 200u);
    EXPECT_EQ(c.responses, 2u);
    const auto s = pair.server->counters();
    EXPECT_EQ(s.payloadPeers, 1u);
    EXPECT_EQ(s.payloadItems, 2u);
    EXPECT_EQ(s.payloadBytes, 100u);
}

TEST(PayloadTunnel, AClientThatDoesNotAskGetsHeadersOnly) {
    Pair pair(100, 0);
    const Buffer p = packet(300);
    pair.server->sendResponse(pair.peer(), responsePrefix(p, 100));
    ASSERT_TRUE(pair.loop.runUntil([&] { return pair.plog.clog.responses.size() == 1; }));
    EXPECT_EQ(pair.plog.clog.responses[0], Buffer(p.begin(), p.begin() + 40));
    EXPECT_TRUE(pair.plog.payloads.empty());
    EXPECT_EQ(pair.server->counters().payloadPeers, 0u);
    EXPECT_EQ(pair.server->counters().payloadItems, 0u);
    EXPECT_EQ(pair.client->counters().payloadDenied, 0u);
}

TEST(PayloadTunnel, AnInterceptWithoutPayloadGrantsNoneAndTheClientSaysSo) {
    Pair pair(0, 512);
    EXPECT_EQ(pair.client->counters().payloadDenied, 1u);
    const Buffer p = packet(30);
    pair.server->sendResponse(pair.peer(), responsePrefix(p, 0));
    ASSERT_TRUE(pair.loop.runUntil([&] { return pair.plog.clog.responses.size() == 1; }));
    EXPECT_EQ(pair.plog.clog.responses[0], Buffer(p.begin(), p.begin() + 40));
    EXPECT_TRUE(pair.plog.payloads.empty());
}

// A tcpcopy of the release before payloads writes HELLO flags 0: it only ever sees RESPONSES.
TEST(PayloadTunnel, AnOlderTcpcopyNeverReceivesPayloadMessages) {
    Loop loop;
    ServerLog slog;
    auto so = serverOptions();
    so.payloadBytes = 100;
    auto server = TunnelServer::listen(loop.base(), so, slog.callbacks());
    ASSERT_TRUE(server) << server.error();
    RawPeer peer(server.value()->localEndpoint());
    auto challenge = nextFrom(loop, peer);
    ASSERT_TRUE(challenge && std::holds_alternative<Challenge>(*challenge));
    // HELLO version 2, id "old", tcpcopy's nonce, no MAC, flags 0: byte for byte what it sends.
    Buffer hello =
        raw({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x26, 0x02, 0x03, 'o', 'l', 'd'});
    hello.resize(hello.size() + kNonceSize, std::byte{0x22});
    hello.push_back(std::byte{0});
    peer.send(hello);
    auto ack = nextFrom(loop, peer);
    ASSERT_TRUE(ack && std::holds_alternative<HelloAck>(*ack));
    EXPECT_EQ(std::get<HelloAck>(*ack).payloadBytes, 0);
    peer.enterSession();
    ASSERT_TRUE(loop.runUntil([&] { return slog.up.size() == 1; }));
    server.value()->sendResponse(slog.up[0].id, responsePrefix(packet(300), 100));
    server.value()->sendResponse(slog.up[0].id, responsePrefix(packet(5), 100));
    auto responses = nextFrom(loop, peer);
    ASSERT_TRUE(responses && std::holds_alternative<Responses>(*responses));
    ASSERT_EQ(std::get<Responses>(*responses).items.size(), 2u);
    for (net::Bytes item : std::get<Responses>(*responses).items) EXPECT_EQ(item.size(), 40u);
    EXPECT_EQ(server.value()->counters().payloadItems, 0u);
}

// A client asking for 8 payload bytes, to a hand-driven intercept that has sent its CHALLENGE and
// read the HELLO.
struct AskingClient {
    Loop loop;
    RawListener listener;
    PayloadLog plog;
    std::unique_ptr<TunnelClient> client;
    std::unique_ptr<RawPeer> peer;
    std::optional<Hello> hello;
    AskingClient() {
        auto co = clientOptions(listener.endpoint());
        co.payloadBytes = 8;
        client = std::make_unique<TunnelClient>(loop.base(), co, plog.callbacks());
        client->start();
        if (!loop.runUntil([&] { return (peer = listener.accept()) != nullptr; })) return;
        peer->send(Challenge{false, randomNonce(), kVersion});
        auto m = nextFrom(loop, *peer);
        if (m && std::holds_alternative<Hello>(*m)) hello = std::get<Hello>(*m);
    }
};

// An intercept that sends payloads it did not grant (or more than it granted) is cut off.
TEST(PayloadTunnel, PayloadsNotGrantedCloseTheConnection) {
    AskingClient a;
    ASSERT_TRUE(a.hello);
    EXPECT_EQ(a.hello->payloadBytes, 8);
    a.peer->send(HelloAck{1, std::nullopt, 0});  // an intercept without --payload
    a.peer->enterSession();
    ASSERT_TRUE(a.loop.runUntil([&] { return a.client->anyConnected(); }));
    const Buffer header = packet(0);
    a.peer->send(ResponsePayloads{{PayloadItem{header, 3, raw({1, 2, 3})}}});
    ASSERT_TRUE(a.loop.runUntil([&] { return !a.plog.clog.lost.empty(); }));
    EXPECT_NE(a.plog.clog.lost[0].find("RESPONSE_PAYLOADS not expected here"), std::string::npos)
        << a.plog.clog.lost[0];
    EXPECT_TRUE(a.plog.payloads.empty());
}

TEST(PayloadTunnel, TheClientRefusesAGrantLargerThanAsked) {
    AskingClient a;
    ASSERT_TRUE(a.hello);
    a.peer->send(HelloAck{1, std::nullopt, 9});
    ASSERT_TRUE(a.loop.runUntil([&] { return !a.plog.clog.lost.empty(); }));
    EXPECT_NE(a.plog.clog.lost[0].find("granted 9 payload bytes per response, 8 were asked for"),
              std::string::npos)
        << a.plog.clog.lost[0];
    EXPECT_FALSE(a.client->anyConnected());
}

// Past --payload-memory, responses still go, with their length but without their bytes.
TEST(PayloadTunnel, PayloadBytesWaitingAreBoundedInTotal) {
    Pair pair(100, 100, 200);
    pair.server->sendResponse(pair.peer(), responsePrefix(packet(300), 100));  // 12 + 100 <= 200
    pair.server->sendResponse(pair.peer(), responsePrefix(packet(300), 100));  // 160 + 100 > 200
    ASSERT_TRUE(pair.loop.runUntil([&] { return pair.plog.payloads.size() == 2; }));
    EXPECT_EQ(pair.plog.payloads[0].second.size(), 100u);
    EXPECT_EQ(pair.plog.payloads[1].first, 300u);
    EXPECT_TRUE(pair.plog.payloads[1].second.empty());
    EXPECT_EQ(pair.server->counters().payloadsTrimmed, 1u);
    EXPECT_EQ(pair.server->counters().payloadBytes, 100u);
    EXPECT_EQ(pair.client->counters().payloadMissing, 500u);
    EXPECT_EQ(pair.plog.clog.responses.size(), 2u);
}

}  // namespace
}  // namespace tcpcopy::tunnel
