#pragma once
// A recording Output and hand-built segments for small engine tests (bounds, fuzz regressions):
// one client 192.0.2.10 talking to 192.0.2.1:80, replayed to 198.18.1.2:80.
#include <chrono>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {

using namespace std::chrono_literals;
using net::Ipv4Addr;
using net::Port;
using net::SeqNum;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;

inline const Ipv4Addr kClient = Ipv4Addr::fromOctets(192, 0, 2, 10);
inline const Ipv4Addr kOnline = Ipv4Addr::fromOctets(192, 0, 2, 1);
inline const Ipv4Addr kTarget = Ipv4Addr::fromOctets(198, 18, 1, 2);

struct Recorder final : Output {
    void sendToTarget(const TcpSegment& s) override { sent.push_back(s); }
    void addRoute(const net::FlowKey& f) override { routes.insert(f); }
    void removeRoute(const net::FlowKey& f) override { routes.erase(f); }
    std::vector<TcpSegment> sent;
    std::set<net::FlowKey> routes;
};

inline EngineConfig config() {
    EngineConfig c;
    c.rules.push_back({std::nullopt, Port(80), {kTarget, Port(80)}});
    return c;
}

inline TcpSegment clientSegment(std::uint16_t port, std::uint32_t seq, std::uint8_t flags,
                                const std::string& data = {}) {
    TcpSegment s;
    s.src = kClient;
    s.sport = Port(port);
    s.dst = kOnline;
    s.dport = Port(80);
    s.seq = SeqNum(seq);
    s.ack = SeqNum(5001);
    s.flags = flags;
    s.window = 512;
    s.payload = std::as_bytes(std::span(data.data(), data.size()));
    s.payloadLength = static_cast<std::uint32_t>(data.size());
    return s;
}

// The target's SYN-ACK for the session the engine opened for `port`, with a closed window: the
// target takes nothing, so whatever the capture brings stays buffered.
inline TcpSegment synAckClosedWindow(std::uint16_t port, std::uint32_t clientIsn) {
    TcpSegment s;
    s.src = kTarget;
    s.sport = Port(80);
    s.dst = kClient;
    s.dport = Port(port);
    s.seq = SeqNum(90000);
    s.ack = SeqNum(clientIsn + 1);
    s.flags = tcpflag::kSyn | tcpflag::kAck;
    s.window = 0;
    s.options.mss = 1460;
    return s;
}

}  // namespace tcpcopy::session::testing
