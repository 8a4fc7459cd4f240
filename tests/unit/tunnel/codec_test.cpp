#include "tcpcopy/tunnel/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <initializer_list>
#include <new>

#include "tcpcopy/net/decode.h"

// The largest single allocation made while a test watches (see LargestAllocation): replacing the
// global operator new is the one way to see what a decoder reserves and frees again.
namespace {
thread_local std::size_t* largestAllocation = nullptr;
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
    if (largestAllocation != nullptr && size > *largestAllocation) *largestAllocation = size;
    if (void* p = std::malloc(size != 0 ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace tcpcopy::tunnel {
namespace {

// Records the largest allocation made during its lifetime.
class LargestAllocation {
  public:
    LargestAllocation() { largestAllocation = &largest_; }
    ~LargestAllocation() { largestAllocation = nullptr; }
    std::size_t bytes() const { return largest_; }

  private:
    std::size_t largest_ = 0;
};

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

Nonce nonceFrom(int first) {
    Nonce n{};
    for (std::size_t i = 0; i < kNonceSize; ++i) n[i] = static_cast<std::byte>(first + static_cast<int>(i));
    return n;
}

// Decodes exactly one frame holding one message from `wire`, with a decoder expecting the header
// version the frame carries (handshake frames 1, the others 2).
Message decodeOne(const Buffer& wire) {
    FrameDecoder decoder(kMaxPayload, std::to_integer<std::uint8_t>(wire.at(2)));
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
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
    EXPECT_TRUE(std::holds_alternative<Heartbeat>(decodeOne(out)));
}

// Handshake frames carry header version 1, which every release reads; the CHALLENGE's flags say
// which protocol version intercept speaks (2).
TEST(TunnelCodec, ChallengeGoldenBytes) {
    Challenge c;
    c.authRequired = true;
    c.nonce = nonceFrom(0);
    Buffer out;
    encode(out, c);
    Buffer expected = bytes({0x54, 0x43, 0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x21, 0x01});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(i));
    EXPECT_EQ(out, expected);
    auto decoded = std::get<Challenge>(decodeOne(out));
    EXPECT_TRUE(decoded.authRequired);
    EXPECT_EQ(decoded.nonce, c.nonce);
    EXPECT_EQ(decoded.maxVersion, 2);
}

// A version 1 intercept writes no flags: its CHALLENGE reads as "speaks version 1".
TEST(TunnelCodec, ChallengeOfAVersion1InterceptSaysVersion1) {
    Buffer v1 = bytes({0x54, 0x43, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00});
    v1.resize(v1.size() + 32, std::byte{0x5A});
    auto decoded = std::get<Challenge>(decodeOne(v1));
    EXPECT_FALSE(decoded.authRequired);
    EXPECT_EQ(decoded.maxVersion, 1);
}

TEST(TunnelCodec, HelloWithoutMacGoldenBytes) {
    Buffer out;
    encode(out, Hello{kVersion, "ab", nonceFrom(0x20), std::nullopt});
    Buffer expected = bytes({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25,  //
                             0x02, 0x02, 'a', 'b'});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(0x20 + i));
    expected.push_back(std::byte{0x00});
    EXPECT_EQ(out, expected);
    auto decoded = std::get<Hello>(decodeOne(out));
    EXPECT_EQ(decoded.version, 2);
    EXPECT_EQ(decoded.instanceId, "ab");
    EXPECT_EQ(decoded.nonce, nonceFrom(0x20));
    EXPECT_FALSE(decoded.mac.has_value());
}

TEST(TunnelCodec, HelloWithMacGoldenBytes) {
    Mac mac;
    for (std::size_t i = 0; i < kMacSize; ++i) mac[i] = static_cast<std::byte>(0xA0 + i);
    Buffer out;
    encode(out, Hello{kVersion, "x", nonceFrom(0x20), mac});
    Buffer expected = bytes({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44,  //
                             0x02, 0x01, 'x'});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(0x20 + i));
    expected.push_back(std::byte{0x20});
    for (int i = 0; i < 32; ++i) expected.push_back(static_cast<std::byte>(0xA0 + i));
    EXPECT_EQ(out, expected);
    auto decoded = std::get<Hello>(decodeOne(out));
    ASSERT_TRUE(decoded.mac.has_value());
    EXPECT_EQ(*decoded.mac, mac);
}

// A version 1 tcpcopy's HELLO (protocol_version 1, its own layout): only the version is read, so
// intercept can answer BadVersion in a frame that tcpcopy understands.
TEST(TunnelCodec, HelloOfAnotherVersionDecodesToItsVersionOnly) {
    Buffer v1 =
        bytes({0x54, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x02, 'a', 'b', 0x00});
    auto decoded = std::get<Hello>(decodeOne(v1));
    EXPECT_EQ(decoded.version, 1);
    EXPECT_EQ(decoded.instanceId, "");
}

TEST(TunnelCodec, HelloAckGoldenBytes) {
    Buffer out;
    encode(out, HelloAck{0x01020304, std::nullopt});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04,
                          0x00}));
    EXPECT_EQ(std::get<HelloAck>(decodeOne(out)).peerId, 0x01020304u);
    Mac mac;
    mac.fill(std::byte{0xCC});
    Buffer withMac;
    encode(withMac, HelloAck{9, mac});
    Buffer expected =
        bytes({0x54, 0x43, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x00, 0x00, 0x00, 0x09, 0x20});
    expected.resize(expected.size() + 32, std::byte{0xCC});
    EXPECT_EQ(withMac, expected);
    EXPECT_EQ(std::get<HelloAck>(decodeOne(withMac)).mac, mac);
}

