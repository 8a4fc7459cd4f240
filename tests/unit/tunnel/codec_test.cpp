#include "tcpcopy/tunnel/codec.h"

#include <gtest/gtest.h>

#include <initializer_list>

#include "tcpcopy/net/decode.h"

namespace tcpcopy::tunnel {
namespace {

Buffer bytes(std::initializer_list<int> values) {
    Buffer out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

net::FlowKey sampleFlow() {
    // client 192.0.2.1:40000 (0x9C40), server 198.18.1.2:80
    return net::FlowKey{{net::Ipv4Addr::fromOctets(192, 0, 2, 1), net::Port(40000)},
                        {net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)}};
}

// Decodes exactly one frame holding one message from `wire`.
Message decodeOne(const Buffer& wire) {
    FrameDecoder decoder;
    decoder.feed(wire);
    Frame frame;
    EXPECT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message message;
    EXPECT_EQ(decodeMessage(frame, message), MessageError::None);
    EXPECT_EQ(decoder.buffered(), 0u);
    return message;
}

TEST(TunnelCodec, HeartbeatIsAHeaderWithEmptyPayload) {
    Buffer out;
    encode(out, Heartbeat{});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
    EXPECT_TRUE(std::holds_alternative<Heartbeat>(decodeOne(out)));
}

TEST(TunnelCodec, ChallengeGoldenBytes) {
    Challenge c;
    c.authRequired = true;
    for (std::size_t i = 0; i < kNonceSize; ++i) c.nonce[i] = static_cast<std::byte>(i);
    Buffer out;
    encode(out, c);
    Buffer expected = bytes({0x54, 0x43, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x01});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(i));
    EXPECT_EQ(out, expected);
    auto decoded = std::get<Challenge>(decodeOne(out));
    EXPECT_TRUE(decoded.authRequired);
    EXPECT_EQ(decoded.nonce, c.nonce);
}

TEST(TunnelCodec, HelloWithoutMacGoldenBytes) {
    Buffer out;
    encode(out, Hello{kVersion, "ab", std::nullopt});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  //
                          0x01, 0x02, 'a', 'b', 0x00}));
    auto decoded = std::get<Hello>(decodeOne(out));
    EXPECT_EQ(decoded.version, 1);
    EXPECT_EQ(decoded.instanceId, "ab");
    EXPECT_FALSE(decoded.mac.has_value());
}

TEST(TunnelCodec, HelloWithMacGoldenBytes) {
    Mac mac;
    for (std::size_t i = 0; i < kMacSize; ++i) mac[i] = static_cast<std::byte>(0xA0 + i);
    Buffer out;
    encode(out, Hello{kVersion, "x", mac});
    Buffer expected = bytes({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24,  //
                             0x01, 0x01, 'x', 0x20});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(0xA0 + i));
    EXPECT_EQ(out, expected);
    auto decoded = std::get<Hello>(decodeOne(out));
    ASSERT_TRUE(decoded.mac.has_value());
    EXPECT_EQ(*decoded.mac, mac);
}

TEST(TunnelCodec, HelloAckGoldenBytes) {
    Buffer out;
    encode(out, HelloAck{0x01020304});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04}));
    EXPECT_EQ(std::get<HelloAck>(decodeOne(out)).peerId, 0x01020304u);
}

TEST(TunnelCodec, RejectGoldenBytes) {
    Buffer out;
    encode(out, Reject{RejectReason::AuthFailed, "no"});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  //
                          0x02, 0x00, 0x02, 'n', 'o'}));
    auto decoded = std::get<Reject>(decodeOne(out));
    EXPECT_EQ(decoded.reason, RejectReason::AuthFailed);
    EXPECT_EQ(decoded.text, "no");
}

TEST(TunnelCodec, RouteAddAndDelGoldenBytes) {
    Buffer add;
    encode(add, RouteAdd{sampleFlow()});
    EXPECT_EQ(add, bytes({0x54, 0x43, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D,  //
                          0x04, 192, 0, 2, 1, 0x9C, 0x40, 198, 18, 1, 2, 0x00, 0x50}));
    EXPECT_EQ(std::get<RouteAdd>(decodeOne(add)).flow, sampleFlow());

    Buffer del;
    encode(del, RouteDel{sampleFlow()});
    Buffer expected = add;
    expected[3] = std::byte{0x06};
    EXPECT_EQ(del, expected);
    EXPECT_EQ(std::get<RouteDel>(decodeOne(del)).flow, sampleFlow());
}

