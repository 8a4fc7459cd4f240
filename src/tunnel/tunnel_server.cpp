#include "tcpcopy/tunnel/tunnel_server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "connection.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/os/listener.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::tunnel {
namespace {

using Fd = os::UniqueFd;

std::string moreLikeIt(const log::Throttle& throttle) {
    if (throttle.suppressed() == 0) return {};
    return " (" + std::to_string(throttle.suppressed()) + " more like it not logged)";
}

}  // namespace

os::Result<std::vector<Cidr>> parseCidrList(std::string_view text) {
    using R = os::Result<std::vector<Cidr>>;
    std::vector<Cidr> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        std::string_view item =
            text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) return R::fail("empty element in CIDR list '" + std::string(text) + "'");
        const std::size_t slash = item.find('/');
        const std::string_view addr = item.substr(0, slash);
        const auto network = net::IpAddr::parse(addr);
        if (!network) return R::fail("bad IP address in '" + std::string(item) + "'");
        auto cidr = net::IpPrefix::parse(item);
        if (!cidr) {
            return R::fail("bad prefix length in '" + std::string(item) + "' (expected 0-" +
                           (network->isV4() ? "32" : "128") + ")");
        }
        out.push_back(*cidr);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return R::ok(std::move(out));
}

class TunnelServer::Impl {
  public:
    Impl(os::EventBase& base, TunnelServerOptions options, TunnelServerCallbacks callbacks)
        : base_(base),
          options_(std::move(options)),
          callbacks_(std::move(callbacks)),
          graveyard_(base),
          log_(log::component("tunnel")) {
        if (options_.maxConnections == 0) options_.maxConnections = 1;
    }

    std::string start() {
        auto listener = os::Listener::listen(
            base_, options_.listen,
            [this](Fd fd, const net::Endpoint& from) { accepted(std::move(fd), from); },
            [this](const std::string& reason) { onAcceptError(reason); }, options_.acceptPause);
        if (!listener)
            return "cannot bind tunnel port " + options_.listen.toString() + ": " + listener.error();
        listener_ = std::move(listener).value();
        local_ = listener_->local();
        auto flushTimer = os::Event::timer(base_, [this](short) { flush(); });
        if (!flushTimer) return flushTimer.error();
        flushTimer_ = std::move(flushTimer).value();
        return {};
    }

    net::Endpoint local() const { return local_; }

    void sendResponse(PeerId id, net::Bytes response) {
        auto it = peers_.find(id);
        if (it == peers_.end() || !it->second->ready) {
            ++counters_.unknownPeer;
            return;
        }
        Peer& peer = *it->second;
        if (peer.payloadBytes > 0) return sendWithPayload(peer, response);
        // Without --payload the response is the header already: the path of every release before.
        const net::Bytes header = options_.payloadBytes == 0 ? response : splitResponse(response).header;
        if (!peer.batch.add(header)) {
            flushPeer(peer);
            if (!peer.batch.add(header)) return;  // empty or > 64 KiB: not a header
        }
        scheduleFlush(peer);
    }

    void flush() {
        for (auto& [id, peer] : peers_) flushPeer(*peer);
    }

    std::size_t peerCount() const { return counters_.peers; }

    TunnelServerCounters counters() const {
        TunnelServerCounters c = counters_;
        c.connections = peers_.size();
        c.acceptErrors = listener_->errors();
        c.queueDrops = closedDrops_;
        c.payloadPeers = payloadPeers_.size();
        c.payloadQueued = payloadQueued();
        for (const auto& [id, peer] : peers_) c.queueDrops += peer->conn->stats().droppedItems;
        return c;
    }

  private:
    struct Peer {
        PeerInfo info;
        bool ready = false;
        Nonce nonce{};
        std::unique_ptr<detail::Connection> conn;
        ResponseBatch batch;
        std::uint16_t payloadBytes = 0;  // granted in HELLO_ACK: 0 for headers only
        std::optional<os::Event> handshakeTimer;
    };

    void flushPeer(Peer& peer) {
        if (peer.batch.empty() || !peer.ready) return;
        std::size_t items = peer.batch.count();
        counters_.responsesSent += items;
        ++counters_.batchesSent;
        peer.conn->sendDroppable(peer.batch.finish(), items);
    }