TEST(TunnelCodec, RejectGoldenBytes) {
    Buffer out;
    encode(out, Reject{RejectReason::AuthFailed, "no"});
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  //
                          0x02, 0x00, 0x02, 'n', 'o'}));
    auto decoded = std::get<Reject>(decodeOne(out));
    EXPECT_EQ(decoded.reason, RejectReason::AuthFailed);
    EXPECT_EQ(decoded.text, "no");
    // During the handshake a REJECT travels in a version 1 frame, like the rest of it.
    Buffer early;
    encode(early, Reject{RejectReason::TooManyConnections, ""}, kHandshakeFrameVersion);
    EXPECT_EQ(early, bytes({0x54, 0x43, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x06, 0x00, 0x00}));
    EXPECT_EQ(rejectReasonName(std::get<Reject>(decodeOne(early)).reason), "too many connections");
}

TEST(TunnelCodec, RouteAddAndDelGoldenBytes) {
    Buffer add;
    encode(add, RouteAdd{sampleFlow()});
    EXPECT_EQ(add, bytes({0x54, 0x43, 0x02, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D,  //
                          0x04, 192,  0,    2,    1,    0x9C, 0x40, 198,  18,   1,    2, 0x00, 0x50}));
    EXPECT_EQ(std::get<RouteAdd>(decodeOne(add)).flow, sampleFlow());

    Buffer del;
    encode(del, RouteDel{sampleFlow()});
    Buffer expected = add;
    expected[3] = std::byte{0x06};
    EXPECT_EQ(del, expected);
    EXPECT_EQ(std::get<RouteDel>(decodeOne(del)).flow, sampleFlow());
}

TEST(TunnelCodec, Ipv6RouteGoldenBytes) {
    // [2001:db8::1]:40000 -> [fd00:198:18::2]:80: family 6, 16-byte addresses, 37-byte payload.
    const net::FlowKey flow{{*net::IpAddr::parse("2001:db8::1"), net::Port(40000)},
                            {*net::IpAddr::parse("fd00:198:18::2"), net::Port(80)}};
    Buffer add;
    encode(add, RouteAdd{flow});
    EXPECT_EQ(add, bytes({0x54, 0x43, 0x02, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x06,  //
                          0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,     //
                          0,    0,    0,    0,    0x01, 0x9C, 0x40,                          //
                          0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0,    0,    0,    0,    0,     //
                          0,    0,    0,    0,    0x02, 0x00, 0x50}));
    EXPECT_EQ(std::get<RouteAdd>(decodeOne(add)).flow, flow);
    Buffer del;
    encode(del, RouteDel{flow});
    EXPECT_EQ(std::get<RouteDel>(decodeOne(del)).flow, flow);
}