TEST(TunnelCodec, Ipv6RouteIsWellFormedButUnsupported) {
    Buffer wire = bytes({0x54, 0x43, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x06});
    wire.resize(wire.size() + 36, std::byte{0x11});
    FrameDecoder decoder;
    decoder.feed(wire);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message m;
    EXPECT_EQ(decodeMessage(frame, m), MessageError::UnsupportedFamily);
}

TEST(TunnelCodec, ResponsesGoldenBytesKeepItemsVerbatim) {
    Buffer a = bytes({0x45, 0x00, 0x05, 0xDC});  // IP total length 1500 kept as is
    Buffer b = bytes({0x01, 0x02, 0x03});
    Buffer out;
    EXPECT_EQ(encode(out, Responses{{net::Bytes(a), net::Bytes(b)}}), 2u);
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D,  //
                          0x00, 0x02,                                                 //
                          0x00, 0x04, 0x45, 0x00, 0x05, 0xDC,                         //
                          0x00, 0x03, 0x01, 0x02, 0x03}));
    // Items are views into the decoder's buffer, so keep the decoder alive here.
    FrameDecoder decoder;
    decoder.feed(out);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message message;
    ASSERT_EQ(decodeMessage(frame, message), MessageError::None);
    auto decoded = std::get<Responses>(message);
    ASSERT_EQ(decoded.items.size(), 2u);
    EXPECT_TRUE(std::equal(decoded.items[0].begin(), decoded.items[0].end(), a.begin(), a.end()));
    EXPECT_TRUE(std::equal(decoded.items[1].begin(), decoded.items[1].end(), b.begin(), b.end()));
}

TEST(TunnelCodec, ResponseBatchProducesTheSameBytesAsEncode) {
    Buffer a = bytes({0x45, 0x00, 0x05, 0xDC});
    Buffer b = bytes({0x01, 0x02, 0x03});
    ResponseBatch batch;
    EXPECT_TRUE(batch.add(a));
    EXPECT_TRUE(batch.add(b));
    EXPECT_FALSE(batch.add(net::Bytes{}));
    EXPECT_EQ(batch.count(), 2u);
    Buffer viaBatch = batch.finish();
    Buffer viaEncode;
    encode(viaEncode, Responses{{net::Bytes(a), net::Bytes(b)}});
    EXPECT_EQ(viaBatch, viaEncode);
    EXPECT_TRUE(batch.empty());
    Buffer empty = batch.finish();
    EXPECT_EQ(empty, bytes({0x54, 0x43, 0x01, 0x07, 0, 0, 0, 0, 0, 2, 0, 0}));
}

TEST(TunnelCodec, ResponseBatchRefusesToGrowPastMaxPayload) {
    ResponseBatch batch;
    Buffer item(60000, std::byte{0x45});
    std::size_t added = 0;
    while (batch.add(item)) ++added;
    EXPECT_EQ(added, (kMaxPayload - 2) / (item.size() + 2));
    EXPECT_LE(batch.frameSize() - kHeaderSize, kMaxPayload);
    Buffer frame = batch.finish();
    FrameDecoder decoder;
    decoder.feed(frame);
    Frame f;
    ASSERT_EQ(decoder.next(f), FrameDecoder::Status::Frame);
    Message m;
    ASSERT_EQ(decodeMessage(f, m), MessageError::None);
    EXPECT_EQ(std::get<Responses>(m).items.size(), added);
}

std::vector<Message> sampleMessages() {
    Challenge c;
    c.nonce = randomNonce();
    return {c,
            Hello{kVersion, "tcpcopy@test", computeHelloMac("secret", c.nonce)},
            HelloAck{7},
            Reject{RejectReason::NotAllowed, "198.51.100.9 not allowed"},
            RouteAdd{sampleFlow()},
            RouteDel{sampleFlow()},
            Heartbeat{}};
}

TEST(TunnelCodec, EveryFrameSplitAtEveryByteDecodesTheSame) {
    Buffer stream;
    for (const Message& m : sampleMessages()) encode(stream, m);
    Buffer r1(40, std::byte{0x45}), r2(52, std::byte{0x46});
    encode(stream, Responses{{net::Bytes(r1), net::Bytes(r2)}});
    const std::size_t frames = sampleMessages().size() + 1;

    // Reference: whole stream at once, re-encoded message by message.
    auto decodeAll = [&](const std::vector<std::size_t>& cuts) {
        FrameDecoder decoder;
        Buffer reencoded;
        std::size_t at = 0;
        std::size_t count = 0;
        auto drain = [&] {
            Frame f;
            FrameDecoder::Status s;
            while ((s = decoder.next(f)) == FrameDecoder::Status::Frame) {
                Message m;
                EXPECT_EQ(decodeMessage(f, m), MessageError::None);
                encode(reencoded, m);
                ++count;
            }
            EXPECT_EQ(s, FrameDecoder::Status::NeedMore);
        };
        for (std::size_t cut : cuts) {
            decoder.feed(net::Bytes(stream).subspan(at, cut - at));
            drain();
            at = cut;
        }
        decoder.feed(net::Bytes(stream).subspan(at));
        drain();
        EXPECT_EQ(count, frames);
        return reencoded;
    };
    ASSERT_EQ(decodeAll({}), stream);
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        ASSERT_EQ(decodeAll({cut}), stream) << "cut at " << cut;
    }
    // Byte by byte.
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    EXPECT_EQ(decodeAll(every), stream);
}