    std::string payloadNote(const Peer& peer, std::uint16_t asked) const {
        if (asked == 0) return {};
        if (peer.payloadBytes == 0) return ", asked for response payloads: none sent (intercept --payload 0)";
        return ", response payloads: up to " + std::to_string(peer.payloadBytes) + " bytes each (asked " +
               std::to_string(asked) + ")";
    }

    void sendWithPayload(Peer& peer, net::Bytes response) {
        const ResponseParts parts = splitResponse(response);
        if (parts.header.empty()) return;
        net::Bytes captured =
            parts.payload.first(std::min<std::size_t>(parts.payload.size(), peer.payloadBytes));
        if (!captured.empty() && payloadQueued() + captured.size() > options_.maxPayloadQueuedBytes) {
            ++counters_.payloadsTrimmed;
            captured = {};
        }
        if (!peer.batch.add(parts.header, parts.payloadLength, captured)) {
            flushPeer(peer);
            if (!peer.batch.add(parts.header, parts.payloadLength, captured)) return;
        }
        ++counters_.payloadItems;
        counters_.payloadBytes += captured.size();
        scheduleFlush(peer);
    }

    void scheduleFlush(Peer& peer) {
        if (peer.batch.frameSize() >= options_.batchBytes) {
            flushPeer(peer);
        } else if (options_.flushDelay.count() <= 0) {
            flushTimer_->activate();  // once per turn: a no-op while already due
        } else if (!flushTimer_->pending()) {
            flushTimer_->add(options_.flushDelay);
        }
    }

    // What the payload peers have waiting: O(payload peers), paid only on the payload path.
    std::size_t payloadQueued() const {
        std::size_t bytes = 0;
        for (const Peer* peer : payloadPeers_) bytes += peer->conn->queuedBytes() + peer->batch.frameSize();
        return bytes;
    }

    // The listener paused accepting (out of descriptors or memory) instead of spinning.
    void onAcceptError(const std::string& reason) {
        if (acceptErrorLog_.allow(base_.now())) {
            log_->warn("cannot accept tunnel connections on {}: {}; pausing accepts for {} ms each time{}",
                       local_.toString(), reason,
                       std::chrono::duration_cast<std::chrono::milliseconds>(options_.acceptPause).count(),
                       moreLikeIt(acceptErrorLog_));
        }
    }

