#pragma once
// In-memory traffic for the benchmarks: captured client packet streams of three shapes (HTTP
// short connections, HTTP keep-alive, redis pipelines) as Ethernet frames, and a stateless
// simulated target that answers the engine's segments with header-only responses, as intercept
// delivers them, so that sessions progress (handshake, request gates, acknowledgements, close).
//
// The streams are the client side of a capture, interleaved over many concurrent connections:
// that is the part the engine works on (server packets in a capture are dropped by the first
// rule lookup). Each request is answered by exactly the number of bytes the captured client had
// acknowledged, so every request gate opens on the response, as with a faithful target.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::bench {

using namespace std::chrono_literals;
namespace tcpflag = net::tcpflag;

enum class Shape { HttpShort, HttpKeepAlive, RedisPipeline };

inline std::string_view shapeName(Shape shape) {
    switch (shape) {
        case Shape::HttpShort:
            return "http-short";
        case Shape::HttpKeepAlive:
            return "http-keepalive";
        case Shape::RedisPipeline:
            return "redis-pipeline";
    }
    return "?";
}

struct Frame {
    std::vector<std::byte> bytes;  // Ethernet frame
};

struct Traffic {
    std::vector<Frame> frames;
    std::size_t connections = 0;
    std::size_t requests = 0;
    std::uint16_t serverPort = 80;
};

inline constexpr std::uint32_t kServerIsn = 7'000'000;  // the captured server's ISN
inline constexpr const char* kOnlineServer = "192.0.2.1";
inline constexpr const char* kTarget = "198.18.1.2";

// One captured client connection being written out packet by packet.
class ClientConn {
  public:
    ClientConn(std::uint32_t clientAddr, std::uint16_t clientPort, std::uint16_t serverPort,
               std::uint32_t isn)
        : clientAddr_(clientAddr),
          clientPort_(clientPort),
          serverPort_(serverPort),
          isn_(isn),
          seq_(isn + 1) {}

    void syn(Traffic& t) {
        net::TcpSegment s = base(tcpflag::kSyn);
        s.seq = net::SeqNum(isn_);
        s.ack = net::SeqNum(0);
        s.window = 64240;
        s.options.mss = 1460;
        s.options.windowScale = 7;
        s.options.sackPermitted = true;
        emit(t, s, {});
    }
    void ack(Traffic& t) { emit(t, base(tcpflag::kAck), {}); }
    void data(Traffic& t, std::string_view payload) {
        net::TcpSegment s = base(tcpflag::kAck | tcpflag::kPsh);
        emit(t, s, payload);
        seq_ += static_cast<std::uint32_t>(payload.size());
    }
    // The client has now seen `bytes` more bytes of server data.
    void sawServer(std::uint32_t bytes) { serverSeen_ += bytes; }
    void fin(Traffic& t) {
        emit(t, base(tcpflag::kFin | tcpflag::kAck), {});
        seq_ += 1;
    }

  private:
    net::TcpSegment base(std::uint8_t flags) {
        net::TcpSegment s;
        s.src = net::Ipv4Addr(clientAddr_);
        s.dst = *net::Ipv4Addr::parse(kOnlineServer);
        s.sport = net::Port(clientPort_);
        s.dport = net::Port(serverPort_);
        s.seq = net::SeqNum(seq_);
        s.ack = net::SeqNum(kServerIsn + 1 + serverSeen_);
        s.flags = flags;
        s.window = 502;
        s.ttl = 64;
        s.ipId = static_cast<std::uint16_t>(tsval_);
        s.options.timestamps = net::TcpTimestamps{tsval_++, 1000};
        return s;
    }
    void emit(Traffic& t, net::TcpSegment s, std::string_view payload) {
        s.payload = net::Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
        s.payloadLength = static_cast<std::uint32_t>(payload.size());
        Frame f;
        f.bytes.resize(14 + net::kMaxHeadersLen + payload.size());
        // Ethernet: two locally administered MACs, EtherType IPv4.
        const std::uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
        for (int i = 0; i < 14; ++i) f.bytes[static_cast<std::size_t>(i)] = std::byte{eth[i]};
        const std::size_t n = net::buildIpTcp(s, net::MutableBytes(f.bytes).subspan(14));
        f.bytes.resize(14 + n);
        t.frames.push_back(std::move(f));
    }

    std::uint32_t clientAddr_;
    std::uint16_t clientPort_;
    std::uint16_t serverPort_;
    std::uint32_t isn_;
    std::uint32_t seq_;
    std::uint32_t serverSeen_ = 0;
    std::uint32_t tsval_ = 5000;
};

// Response sizes the simulated target must produce: the captured clients acknowledge these.
inline constexpr std::uint32_t kHttpResponseBytes = 850;
inline constexpr std::uint32_t kRedisResponseBytes = 5 * 16;  // "+OK\r\n" per pipelined command

inline std::string httpRequest(std::size_t n) {
    return "GET /api/items/" + std::to_string(n) +
           " HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n";
}

inline std::string redisPipeline(std::size_t n) {
    std::string out;
    for (int i = 0; i < 16; ++i) {
        const std::string key = "key:" + std::to_string(n * 16 + static_cast<std::size_t>(i));
        out += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$3\r\nxyz\r\n";
    }
    return out;
}