TEST(TunnelCodec, TruncatedFrameWaitsForMore) {
    Buffer out;
    encode(out, RouteAdd{sampleFlow()});
    for (std::size_t len = 0; len < out.size(); ++len) {
        FrameDecoder decoder;
        decoder.feed(net::Bytes(out).first(len));
        Frame f;
        EXPECT_EQ(decoder.next(f), FrameDecoder::Status::NeedMore) << len;
        EXPECT_EQ(decoder.buffered(), len);
    }
}

TEST(TunnelCodec, GarbageIsRejectedAtTheFirstWrongByte) {
    FrameDecoder decoder;
    decoder.feed(bytes({'G'}));
    Frame f;
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(decoder.error(), FrameError::BadMagic);
    decoder.feed(bytes({0x54, 0x43}));  // ignored once in error
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);

    FrameDecoder http;
    http.feed(bytes({'G', 'E', 'T', ' ', '/'}));
    EXPECT_EQ(http.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(http.error(), FrameError::BadMagic);
}

TEST(TunnelCodec, WrongVersionIsAnError) {
    Buffer out;
    encode(out, Heartbeat{});
    out[2] = std::byte{2};
    FrameDecoder decoder;
    decoder.feed(net::Bytes(out).first(3));
    Frame f;
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(decoder.error(), FrameError::BadVersion);
}