    // A short REJECT straight on the accepted socket, then close (the peer never got a Connection).
    static void rejectAtAccept(const Fd& fd, RejectReason reason, const std::string& text) {
        Buffer reject;
        encode(reject, Reject{reason, text}, kHandshakeFrameVersion);
        [[maybe_unused]] auto n = ::send(fd.get(), reject.data(), reject.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }

    bool allowed(const net::IpAddr& addr) const {
        if (options_.allow.empty()) return true;
        for (const Cidr& c : options_.allow) {
            if (c.contains(addr)) return true;
        }
        return false;
    }

    void accepted(Fd fd, const net::Endpoint& from) {
        if (!allowed(from.addr)) {
            ++counters_.refused;
            if (refusalLog_.allow(base_.now())) {
                log_->warn("refused tunnel connection from {}: not in --allow{}", from.toString(),
                           moreLikeIt(refusalLog_));
            }
            rejectAtAccept(fd, RejectReason::NotAllowed, from.addr.toString() + " not allowed");
            return;
        }
        if (peers_.size() >= options_.maxConnections) {
            ++counters_.refusedBusy;
            if (busyLog_.allow(base_.now())) {
                log_->warn(
                    "refused tunnel connection from {}: {} connections open, the --max-connections limit{}",
                    from.toString(), peers_.size(), moreLikeIt(busyLog_));
            }
            rejectAtAccept(
                fd, RejectReason::TooManyConnections,
                "intercept has " + std::to_string(peers_.size()) + " connections open (--max-connections)");
            return;
        }
        ++counters_.accepted;
        auto bev = os::BufferEvent::adopt(base_, fd.release());  // owns the fd now, or closed it
        if (!bev) {
            log_->warn("tunnel connection from {}: {}", from.toString(), bev.error());
            return;
        }
        PeerId id = nextId_++;
        auto peer = std::make_unique<Peer>();
        peer->info.id = id;
        peer->info.address = from;
        peer->nonce = randomNonce();
        detail::Connection::Limits limits;
        limits.idleTimeout = options_.idleTimeout;
        limits.heartbeatInterval = options_.heartbeatInterval;
        limits.maxQueued = options_.maxQueuedBytes;
        detail::Connection::Handlers handlers;
        handlers.onMessage = [this, id](const Message& m) { onMessage(id, m); };
        handlers.onClose = [this, id](detail::CloseKind kind, const std::string& reason) {
            onClose(id, kind, reason);
        };
        peer->conn = std::make_unique<detail::Connection>(
            base_, std::move(bev).value(), from.toString(), limits, std::move(handlers), false,
            detail::typeBit(MessageType::Hello) | detail::typeBit(MessageType::Heartbeat));
        auto timer = os::Event::timer(base_, [this, id](short) {
            auto it = peers_.find(id);
            if (it != peers_.end() && !it->second->ready) it->second->conn->close("handshake timeout");
        });
        if (timer) {
            peer->handshakeTimer = std::move(timer).value();
            peer->handshakeTimer->add(options_.handshakeTimeout);
        }
        peer->conn->send(Challenge{!options_.secret.empty(), peer->nonce, kVersion});
        log_->debug("tunnel connection {} from {}", id, from.toString());
        peers_.emplace(id, std::move(peer));
    }

    // Tells the peer why (reason code plus detail) and closes.
    void reject(Peer& peer, RejectReason reason, const std::string& detail) {
        peer.conn->send(Reject{reason, detail});
        peer.conn->close(std::string(rejectReasonName(reason)) + " (" + detail + ")");
    }

    void onMessage(PeerId id, const Message& message) {
        auto it = peers_.find(id);
        if (it == peers_.end()) return;
        Peer& peer = *it->second;
        if (const auto* hello = std::get_if<Hello>(&message)) {
            if (peer.ready) return reject(peer, RejectReason::Protocol, "second HELLO");
            peer.info.instanceId = hello->instanceId;
            if (hello->version != kVersion) {
                ++counters_.authFailures;
                return reject(peer, RejectReason::BadVersion,
                              "intercept speaks tunnel protocol " + std::to_string(kVersion) +
                                  ", tcpcopy sent " + std::to_string(hello->version) +
                                  ": run the same release on both sides");
            }
            HelloAck ack{id, std::nullopt};
            if (!options_.secret.empty()) {
                const auto expected = computeHelloMac(options_.secret, peer.nonce, hello->nonce);
                if (!expected) {
                    ++counters_.authFailures;
                    log_->error("cannot compute HMAC-SHA256 (OpenSSL): refusing tcpcopy from {}",
                                peer.info.address.toString());
                    return reject(peer, RejectReason::AuthFailed, "intercept cannot compute the HMAC");
                }
                if (!macMatches(expected, hello->mac)) {
                    ++counters_.authFailures;
                    return reject(peer, RejectReason::AuthFailed,
                                  hello->mac ? "wrong secret" : "HELLO without HMAC, a secret is required");
                }
                ack.mac = computeAckMac(options_.secret, peer.nonce, hello->nonce);
                if (!ack.mac) {
                    ++counters_.authFailures;
                    return reject(peer, RejectReason::AuthFailed, "intercept cannot compute the HMAC");
                }
            }
            peer.payloadBytes = std::min(hello->payloadBytes, options_.payloadBytes);
            ack.payloadBytes = peer.payloadBytes;
            if (peer.payloadBytes > 0) {
                peer.batch = ResponseBatch(true);
                payloadPeers_.push_back(&peer);
            }
            peer.ready = true;
            if (peer.handshakeTimer) peer.handshakeTimer->del();
            peer.conn->send(ack);
            peer.conn->enterSession(
                detail::typeBit(MessageType::RouteAdd) | detail::typeBit(MessageType::RouteDel) |
                detail::typeBit(MessageType::Heartbeat) | detail::typeBit(MessageType::Reject));
            ++counters_.peers;
            log_->info("tcpcopy peer {} connected from {} ({}){}", id, peer.info.address.toString(),
                       log::printable(peer.info.instanceId), payloadNote(peer, hello->payloadBytes));
            if (callbacks_.onPeerUp) callbacks_.onPeerUp(peer.info);
            return;
        }
        if (std::holds_alternative<Heartbeat>(message)) return;
        if (std::holds_alternative<Reject>(message)) {
            return peer.conn->close("peer sent REJECT: " + log::printable(std::get<Reject>(message).text));
        }
        if (!peer.ready) return reject(peer, RejectReason::Protocol, "message before HELLO");
        if (const auto* add = std::get_if<RouteAdd>(&message)) {
            ++counters_.routeAdds;
            if (callbacks_.onRouteAdd) callbacks_.onRouteAdd(id, add->flow);
        } else if (const auto* del = std::get_if<RouteDel>(&message)) {
            ++counters_.routeDels;
            if (callbacks_.onRouteDel) callbacks_.onRouteDel(id, del->flow);
        } else {
            reject(peer, RejectReason::Protocol, "unexpected message from tcpcopy");
        }
    }

    void onClose(PeerId id, detail::CloseKind kind, const std::string& reason) {
        auto it = peers_.find(id);
        if (it == peers_.end()) return;
        std::shared_ptr<Peer> peer(std::move(it->second));
        peers_.erase(it);
        std::erase(payloadPeers_, peer.get());
        closedDrops_ += peer->conn->stats().droppedItems;
        if (kind == detail::CloseKind::Malformed) ++counters_.malformed;
        if (kind == detail::CloseKind::Idle) ++counters_.idleDropped;
        std::string who = peer->info.address.toString();
        if (peer->ready) {
            --counters_.peers;
            log_->info("tcpcopy peer {} ({}) disconnected: {}", id, who, reason);
            if (callbacks_.onPeerDown) callbacks_.onPeerDown(peer->info, reason);
        } else if (handshakeLog_.allow(base_.now())) {
            log_->warn("tunnel connection from {} closed during handshake: {}{}", who, reason,
                       moreLikeIt(handshakeLog_));
        }
        graveyard_.bury(std::move(peer));
    }

    os::EventBase& base_;
    TunnelServerOptions options_;
    TunnelServerCallbacks callbacks_;
    detail::Graveyard graveyard_;
    std::shared_ptr<spdlog::logger> log_;
    std::unique_ptr<os::Listener> listener_;
    net::Endpoint local_;
    // What strangers can repeat at will is logged at most this often.
    log::Throttle acceptErrorLog_{std::chrono::seconds(10)};
    log::Throttle busyLog_{std::chrono::seconds(10)};
    log::Throttle refusalLog_{std::chrono::seconds(10), 20};
    log::Throttle handshakeLog_{std::chrono::seconds(10), 20};
    std::optional<os::Event> flushTimer_;
    std::unordered_map<PeerId, std::unique_ptr<Peer>> peers_;
    std::vector<const Peer*> payloadPeers_;  // ready peers granted payloads
    PeerId nextId_ = 1;
    std::uint64_t closedDrops_ = 0;
    TunnelServerCounters counters_;
};

os::Result<std::unique_ptr<TunnelServer>> TunnelServer::listen(os::EventBase& base,
                                                               TunnelServerOptions options,
                                                               TunnelServerCallbacks callbacks) {
    using R = os::Result<std::unique_ptr<TunnelServer>>;
    auto impl = std::make_unique<Impl>(base, std::move(options), std::move(callbacks));
    if (std::string error = impl->start(); !error.empty()) return R::fail(error);
    return R::ok(std::unique_ptr<TunnelServer>(new TunnelServer(std::move(impl))));
}

TunnelServer::TunnelServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TunnelServer::~TunnelServer() = default;
net::Endpoint TunnelServer::localEndpoint() const { return impl_->local(); }
void TunnelServer::sendResponse(PeerId peer, net::Bytes response) { impl_->sendResponse(peer, response); }
void TunnelServer::flush() { impl_->flush(); }
std::size_t TunnelServer::peerCount() const { return impl_->peerCount(); }
TunnelServerCounters TunnelServer::counters() const { return impl_->counters(); }

}  // namespace tcpcopy::tunnel
