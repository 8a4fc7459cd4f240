#pragma once
// Shared by the tunnel's loopback tests: an event loop driven until a condition holds, recorders
// for the client's and the server's callbacks, and RawPeer, a hand-driven peer on a blocking
// socket that misbehaves in ways TunnelClient never does.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tcpcopy/tunnel/tunnel_client.h"
#include "tcpcopy/tunnel/tunnel_server.h"

namespace tcpcopy::tunnel::testing {

using namespace std::chrono_literals;

inline net::FlowKey flow(std::uint16_t clientPort) {
    return net::FlowKey{{net::Ipv4Addr::fromOctets(192, 0, 2, 1), net::Port(clientPort)},
                        {net::Ipv4Addr::fromOctets(198, 18, 1, 2), net::Port(80)}};
}

inline Buffer raw(std::initializer_list<int> values) {
    Buffer out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

inline const net::Endpoint kLoopbackAnyPort{net::Ipv4Addr::fromOctets(127, 0, 0, 1), net::Port(0)};

class Loop {
  public:
    Loop() : base_(os::EventBase::create().value()) {}
    os::EventBase& base() { return base_; }
    // Runs the loop until `done` holds or `timeout` passes; returns done().
    template <class Pred>
    bool runUntil(Pred done, std::chrono::milliseconds timeout = 3000ms) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        auto tick = os::Event::timer(
                        base_, [](short) {}, true)
                        .value();
        tick.add(2ms);
        // done() may consume what it checks, so call it once per iteration.
        for (;;) {
            if (done()) return true;
            if (std::chrono::steady_clock::now() >= deadline) return false;
            base_.runOnce(true);
        }
    }
    void runFor(std::chrono::milliseconds d) {
        auto until = std::chrono::steady_clock::now() + d;
        runUntil([&] { return std::chrono::steady_clock::now() >= until; }, d + 1000ms);
    }

  private:
    os::EventBase base_;
};

struct ServerLog {
    std::vector<PeerInfo> up;
    std::vector<std::pair<PeerId, std::string>> down;
    std::vector<std::pair<PeerId, net::FlowKey>> adds;
    std::vector<std::pair<PeerId, net::FlowKey>> dels;
    TunnelServerCallbacks callbacks() {
        return TunnelServerCallbacks{
            [this](const PeerInfo& p) { up.push_back(p); },
            [this](const PeerInfo& p, const std::string& why) { down.emplace_back(p.id, why); },
            [this](PeerId id, const net::FlowKey& f) { adds.emplace_back(id, f); },
            [this](PeerId id, const net::FlowKey& f) { dels.emplace_back(id, f); }};
    }
};

struct ClientLog {
    std::vector<Buffer> responses;
    int connected = 0;
    std::vector<std::string> lost;
    TunnelClientCallbacks callbacks() {
        return TunnelClientCallbacks{
            [this](net::Bytes b) { responses.emplace_back(b.begin(), b.end()); },
            [this](const ConnectionInfo&) { ++connected; },
            [this](const ConnectionInfo&, const std::string& why) { lost.push_back(why); }, nullptr};
    }
};

inline TunnelServerOptions serverOptions() {
    TunnelServerOptions o;
    o.listen = kLoopbackAnyPort;
    return o;
}

inline TunnelClientOptions clientOptions(net::Endpoint server) {
    TunnelClientOptions o;
    o.intercepts = {server};
    o.instanceId = "unit-test";
    o.reconnectMin = 20ms;
    o.reconnectMax = 100ms;
    return o;
}

inline Buffer header(int tag, std::size_t size = 40) {
    Buffer b(size, static_cast<std::byte>(tag));
    b[0] = std::byte{0x45};
    return b;
}

// A hand-driven peer on a blocking socket, to misbehave in ways TunnelClient never does.
class RawPeer {
  public:
    explicit RawPeer(net::Endpoint to) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(to.addr.v4().value());
        sin.sin_port = htons(to.port.value());
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0;
    }
    // Takes an accepted socket (the fake intercept's side).
    explicit RawPeer(int acceptedFd) : fd_(acceptedFd), connected_(acceptedFd >= 0) {}
    ~RawPeer() { ::close(fd_); }
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;
    bool connected() const { return connected_; }
    void send(const Buffer& b) {
        ASSERT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
    }
    // Encoded with the header version of the current phase (handshake, then session).
    void send(const Message& m) {
        Buffer b;
        encode(b, m, version_);
        send(b);
    }
    // The handshake is over (HELLO_ACK seen): session frames both ways from now on.
    void enterSession() {
        version_ = kVersion;
        decoder_.expect(kVersion, kMaxPayload);
    }
    // Reads what is available without blocking into the decoder.
    void pump() {
        std::byte buf[65536];
        for (;;) {
            ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) {
                eof_ = eof_ || n == 0;
                return;
            }
            decoder_.feed(net::Bytes(buf, static_cast<std::size_t>(n)));
        }
    }
    bool eof() const { return eof_; }
    std::optional<Message> nextMessage(std::vector<Buffer>* keep = nullptr) {
        Frame f;
        if (decoder_.next(f) != FrameDecoder::Status::Frame) return std::nullopt;
        Message m;
        if (decodeMessage(f, m) != MessageError::None) return std::nullopt;
        if (keep) keep->emplace_back(f.payload.begin(), f.payload.end());
        return m;
    }
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    std::uint8_t version_ = kHandshakeFrameVersion;
    FrameDecoder decoder_{kMaxPayload, kHandshakeFrameVersion};
};

// A fake intercept's listening socket on loopback, accepted from by polling.
class RawListener {
  public:
    RawListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
        ::listen(fd_, 16);
        socklen_t len = sizeof sin;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len);
        endpoint_ = net::Endpoint{net::Ipv4Addr(ntohl(sin.sin_addr.s_addr)), net::Port(ntohs(sin.sin_port))};
    }
    ~RawListener() { ::close(fd_); }
    net::Endpoint endpoint() const { return endpoint_; }
    // The next pending connection, or nullptr.
    std::unique_ptr<RawPeer> accept() {
        const int fd = ::accept(fd_, nullptr, nullptr);
        return fd < 0 ? nullptr : std::make_unique<RawPeer>(fd);
    }

  private:
    int fd_ = -1;
    net::Endpoint endpoint_;
};

// Runs the loop until `peer` has a complete message, and returns it.
inline std::optional<Message> nextFrom(Loop& loop, RawPeer& peer) {
    std::optional<Message> m;
    loop.runUntil([&] {
        peer.pump();
        m = peer.nextMessage();
        return m.has_value();
    });
    return m;
}

// Performs the handshake of `peer` by hand while running the loop (no secret); `last` is what
// the server answered to the HELLO. After a HELLO_ACK the peer is in the session phase.
inline bool rawHandshake(Loop& loop, RawPeer& peer, std::optional<Message>& last) {
    std::optional<Message> challenge;
    if (!loop.runUntil([&] {
            peer.pump();
            challenge = peer.nextMessage();
            return challenge.has_value();
        })) {
        return false;
    }
    if (!std::holds_alternative<Challenge>(*challenge)) {
        return false;
    }
    peer.send(Hello{kVersion, "raw", randomNonce(), std::nullopt});
    const bool answered = loop.runUntil([&] {
        peer.pump();
        last = peer.nextMessage();
        return last.has_value();
    });
    if (answered && std::holds_alternative<HelloAck>(*last)) peer.enterSession();
    return answered;
}

}  // namespace tcpcopy::tunnel::testing