TEST(TunnelCodec, OversizeLengthIsAnErrorBeforeThePayloadArrives) {
    Buffer header = bytes({0x54, 0x43, 0x01, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01});  // 1 MiB + 1
    FrameDecoder decoder;
    decoder.feed(header);
    Frame f;
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(decoder.error(), FrameError::Oversize);

    Buffer exact = bytes({0x54, 0x43, 0x01, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00});  // exactly 1 MiB
    FrameDecoder ok;
    ok.feed(exact);
    EXPECT_EQ(ok.next(f), FrameDecoder::Status::NeedMore);

    FrameDecoder small(100);
    Buffer hb;
    encode(hb, Reject{RejectReason::Protocol, std::string(200, 'x')});
    small.feed(hb);
    EXPECT_EQ(small.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(small.error(), FrameError::Oversize);
}

MessageError decodePayload(MessageType type, const Buffer& payload) {
    Frame f;
    f.type = type;
    f.payload = payload;
    Message m;
    return decodeMessage(f, m);
}

TEST(TunnelCodec, CorruptPayloadsAreReportedNotOverRead) {
    // Every strict prefix of every message's payload is truncated (or, for RESPONSES, may be a
    // complete shorter message never: the count fixes the item number).
    Buffer r1(40, std::byte{0x45});
    std::vector<Message> all = sampleMessages();
    all.push_back(Responses{{net::Bytes(r1)}});
    for (const Message& m : all) {
        Buffer wire;
        encode(wire, m);
        auto type = static_cast<MessageType>(std::to_integer<int>(wire[3]));
        Buffer payload(wire.begin() + kHeaderSize, wire.end());
        for (std::size_t len = 0; len < payload.size(); ++len) {
            Buffer prefix(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(len));
            EXPECT_EQ(decodePayload(type, prefix), MessageError::Truncated)
                << messageTypeName(type) << " prefix " << len;
        }
        Buffer longer = payload;
        longer.push_back(std::byte{0});
        EXPECT_EQ(decodePayload(type, longer), MessageError::TrailingBytes) << messageTypeName(type);
    }
}

TEST(TunnelCodec, ImpossibleFieldValuesAreBadValue) {
    EXPECT_EQ(decodePayload(MessageType::RouteAdd, bytes({0x05, 1, 2, 3, 4, 0, 1, 5, 6, 7, 8, 0, 2})),
              MessageError::BadValue);
    EXPECT_EQ(decodePayload(MessageType::Hello, bytes({0x01, 0x00, 0x05, 1, 2, 3, 4, 5})), MessageError::BadValue);
    EXPECT_EQ(decodePayload(MessageType::Responses, bytes({0x00, 0x01, 0x00, 0x00})), MessageError::BadValue);
    Buffer challenge = bytes({0x02});
    challenge.resize(33);
    EXPECT_EQ(decodePayload(MessageType::Challenge, challenge), MessageError::BadValue);
    EXPECT_EQ(decodePayload(static_cast<MessageType>(99), Buffer{}), MessageError::UnknownType);
}

TEST(TunnelCodec, HelloMacIsHmacSha256OfTheNonce) {
    // Expected value computed independently (Python hmac): HMAC-SHA256("key", 32 x 0x00).
    Nonce zero{};
    Mac mac = computeHelloMac("key", zero);
    Buffer expected = bytes({0xf7, 0xce, 0x44, 0x35, 0x54, 0xb6, 0x2f, 0x0a, 0x6a, 0xa1, 0x8c, 0xa2, 0xbd, 0xc2, 0x13, 0xa5,
                             0xc4, 0xaf, 0x49, 0x5c, 0xca, 0x2a, 0xdb, 0xa7, 0xae, 0x1c, 0xc2, 0x97, 0x94, 0x45, 0x34, 0x4f});
    EXPECT_TRUE(std::equal(mac.begin(), mac.end(), expected.begin(), expected.end()));
    EXPECT_TRUE(macEquals(mac, computeHelloMac("key", zero)));
    EXPECT_FALSE(macEquals(mac, computeHelloMac("other", zero)));
    EXPECT_NE(randomNonce(), randomNonce());
}

// 198.18.1.2:80 -> 192.0.2.1:40000, PSH|ACK, 100 bytes of payload, TCP header with 12 option bytes.
Buffer responsePacket() {
    Buffer p = bytes({0x45, 0x00, 0x00, 0x94,  // IPv4, IHL 5, total length 148 = 20 + 32 + 96
                      0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 1, 2, 192, 0, 2, 1,
                      0x00, 0x50, 0x9C, 0x40,                          // ports
                      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // seq, ack
                      0x80, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,  // data offset 8 (32 bytes), PSH|ACK
                      0x01, 0x01, 0x08, 0x0A, 0, 0, 0, 1, 0, 0, 0, 2});  // NOP NOP timestamps
    p.resize(20 + 32 + 96, std::byte{'x'});
    return p;
}

TEST(TunnelCodec, ResponseItemIsIpAndTcpHeadersWithTheOriginalTotalLength) {
    Buffer packet = responsePacket();
    net::Bytes item = responseHeaderBytes(packet);
    ASSERT_EQ(item.size(), 52u);
    EXPECT_EQ(item.data(), packet.data());
    // The total length still says 148, so the payload length survives the cut.
    EXPECT_EQ(std::to_integer<int>(item[2]), 0x00);
    EXPECT_EQ(std::to_integer<int>(item[3]), 0x94);
    Buffer frame;
    encode(frame, Responses{{item}});
    FrameDecoder decoder;
    decoder.feed(frame);
    Frame f;
    ASSERT_EQ(decoder.next(f), FrameDecoder::Status::Frame);
    Message m;
    ASSERT_EQ(decodeMessage(f, m), MessageError::None);
    net::DecodeResult d = net::decodeIpv4Tcp(std::get<Responses>(m).items.at(0));
    ASSERT_EQ(d.status, net::DecodeStatus::Ok);
    EXPECT_EQ(d.segment.payloadLength, 96u);
    EXPECT_TRUE(d.segment.payload.empty());
    EXPECT_EQ(d.segment.seq.value(), 1u);
    ASSERT_TRUE(d.segment.options.timestamps.has_value());
    EXPECT_EQ(d.segment.options.timestamps->value, 1u);
}

TEST(TunnelCodec, ResponseItemOfATruncatedOrForeignPacketIsEmpty) {
    Buffer packet = responsePacket();
    for (std::size_t len = 0; len < 52; ++len) {
        EXPECT_TRUE(responseHeaderBytes(net::Bytes(packet).first(len)).empty()) << len;
    }
    EXPECT_EQ(responseHeaderBytes(net::Bytes(packet).first(52)).size(), 52u);
    Buffer v6 = packet;
    v6[0] = std::byte{0x65};
    EXPECT_TRUE(responseHeaderBytes(v6).empty());
    Buffer badOffset = packet;
    badOffset[32] = std::byte{0x40};  // data offset 4 (< 5)
    EXPECT_TRUE(responseHeaderBytes(badOffset).empty());
}

}  // namespace
}  // namespace tcpcopy::tunnel
