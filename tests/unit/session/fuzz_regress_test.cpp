// Inputs found by fuzz_engine (tests/fuzz/fuzz_engine.cpp), reduced to the packets that matter,
// with the bytes inline where they came off the wire.
#include <gtest/gtest.h>

#include <span>
#include <string>

#include "recorder.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::session {
namespace {

using namespace testing;

// fuzz_engine: a captured SYN announcing window scale 111 made the engine shift a 64-bit window
// by 111 (UB) when advertising the captured window. The SYN's bytes, as captured:
// 192.0.2.10:47042 -> 192.0.2.1:80, seq 1000, options MSS 1460, NOP, WS 111.
constexpr unsigned char kSynWscale111[] = {
    0x45, 0x00, 0x00, 0x30, 0x9b, 0x09, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,  // IPv4, total 48
    0xc0, 0x00, 0x02, 0x0a, 0xc0, 0x00, 0x02, 0x01,                          // 192.0.2.10 > 192.0.2.1
    0xb7, 0xc2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00,  // 47042 > 80, seq 1000
    0x70, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,                          // doff 7, SYN, win 64240
    0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x6f,                          // MSS 1460, NOP, WS 111
};

TEST(EngineBounds, CapturedWindowScaleAbove14IsUsedAs14) {
    const net::DecodeResult syn = net::decodeIpTcp(std::as_bytes(std::span(kSynWscale111)));
    ASSERT_EQ(syn.status, net::DecodeStatus::Ok);
    ASSERT_EQ(syn.segment.options.windowScale, std::uint8_t{111});
    Recorder out;
    Engine engine(config(), out);
    engine.onCaptured(syn.segment, 1s);
    ASSERT_EQ(out.sent.size(), 1u);
    EXPECT_EQ(out.sent[0].options.windowScale, std::uint8_t{14});
    TcpSegment synAck = synAckClosedWindow(47042, 1000);
    synAck.window = 65535;
    synAck.options.windowScale = 7;
    engine.onResponse(synAck, 1010ms);
    // Data advertises the captured window: 65535 << 14 must saturate, not overflow.
    engine.onCaptured(clientSegment(47042, 1001, tcpflag::kAck | tcpflag::kPsh, "GET / HTTP/1.1\r\n\r\n"),
                      1020ms);
    TcpSegment data = clientSegment(47042, 1001, tcpflag::kAck, "x");
    data.window = 65535;
    engine.onCaptured(data, 1030ms);
    ASSERT_GE(out.sent.size(), 3u);
    EXPECT_LE(out.sent.back().window, 65535);
}

TEST(EngineBounds, TargetMssOfZeroWithTimestampsStillSendsSmallSegments) {
    Recorder out;
    Engine engine(config(), out);
    TcpSegment syn = clientSegment(40000, 1000, tcpflag::kSyn);
    syn.options.timestamps = net::TcpTimestamps{1, 0};
    engine.onCaptured(syn, 1s);
    TcpSegment synAck = synAckClosedWindow(40000, 1000);
    synAck.window = 65535;
    synAck.options.mss = 0;  // nonsense, but what the wire said
    synAck.options.timestamps = net::TcpTimestamps{7, 1};
    engine.onResponse(synAck, 1010ms);
    const std::string request(1000, 'r');
    engine.onCaptured(clientSegment(40000, 1001, tcpflag::kAck | tcpflag::kPsh, request), 1020ms);
    std::size_t dataSegments = 0;
    for (const TcpSegment& s : out.sent) {
        if (s.payloadLength == 0) continue;
        ++dataSegments;
        EXPECT_LE(s.payloadLength, 64u);  // the floor, not 2^32 - 12 cut to 16 bits
    }
    EXPECT_GT(dataSegments, 0u);
}

}  // namespace
}  // namespace tcpcopy::session
