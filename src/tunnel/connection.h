#pragma once
// One framed tunnel connection (private to the tunnel module): a BufferEvent, the incremental
// decoder, heartbeats, idle detection and a bounded queue for droppable frames. Shared by
// TunnelClient and TunnelServer so both ends speak the protocol through the same code.
//
// A connection starts in its handshake phase: frames carry header version 1, payloads of at most
// kMaxHandshakePayload bytes, and only the message types the owner lists are decoded (any other
// known type is a protocol violation, answered with REJECT and a close, its payload never
// parsed). enterSession() switches to the session's rules once the peer is authenticated.
//
// close() invokes onClose synchronously; the owner must not destroy the Connection from inside
// a handler (it defers the destruction to the next loop iteration, see Graveyard).

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tcpcopy/os/event.h"
#include "tcpcopy/tunnel/codec.h"

namespace tcpcopy::tunnel::detail {

struct ConnectionStats {
    std::uint64_t framesIn = 0;
    std::uint64_t framesOut = 0;
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
    std::uint64_t droppedFrames = 0;  // droppable frames discarded because the peer fell behind
    std::uint64_t droppedItems = 0;   // response items in them
};

enum class CloseKind : std::uint8_t {
    PeerClosed,  // EOF or a socket error
    Malformed,   // undecodable frame or message
    Idle,        // nothing received for idleTimeout
    Overflow,    // peer not reading our control frames
    Local,       // our own decision (protocol violation, reject, shutdown)
    Version,     // the peer speaks another protocol version (another release)
};

// A set of message types, one bit per MessageType value.
using TypeSet = std::uint32_t;
constexpr TypeSet typeBit(MessageType type) { return TypeSet{1} << static_cast<unsigned>(type); }

class Connection {
  public:
    struct Handlers {
        std::function<void()> onConnected;                                  // client side: connect() finished
        std::function<void(const Message&)> onMessage;                      // one decoded message
        std::function<void(CloseKind, const std::string& reason)> onClose;  // exactly once
    };
    struct Limits {
        os::Duration idleTimeout = std::chrono::seconds(10);
        os::Duration heartbeatInterval = std::chrono::seconds(2);
        std::size_t maxOutput = 16u << 20;         // control frames: above this the connection is reset
        std::size_t maxQueued = 8u << 20;          // droppable frames queued beyond the socket buffer
        std::size_t socketHighWater = 256u << 10;  // bytes handed to libevent before queueing
    };

    // `handshakeTypes`: the message types decoded before enterSession().
    Connection(os::EventBase& base, os::BufferEvent bev, std::string peerName, Limits limits,
               Handlers handlers, bool awaitConnect, TypeSet handshakeTypes);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends a frame that must not be lost (handshake, routes). Resets the connection when the
    // output buffer is already beyond Limits::maxOutput.
    void send(const Message& message);
    void sendFrame(const Buffer& frame);
    // Sends a frame that may be discarded, oldest first, when the peer stops reading.
    void sendDroppable(Buffer frame, std::size_t items);
    // The peer is authenticated: frames of version kVersion up to kMaxPayload, the message types
    // in `sessionTypes`; heartbeats and idle detection start. Frames sent before (the last
    // handshake frame) keep the handshake's header version.
    void enterSession(TypeSet sessionTypes);
    bool inSession() const { return inSession_; }
    void close(const std::string& reason, CloseKind kind = CloseKind::Local);

    bool closed() const { return closed_; }
    const std::string& peerName() const { return peerName_; }
    const ConnectionStats& stats() const { return stats_; }
    std::size_t queuedBytes() const { return queuedBytes_; }

  private:
    void onReadable();
    void onWritable();
    void onEvent(short what);
    void onTick();

    os::EventBase& base_;
    os::BufferEvent bev_;
    std::string peerName_;
    Limits limits_;
    Handlers handlers_;
    TypeSet accepted_;
    std::uint8_t frameVersion_ = kHandshakeFrameVersion;
    bool inSession_ = false;
    FrameDecoder decoder_{kMaxHandshakePayload, kHandshakeFrameVersion};
    Buffer readBuf_;
    Buffer scratch_;  // the frame send() encodes, reused
    std::deque<std::pair<Buffer, std::size_t>> queued_;
    std::size_t queuedBytes_ = 0;
    std::optional<os::Event> tick_;
    std::chrono::steady_clock::time_point lastReceived_;
    std::chrono::steady_clock::time_point lastSent_;
    bool keepalive_ = false;
    bool closed_ = false;
    ConnectionStats stats_;
};

// Connections closed from inside their own callbacks are parked here and destroyed on the next
// loop iteration.
class Graveyard {
  public:
    explicit Graveyard(os::EventBase& base);
    // Anything owning a Connection or an Event whose callback is running right now.
    void bury(std::shared_ptr<void> object);

  private:
    std::vector<std::shared_ptr<void>> dead_;
    std::optional<os::Event> reaper_;
};

}  // namespace tcpcopy::tunnel::detail