TEST(TunnelCodec, Ipv6RouteWithAnIpv4MappedAddressIsInvalid) {
    // ::ffff:192.0.2.1 in a family-6 route would alias the IPv4 flow: refused.
    Buffer wire = bytes({0x54, 0x43, 0x02, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x06,  //
                         0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0xff,  //
                         0xff, 192,  0,    2,    1,    0x9C, 0x40});
    wire.resize(wire.size() + 18, std::byte{0x20});
    FrameDecoder decoder;
    decoder.feed(wire);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message m;
    EXPECT_EQ(decodeMessage(frame, m), MessageError::BadValue);
}

TEST(TunnelCodec, Ipv6RouteCutShortIsTruncated) {
    Buffer wire = bytes({0x54, 0x43, 0x02, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x06});
    wire.resize(wire.size() + 12, std::byte{0x20});
    FrameDecoder decoder;
    decoder.feed(wire);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message m;
    EXPECT_EQ(decodeMessage(frame, m), MessageError::Truncated);
}

TEST(TunnelCodec, ResponsesGoldenBytesKeepItemsVerbatim) {
    Buffer a = bytes({0x45, 0x00, 0x05, 0xDC});  // IP total length 1500 kept as is
    Buffer b = bytes({0x01, 0x02, 0x03});
    Buffer out;
    EXPECT_EQ(encode(out, Responses{{net::Bytes(a), net::Bytes(b)}}), 2u);
    EXPECT_EQ(out, bytes({0x54, 0x43, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D,  //
                          0x00, 0x02,                                                  //
                          0x00, 0x04, 0x45, 0x00, 0x05, 0xDC,                          //
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
    EXPECT_EQ(empty, bytes({0x54, 0x43, 0x02, 0x07, 0, 0, 0, 0, 0, 2, 0, 0}));
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

// Session messages (frames of version 2); the handshake's are tested apart.
std::vector<Message> sampleMessages() {
    return {Reject{RejectReason::NotAllowed, "198.51.100.9 not allowed"}, RouteAdd{sampleFlow()},
            RouteDel{sampleFlow()}, Heartbeat{}};
}

TEST(TunnelCodec, EveryFrameSplitAtEveryByteDecodesTheSame) {
    Buffer stream;
    for (const Message& m : sampleMessages()) encode(stream, m, kVersion);
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
                encode(reencoded, m, kVersion);
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

TEST(TunnelCodec, WrongVersionIsAnErrorThatSaysWhichVersionCame) {
    Buffer out;
    encode(out, Heartbeat{});
    out[2] = std::byte{1};
    FrameDecoder decoder;
    decoder.feed(net::Bytes(out).first(3));
    Frame f;
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(decoder.error(), FrameError::BadVersion);
    EXPECT_EQ(decoder.receivedVersion(), 1);
    EXPECT_EQ(decoder.expectedVersion(), 2);
}

// A decoder in the handshake expects version 1 frames of at most kMaxHandshakePayload bytes;
// expect() moves it to the session's rules from the next frame on.
TEST(TunnelCodec, HandshakeRulesThenSessionRules) {
    FrameDecoder decoder(kMaxHandshakePayload, kHandshakeFrameVersion);
    Buffer stream;
    encode(stream, HelloAck{1, std::nullopt});
    encode(stream, RouteAdd{sampleFlow()});
    decoder.feed(stream);
    Frame f;
    ASSERT_EQ(decoder.next(f), FrameDecoder::Status::Frame);
    EXPECT_EQ(f.type, MessageType::HelloAck);
    decoder.expect(kVersion, kMaxPayload);
    ASSERT_EQ(decoder.next(f), FrameDecoder::Status::Frame);
    EXPECT_EQ(f.type, MessageType::RouteAdd);

    // Before the handshake is over, a header announcing more than 512 bytes is an error at once.
    FrameDecoder early(kMaxHandshakePayload, kHandshakeFrameVersion);
    early.feed(bytes({0x54, 0x43, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01}));
    EXPECT_EQ(early.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(early.error(), FrameError::Oversize);
}

TEST(TunnelCodec, OversizeLengthIsAnErrorBeforeThePayloadArrives) {
    Buffer header = bytes({0x54, 0x43, 0x02, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01});  // 1 MiB + 1
    FrameDecoder decoder;
    decoder.feed(header);
    Frame f;
    EXPECT_EQ(decoder.next(f), FrameDecoder::Status::Error);
    EXPECT_EQ(decoder.error(), FrameError::Oversize);

    Buffer exact = bytes({0x54, 0x43, 0x02, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00});  // exactly 1 MiB
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
    Mac mac;
    mac.fill(std::byte{1});
    all.push_back(Challenge{true, nonceFrom(0), kVersion});
    all.push_back(Hello{kVersion, "tcpcopy@test", nonceFrom(1), mac});
    all.push_back(Hello{kVersion, "", nonceFrom(1), std::nullopt});
    all.push_back(HelloAck{7, mac});
    all.push_back(HelloAck{7, std::nullopt});
    for (const Message& m : all) {
        Buffer wire;
        encode(wire, m, kVersion);
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
    Buffer helloBadMac = bytes({0x02, 0x00});
    helloBadMac.resize(helloBadMac.size() + 32);
    for (int b : {0x05, 1, 2, 3, 4, 5}) helloBadMac.push_back(static_cast<std::byte>(b));
    EXPECT_EQ(decodePayload(MessageType::Hello, helloBadMac), MessageError::BadValue);
    EXPECT_EQ(decodePayload(MessageType::HelloAck, bytes({0, 0, 0, 1, 0x10})), MessageError::BadValue);
    EXPECT_EQ(decodePayload(MessageType::Responses, bytes({0x00, 0x01, 0x00, 0x00})), MessageError::BadValue);
    Buffer challenge = bytes({0x02});
    challenge.resize(33);
    EXPECT_EQ(decodePayload(MessageType::Challenge, challenge), MessageError::BadValue);
    EXPECT_EQ(decodePayload(static_cast<MessageType>(99), Buffer{}), MessageError::UnknownType);
}

// Expected values computed independently (Python hmac), intercept's nonce 00..1f, tcpcopy's
// 20..3f:
//   HMAC-SHA256("key", b"tcpcopy hello v2" + intercept_nonce + tcpcopy_nonce)
//   HMAC-SHA256("key", b"intercept ack v2" + tcpcopy_nonce + intercept_nonce)
TEST(TunnelCodec, BothProofsAreHmacSha256OverLabelAndBothNonces) {
    const Nonce interceptNonce = nonceFrom(0), tcpcopyNonce = nonceFrom(0x20);
    const auto hello = computeHelloMac("key", interceptNonce, tcpcopyNonce);
    const auto ack = computeAckMac("key", interceptNonce, tcpcopyNonce);
    ASSERT_TRUE(hello && ack);
    Buffer helloExpected = bytes({0x6d, 0x3f, 0xc5, 0xc7, 0x04, 0x66, 0xa2, 0xa9, 0xf8, 0x62, 0xe3,
                                  0x3a, 0xdc, 0x1f, 0xb8, 0x11, 0xbf, 0x79, 0xcd, 0x7f, 0xe6, 0x35,
                                  0x48, 0x8f, 0xd6, 0x41, 0x2d, 0x34, 0x0d, 0x71, 0x96, 0x21});
    Buffer ackExpected = bytes({0x2a, 0x22, 0x28, 0xfe, 0xd7, 0xaa, 0xda, 0x7e, 0x85, 0xa7, 0x89,
                                0xc2, 0x3d, 0xc6, 0x8e, 0xaa, 0x4d, 0x63, 0xaa, 0x9c, 0x37, 0x23,
                                0xe6, 0xbe, 0x64, 0x94, 0xac, 0xd1, 0x57, 0x60, 0x9c, 0x80});
    EXPECT_TRUE(std::equal(hello->begin(), hello->end(), helloExpected.begin(), helloExpected.end()));
    EXPECT_TRUE(std::equal(ack->begin(), ack->end(), ackExpected.begin(), ackExpected.end()));
    EXPECT_TRUE(macMatches(hello, computeHelloMac("key", interceptNonce, tcpcopyNonce)));
    EXPECT_FALSE(macMatches(hello, computeHelloMac("other", interceptNonce, tcpcopyNonce)));
    // Neither proof answers for the other direction (no reflection), nor for other nonces.
    EXPECT_FALSE(macMatches(hello, ack));
    EXPECT_FALSE(macMatches(hello, computeHelloMac("key", interceptNonce, nonceFrom(0x21))));
    EXPECT_NE(randomNonce(), randomNonce());
}

// A MAC that could not be computed never matches, not even an all-zero MAC a peer sends (the value
// an unchecked HMAC() failure would have left behind).
TEST(TunnelCodec, AMacThatCannotBeComputedNeverMatches) {
    const Nonce n = nonceFrom(0);
    // HMAC() takes the key length as an int: a longer secret cannot be used (and is not read).
    const char one = 'k';
    const std::string_view tooLong(&one, static_cast<std::size_t>(INT_MAX) + 1);
    EXPECT_FALSE(computeHelloMac(tooLong, n, n).has_value());
    EXPECT_FALSE(computeAckMac(tooLong, n, n).has_value());
    const Mac zero{};
    EXPECT_FALSE(macMatches(std::nullopt, zero));
    EXPECT_FALSE(macMatches(zero, std::nullopt));
    EXPECT_FALSE(macMatches(std::nullopt, std::nullopt));
}

// A 12-byte RESPONSES frame announcing 65535 items makes the decoder reserve nothing like 1 MiB.
TEST(TunnelCodec, AnItemCountThePayloadCannotHoldReservesNothing) {
    Buffer payload = bytes({0xFF, 0xFF, 0x00, 0x01, 0x45, 0x00, 0x01, 0x46, 0x00, 0x01, 0x47, 0x00});
    Frame f;
    f.type = MessageType::Responses;
    f.payload = payload;
    Message m;
    {
        LargestAllocation watch;
        EXPECT_EQ(decodeMessage(f, m), MessageError::Truncated);
        EXPECT_LE(watch.bytes(), 4 * sizeof(net::Bytes))
            << "a 12-byte frame made the decoder allocate " << watch.bytes();
    }
    Buffer two = bytes({0x00, 0x02, 0x00, 0x01, 0x45, 0x00, 0x01, 0x46});
    f.payload = two;
    ASSERT_EQ(decodeMessage(f, m), MessageError::None);
    EXPECT_EQ(std::get<Responses>(m).items.size(), 2u);
}

// 198.18.1.2:80 -> 192.0.2.1:40000, PSH|ACK, 100 bytes of payload, TCP header with 12 option bytes.
Buffer responsePacket() {
    Buffer p = bytes({0x45, 0x00, 0x00, 0x94,  // IPv4, IHL 5, total length 148 = 20 + 32 + 96
                      0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 1, 2,
                      192,  0,    2,    1,    0x00, 0x50, 0x9C, 0x40,  // ports
                      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // seq, ack
                      0x80, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,  // data offset 8 (32 bytes), PSH|ACK
                      0x01, 0x01, 0x08, 0x0A, 0,    0,    0,    1,    0,   0,  0, 2});  // NOP NOP timestamps
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
    net::DecodeResult d = net::decodeIpTcp(std::get<Responses>(m).items.at(0));
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

// A SYN-ACK from [fd00:198:18:1::2]:80 to [2001:db8::11]:40000: the 40-byte IPv6 header (payload
// length 24, next header TCP, hop limit 64) and a 24-byte TCP header with MSS 1440.
Buffer ipv6SynAck() {
    return bytes({0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x40,                          // IPv6
                  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 2,  // source
                  0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0x11,
                  0x00, 0x50, 0x9C, 0x40, 0x00, 0x00, 0x00, 0x64,    // ports, seq 100
                  0x00, 0x00, 0x03, 0xE9, 0x60, 0x12, 0xFD, 0x20,    // ack 1001, offset 6, SYN|ACK, window
                  0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xA0});  // checksum, urgent, MSS 1440
}

// docs/tunnel-protocol.md, "RESPONSES with an IPv6 item": the frame layout does not change, the
// item is the IPv6 and TCP headers as captured.
TEST(TunnelCodec, ResponsesGoldenBytesWithAnIpv6Item) {
    const Buffer packet = ipv6SynAck();
    const net::Bytes item = responseHeaderBytes(packet);
    ASSERT_EQ(item.size(), 64u);
    Buffer out;
    EXPECT_EQ(encode(out, Responses{{item}}), 1u);
    Buffer golden = bytes({0x54, 0x43, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44,  // header, payload 68
                           0x00, 0x01, 0x00, 0x40});                                    // 1 item of 64 bytes
    golden.insert(golden.end(), packet.begin(), packet.end());
    EXPECT_EQ(out, golden);
    FrameDecoder decoder;
    decoder.feed(out);
    Frame frame;
    ASSERT_EQ(decoder.next(frame), FrameDecoder::Status::Frame);
    Message m;
    ASSERT_EQ(decodeMessage(frame, m), MessageError::None);
    const net::DecodeResult d = net::decodeIpTcp(std::get<Responses>(m).items.at(0));
    ASSERT_EQ(d.status, net::DecodeStatus::Ok);
    EXPECT_EQ(d.segment.serverToClientKey().toString(), "[2001:db8::11]:40000>[fd00:198:18:1::2]:80");
    EXPECT_EQ(d.segment.flags, net::tcpflag::kSyn | net::tcpflag::kAck);
    EXPECT_EQ(d.segment.ack.value(), 1001u);
    EXPECT_EQ(d.segment.options.mss, 1440);
    EXPECT_EQ(d.segment.payloadLength, 0u);
}

// The same response carrying 96 payload bytes behind a destination-options extension header: the
// item keeps the extension header (and the payload length field as captured) and stops at the
// end of the TCP header; a prefix of the payload splits back into header, length and bytes.
TEST(TunnelCodec, Ipv6ResponseItemKeepsExtensionHeadersAndThePayloadLength) {
    Buffer packet = ipv6SynAck();
    packet[5] = std::byte{8 + 24 + 96};  // payload length: extension header, TCP header, data
    packet[6] = std::byte{60};           // next header: destination options
    const Buffer options = bytes({0x06, 0x00, 0x01, 0x04, 0, 0, 0, 0});  // next TCP, 8 bytes, PadN
    packet.insert(packet.begin() + 40, options.begin(), options.end());
    packet[40 + 8 + 13] = std::byte{0x18};  // PSH|ACK
    packet.resize(40 + 8 + 24 + 96, std::byte{'x'});
    const net::Bytes item = responseHeaderBytes(packet);
    ASSERT_EQ(item.size(), 72u);
    const net::DecodeResult d = net::decodeIpTcp(item);
    ASSERT_EQ(d.status, net::DecodeStatus::Ok);
    EXPECT_EQ(d.segment.payloadLength, 96u);
    EXPECT_TRUE(d.segment.payload.empty());
    const ResponseParts parts = splitResponse(responsePrefix(packet, 4));
    EXPECT_EQ(parts.header.size(), 72u);
    EXPECT_EQ(parts.payloadLength, 96u);
    EXPECT_TRUE(std::ranges::equal(parts.payload, bytes({'x', 'x', 'x', 'x'})));
    EXPECT_EQ(splitResponse(item).payloadLength, 96u);
    EXPECT_TRUE(splitResponse(item).payload.empty());
}

TEST(TunnelCodec, Ipv6ResponseItemOfATruncatedFragmentedOrForeignPacketIsEmpty) {
    const Buffer packet = ipv6SynAck();
    for (std::size_t len = 0; len < packet.size(); ++len) {
        EXPECT_TRUE(responseHeaderBytes(net::Bytes(packet).first(len)).empty()) << len;
        EXPECT_TRUE(splitResponse(net::Bytes(packet).first(len)).header.empty()) << len;
    }
    Buffer udp = packet;
    udp[6] = std::byte{17};
    EXPECT_TRUE(responseHeaderBytes(udp).empty());
    EXPECT_TRUE(splitResponse(udp).header.empty());  // UDP copy is IPv4 only
    Buffer fragment = packet;
    fragment[5] = std::byte{8 + 24};
    fragment[6] = std::byte{44};  // a first fragment: offset 0, more fragments
    const Buffer header = bytes({0x06, 0x00, 0x00, 0x01, 0, 0, 0, 7});
    fragment.insert(fragment.begin() + 40, header.begin(), header.end());
    EXPECT_TRUE(responseHeaderBytes(fragment).empty());
}

}  // namespace
}  // namespace tcpcopy::tunnel