// `connections` connections, `concurrency` of them open at a time, their packets interleaved
// round robin (one packet step of each open connection per round).
inline Traffic makeTraffic(Shape shape, std::size_t connections, std::size_t concurrency) {
    Traffic t;
    t.serverPort = shape == Shape::RedisPipeline ? 6379 : 80;
    t.connections = connections;
    const std::size_t requestsPerConn =
        shape == Shape::HttpShort ? 1 : (shape == Shape::HttpKeepAlive ? 20 : 10);
    const std::uint32_t responseBytes =
        shape == Shape::RedisPipeline ? kRedisResponseBytes : kHttpResponseBytes;
    // Steps of one connection: SYN, ACK, then per request data + ACK of the response, then FIN.
    const std::size_t steps = 2 + 2 * requestsPerConn + 1;
    struct Live {
        ClientConn conn;
        std::size_t step = 0;
        std::size_t request = 0;
    };
    std::vector<Live> live;
    std::size_t next = 0;
    auto open = [&]() {
        const std::uint32_t addr = 0xC0000200u + 10 + static_cast<std::uint32_t>(next % 200);  // 192.0.2.10..
        const auto port = static_cast<std::uint16_t>(1024 + (next / 200) % 60000);
        live.push_back(
            Live{ClientConn(addr, port, t.serverPort, static_cast<std::uint32_t>(next * 7919u + 1)), 0, 0});
        ++next;
    };
    while (next < connections && live.size() < concurrency) open();
    while (!live.empty()) {
        for (std::size_t i = 0; i < live.size();) {
            Live& l = live[i];
            if (l.step == 0) {
                l.conn.syn(t);
            } else if (l.step == 1) {
                l.conn.ack(t);
            } else if (l.step + 1 < steps) {
                if ((l.step - 2) % 2 == 0) {
                    const std::size_t id = t.requests++;
                    l.conn.data(t, shape == Shape::RedisPipeline ? redisPipeline(id) : httpRequest(id));
                } else {
                    l.conn.sawServer(responseBytes);
                    l.conn.ack(t);
                }
            } else {
                l.conn.fin(t);
            }
            if (++l.step == steps) {
                live[i] = std::move(live.back());
                live.pop_back();
                if (next < connections) open();
                continue;
            }
            ++i;
        }
    }
    return t;
}

// The target as the engine sees it through intercept: stateless, because everything it needs is
// in the engine's segment (the engine acknowledges all the target sent, so its ack is the
// target's next sequence number). A SYN gets a SYN-ACK; data with PSH gets one response of
// `responseBytes` (header only, payloadLength set); a FIN gets a FIN-ACK. Responses are queued
// and delivered by deliver() after the engine call returns, as a real event loop would.
class StatelessTarget final : public session::Output {
  public:
    explicit StatelessTarget(std::uint32_t responseBytes, bool answer = true)
        : responseBytes_(responseBytes), answer_(answer) {
        queue_.reserve(64);
    }

    void sendToTarget(const net::TcpSegment& seg) override {
        ++segments;
        if (!answer_ || seg.has(tcpflag::kRst)) return;
        net::TcpSegment r;
        r.src = seg.dst;
        r.sport = seg.dport;
        r.dst = seg.src;
        r.dport = seg.sport;
        r.window = 512;  // scaled by 7: 64 KiB
        if (seg.options.timestamps)
            r.options.timestamps = net::TcpTimestamps{tsval_++, seg.options.timestamps->value};
        if (seg.has(tcpflag::kSyn)) {
            r.flags = tcpflag::kSyn | tcpflag::kAck;
            r.seq = net::SeqNum(1'000'000);
            r.ack = seg.seq + 1;
            r.window = 65535;  // not scaled in a SYN-ACK
            r.options.mss = 1460;
            if (seg.options.windowScale) r.options.windowScale = 7;
            queue_.push_back(r);
            return;
        }
        const net::SeqNum after = seg.seq + seg.payloadLength;
        if (seg.has(tcpflag::kFin)) {
            r.flags = tcpflag::kFin | tcpflag::kAck;
            r.seq = seg.ack;
            r.ack = after + 1;
            queue_.push_back(r);
            return;
        }
        if (seg.payloadLength > 0) {
            // The end of a request (PSH) is answered; a segment before it only acknowledged.
            r.flags = seg.has(tcpflag::kPsh) ? tcpflag::kAck | tcpflag::kPsh : tcpflag::kAck;
            r.seq = seg.ack;
            r.ack = after;
            r.payloadLength = seg.has(tcpflag::kPsh) ? responseBytes_ : 0;
            queue_.push_back(r);
        }
    }
    void addRoute(const net::FlowKey&) override { ++routes; }
    void removeRoute(const net::FlowKey&) override {}

    void deliver(session::Engine& engine, session::Time now) {
        // Responses may cause more segments and so more responses.
        while (!queue_.empty()) {
            pending_.swap(queue_);
            for (const net::TcpSegment& r : pending_) engine.onResponse(r, now);
            pending_.clear();
        }
    }

    std::uint64_t segments = 0;
    std::uint64_t routes = 0;

  private:
    std::uint32_t responseBytes_;
    bool answer_;
    std::uint32_t tsval_ = 1;
    std::vector<net::TcpSegment> queue_;
    std::vector<net::TcpSegment> pending_;
};

inline session::EngineConfig benchConfig(std::uint16_t port) {
    session::EngineConfig c;
    c.rules.push_back({std::nullopt, net::Port(port), {*net::Ipv4Addr::parse(kTarget), net::Port(port)}});
    return c;
}

}  // namespace tcpcopy::bench
