#include "tcpcopy/tunnel/tunnel_client.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "connection.h"
#include "tcpcopy/config/address.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::tunnel {

os::Result<std::vector<net::Endpoint>> parseEndpointList(std::string_view text, std::uint16_t defaultPort) {
    using R = os::Result<std::vector<net::Endpoint>>;
    std::vector<net::Endpoint> out;
    for (const std::string_view item : config::splitList(text)) {
        if (item.empty()) return R::fail("empty element in address list " + config::quote(text));
        config::HostPort parsed;
        if (std::string reason = config::parseHostPort(item, config::PortUse::Optional, parsed);
            !reason.empty())
            return R::fail(reason);
        out.push_back(net::Endpoint{parsed.addr, parsed.port.value_or(net::Port(defaultPort))});
    }
    return R::ok(std::move(out));
}

namespace {

// Which connection of each intercept carries one route (-1: none was ready). The indexes of up to
// kInline intercepts live inside the route table's node, so adding a route allocates only the
// node; a longer -s list keeps them on the heap. The intercept count is the owner's to remember.
class RouteLinks {
  public:
    static constexpr std::size_t kInline = 8;

    explicit RouteLinks(std::size_t intercepts) {
        if (intercepts > kInline) heap_ = std::make_unique<std::int8_t[]>(intercepts);
        std::fill_n(data(), intercepts, std::int8_t{-1});
    }
    // Connection index (below 64, see TunnelClient::validate) or -1.
    std::int8_t& operator[](std::size_t intercept) { return data()[intercept]; }

  private:
    std::int8_t* data() { return heap_ ? heap_.get() : inline_.data(); }

    std::array<std::int8_t, kInline> inline_{};
    std::unique_ptr<std::int8_t[]> heap_;
};

}  // namespace

class TunnelClient::Impl {
  public:
    Impl(os::EventBase& base, TunnelClientOptions options, TunnelClientCallbacks callbacks)
        : base_(base),
          options_(std::move(options)),
          callbacks_(std::move(callbacks)),
          graveyard_(base),
          log_(log::component("tunnel")) {
        auto notify = os::Event::timer(base_, [this](short) { deliverLost(); });
        if (notify) notifyTimer_ = std::move(notify).value();
        for (unsigned ii = 0; ii < options_.intercepts.size(); ++ii) {
            links_.emplace_back();
            for (unsigned ci = 0; ci < options_.connectionsPerIntercept; ++ci) {
                auto link = std::make_unique<Link>();
                link->info = ConnectionInfo{options_.intercepts[ii], ii, ci};
                link->backoff = options_.reconnectMin;
                Link* raw = link.get();
                if (auto t = os::Event::timer(base_, [this, raw](short) { connect(*raw); })) {
                    link->retryTimer = std::move(t).value();
                }
                if (auto t = os::Event::timer(base_, [raw](short) {
                        if (raw->conn && raw->state != State::Ready) raw->conn->close("handshake timeout");
                    })) {
                    link->handshakeTimer = std::move(t).value();
                }
                links_.back().push_back(std::move(link));
            }
        }
    }

    ~Impl() {
        // Closing without callbacks: the owner is going away.
        for (auto& perIntercept : links_) {
            for (auto& link : perIntercept) {
                if (link->conn) link->conn.reset();
            }
        }
    }

    void start() {
        for (auto& perIntercept : links_) {
            for (auto& link : perIntercept) connect(*link);
        }
    }

    void addRoute(const net::FlowKey& flow) {
        auto [it, inserted] = routes_.try_emplace(flow, links_.size());
        if (!inserted) return;
        for (unsigned ii = 0; ii < links_.size(); ++ii) {
            int idx = chooseLink(ii, flow);
            it->second[ii] = static_cast<std::int8_t>(idx);
            if (idx >= 0) sendRoute(*links_[ii][static_cast<unsigned>(idx)], flow);
        }
    }

    void removeRoute(const net::FlowKey& flow) {
        auto it = routes_.find(flow);
        if (it == routes_.end()) return;
        // Out of the table first: sending may close a connection, whose clean-up walks routes_.
        RouteLinks assigned = std::move(it->second);
        routes_.erase(it);
        for (unsigned ii = 0; ii < links_.size(); ++ii) {
            if (assigned[ii] < 0) continue;
            Link& link = *links_[ii][static_cast<unsigned>(assigned[ii])];
            if (link.state != State::Ready) continue;
            link.conn->send(RouteDel{flow});
            ++counters_.routeDelsSent;
        }
    }

    bool anyConnected() const { return counters_.connected > 0; }

    bool allInterceptsConnected() const {
        for (const auto& perIntercept : links_) {
            bool any = false;
            for (const auto& link : perIntercept) any = any || link->state == State::Ready;
            if (!any) return false;
        }
        return true;
    }

    const TunnelClientCounters& counters() const {
        snapshot_ = counters_;
        snapshot_.liveRoutes = routes_.size();
        snapshot_.framesIn += closedStats_.framesIn;
        snapshot_.framesOut += closedStats_.framesOut;
        snapshot_.bytesIn += closedStats_.bytesIn;
        snapshot_.bytesOut += closedStats_.bytesOut;
        for (const auto& perIntercept : links_) {
            for (const auto& link : perIntercept) {
                if (!link->conn) continue;
                const auto& s = link->conn->stats();
                snapshot_.framesIn += s.framesIn;
                snapshot_.framesOut += s.framesOut;
                snapshot_.bytesIn += s.bytesIn;
                snapshot_.bytesOut += s.bytesOut;
            }
        }
        return snapshot_;
    }

  private:
    enum class State : std::uint8_t { Idle, Connecting, AwaitChallenge, AwaitAck, Ready };
    struct Link {
        ConnectionInfo info{};
        State state = State::Idle;
        std::unique_ptr<detail::Connection> conn;
        std::optional<os::Event> retryTimer;
        std::optional<os::Event> handshakeTimer;
        os::Duration backoff{};
        bool attempted = false;
        Nonce interceptNonce{};          // from this connection's CHALLENGE
        Nonce ownNonce{};                // ours, in its HELLO: intercept's HMAC in HELLO_ACK must cover it
        std::uint16_t payloadBytes = 0;  // granted in HELLO_ACK
    };

    int chooseLink(unsigned ii, const net::FlowKey& flow) const {
        const auto& perIntercept = links_[ii];
        std::size_t n = perIntercept.size();
        std::size_t home = net::FlowKeyHash{}(flow) % n;
        for (std::size_t k = 0; k < n; ++k) {
            std::size_t idx = (home + k) % n;
            if (perIntercept[idx]->state == State::Ready) return static_cast<int>(idx);
        }
        return -1;
    }

    void sendRoute(Link& link, const net::FlowKey& flow) {
        link.conn->send(RouteAdd{flow});
        ++counters_.routesSent;
    }

    void connect(Link& link) {
        if (link.state != State::Idle) return;
        if (link.attempted) ++counters_.reconnects;
        link.attempted = true;
        auto bev = os::BufferEvent::connect(base_, link.info.intercept);
        if (!bev) {
            log_->debug("intercept {}: {}", link.info.intercept.toString(), bev.error());
            scheduleRetry(link);
            return;
        }
        detail::Connection::Limits limits;
        limits.idleTimeout = options_.idleTimeout;
        limits.heartbeatInterval = options_.heartbeatInterval;
        limits.maxOutput = options_.maxPendingOutput;
        Link* raw = &link;
        detail::Connection::Handlers handlers;
        handlers.onConnected = [raw] { raw->state = State::AwaitChallenge; };
        handlers.onMessage = [this, raw](const Message& m) { onMessage(*raw, m); };
        handlers.onClose = [this, raw](detail::CloseKind kind, const std::string& reason) {
            onClose(*raw, kind, reason);
        };
        link.state = State::Connecting;
        link.conn = std::make_unique<detail::Connection>(
            base_, std::move(bev).value(), link.info.intercept.toString(), limits, std::move(handlers), true,
            detail::typeBit(MessageType::Challenge) | detail::typeBit(MessageType::HelloAck) |
                detail::typeBit(MessageType::Reject) | detail::typeBit(MessageType::Heartbeat));
        if (link.handshakeTimer) link.handshakeTimer->add(options_.handshakeTimeout);
    }

    void scheduleRetry(Link& link) {
        link.state = State::Idle;
        if (link.retryTimer) link.retryTimer->add(link.backoff);
        link.backoff = std::min(link.backoff * 2, options_.reconnectMax);
    }

    // The handshake cannot go on: say why (the owner hears it through onLost) and close.
    void refuse(Link& link, const std::string& why) {
        lost_.emplace_back(link.info, why);
        link.conn->close(why);
    }

    void onChallenge(Link& link, const Challenge& challenge) {
        const std::string who = "intercept " + link.info.intercept.toString();
        if (challenge.maxVersion < kVersion) {
            const std::string why = who + " speaks tunnel protocol " + std::to_string(challenge.maxVersion) +
                                    ", this tcpcopy " + std::to_string(kVersion) +
                                    ": run the same release on both sides";
            // In a frame the older intercept reads, so its log says why too.
            link.conn->send(Reject{RejectReason::BadVersion, "tcpcopy speaks tunnel protocol " +
                                                                 std::to_string(kVersion) +
                                                                 ": run the same release on both sides"});
            return refuse(link, why);
        }
        if (challenge.authRequired && options_.secret.empty()) {
            return refuse(link, who + " requires a shared secret and none is configured (--secret-file)");
        }
        if (!challenge.authRequired && !options_.secret.empty()) {
            // It could not prove it knows the secret: it may be anyone listening on that address.
            return refuse(link, who +
                                    " does not ask for the shared secret, so it cannot prove it knows it: "
                                    "give intercept the same --secret-file");
        }
        link.interceptNonce = challenge.nonce;
        link.ownNonce = randomNonce();
        Hello hello{kVersion, options_.instanceId, link.ownNonce, std::nullopt, options_.payloadBytes};
        if (!options_.secret.empty()) {
            hello.mac = computeHelloMac(options_.secret, link.interceptNonce, link.ownNonce);
            if (!hello.mac) return refuse(link, "cannot compute HMAC-SHA256 (OpenSSL) for " + who);
        }
        link.state = State::AwaitAck;
        link.conn->send(hello);
    }

    void onHelloAck(Link& link, const HelloAck& ack) {
        if (!options_.secret.empty() &&
            !macMatches(computeAckMac(options_.secret, link.interceptNonce, link.ownNonce), ack.mac)) {
            return refuse(link, "intercept " + link.info.intercept.toString() +
                                    " did not prove it knows the shared secret (" +
                                    (ack.mac ? "wrong" : "no") +
                                    " HMAC in HELLO_ACK): is it the intercept meant, "
                                    "with the same --secret-file?");
        }
        if (ack.payloadBytes > options_.payloadBytes) {
            return refuse(link, "intercept " + link.info.intercept.toString() + " granted " +
                                    std::to_string(ack.payloadBytes) + " payload bytes per response, " +
                                    std::to_string(options_.payloadBytes) + " were asked for");
        }
        link.payloadBytes = ack.payloadBytes;
        if (options_.payloadBytes > 0 && link.payloadBytes == 0) {
            ++counters_.payloadDenied;
            log_->warn(
                "intercept {} sends no response payloads (started without --payload, or an older release): "
                "headers only on this connection",
                link.info.intercept.toString());
        }
        // Only a connection granted payloads takes RESPONSE_PAYLOADS: on any other it is a violation.
        link.conn->enterSession(
            detail::typeBit(MessageType::Responses) | detail::typeBit(MessageType::Heartbeat) |
            detail::typeBit(MessageType::Reject) |
            (link.payloadBytes > 0 ? detail::typeBit(MessageType::ResponsePayloads) : detail::TypeSet{0}));
        onReady(link, ack.peerId);
    }

    void onMessage(Link& link, const Message& message) {
        if (const auto* challenge = std::get_if<Challenge>(&message)) {
            if (link.state != State::AwaitChallenge) return link.conn->close("unexpected CHALLENGE");
            onChallenge(link, *challenge);
        } else if (const auto* ack = std::get_if<HelloAck>(&message)) {
            if (link.state != State::AwaitAck) return link.conn->close("unexpected HELLO_ACK");
            onHelloAck(link, *ack);
        } else if (const auto* responses = std::get_if<Responses>(&message)) {
            if (link.state != State::Ready) return link.conn->close("RESPONSES before handshake");
            for (net::Bytes item : responses->items) {
                ++counters_.responses;
                if (callbacks_.onResponse) callbacks_.onResponse(item);
                if (link.state != State::Ready) return;  // the callback may not close us, but be safe
            }
        } else if (const auto* payloads = std::get_if<ResponsePayloads>(&message)) {
            if (link.state != State::Ready) return link.conn->close("RESPONSE_PAYLOADS before handshake");
            onPayloads(link, *payloads);
        } else if (const auto* reject = std::get_if<Reject>(&message)) {
            ++counters_.rejected;
            std::string why = "rejected by intercept " + link.info.intercept.toString() + ": " +
                              std::string(rejectReasonName(reject->reason)) +
                              (reject->text.empty() ? "" : " (" + log::printable(reject->text) + ")");
            log_->warn("{}", why);
            if (link.state != State::Ready) lost_.emplace_back(link.info, why);
            link.conn->close(why);
        } else if (std::holds_alternative<Heartbeat>(message)) {
            // Liveness only; the connection noted the bytes.
        } else {
            link.conn->close("unexpected " +
                             std::string(messageTypeName(static_cast<MessageType>(message.index() + 1))) +
                             " from intercept");
        }
    }

    void onPayloads(Link& link, const ResponsePayloads& payloads) {
        for (const PayloadItem& item : payloads.items) {
            if (item.captured.size() > link.payloadBytes) {
                return link.conn->close("RESPONSE_PAYLOADS item with " +
                                            std::to_string(item.captured.size()) + " payload bytes, " +
                                            std::to_string(link.payloadBytes) + " were granted",
                                        detail::CloseKind::Malformed);
            }
            ++counters_.responses;
            ++counters_.payloadItems;
            counters_.payloadBytes += item.captured.size();
            counters_.payloadMissing += item.payloadLength - item.captured.size();
            if (callbacks_.onResponse) callbacks_.onResponse(item.header);
            if (link.state != State::Ready) return;
            if (callbacks_.onResponsePayload) {
                callbacks_.onResponsePayload(item.header, item.payloadLength, item.captured);
            }
            if (link.state != State::Ready) return;
        }
    }

    void onReady(Link& link, std::uint32_t peerId) {
        link.state = State::Ready;
        link.backoff = options_.reconnectMin;
        if (link.handshakeTimer) link.handshakeTimer->del();
        ++counters_.connected;
        ++counters_.connects;
        log_->info("connected to intercept {} (connection {}, peer id {})", link.info.intercept.toString(),
                   link.info.connectionIndex, peerId);
        // Routes with no connection on this intercept (all were down) come here.
        for (auto& [flow, assigned] : routes_) {
            if (link.state != State::Ready) break;  // reset while re-sending
            std::int8_t& slot = assigned[link.info.interceptIndex];
            if (slot >= 0) continue;
            slot = static_cast<std::int8_t>(link.info.connectionIndex);
            sendRoute(link, flow);
        }
        if (link.state == State::Ready && callbacks_.onConnected) callbacks_.onConnected(link.info);
    }

    void onClose(Link& link, detail::CloseKind kind, const std::string& reason) {
        bool wasReady = link.state == State::Ready;
        const auto& s = link.conn->stats();
        closedStats_.framesIn += s.framesIn;
        closedStats_.framesOut += s.framesOut;
        closedStats_.bytesIn += s.bytesIn;
        closedStats_.bytesOut += s.bytesOut;
        graveyard_.bury(std::shared_ptr<detail::Connection>(std::move(link.conn)));
        if (link.handshakeTimer) link.handshakeTimer->del();
        link.state = State::Idle;
        if (wasReady) {
            --counters_.connected;
            log_->warn("lost intercept {} (connection {}): {}", link.info.intercept.toString(),
                       link.info.connectionIndex, reason);
            unsigned ii = link.info.interceptIndex;
            int mine = static_cast<int>(link.info.connectionIndex);
            for (auto& [flow, assigned] : routes_) {
                if (assigned[ii] != mine) continue;
                assigned[ii] = static_cast<std::int8_t>(chooseLink(ii, flow));
                if (assigned[ii] >= 0) sendRoute(*links_[ii][static_cast<unsigned>(assigned[ii])], flow);
            }
            lost_.emplace_back(link.info, reason);
        } else if (kind == detail::CloseKind::Version) {
            // Another release answered: no retry will fix that, say it like a rejection.
            lost_.emplace_back(link.info, "intercept " + link.info.intercept.toString() + ": " + reason);
        } else {
            log_->debug("intercept {} (connection {}): {}", link.info.intercept.toString(),
                        link.info.connectionIndex, reason);
        }
        if (!lost_.empty() && notifyTimer_) notifyTimer_->add(os::Duration(0));
        scheduleRetry(link);
    }

    void deliverLost() {
        auto pending = std::move(lost_);
        lost_.clear();
        for (const auto& [info, reason] : pending) {
            if (callbacks_.onLost) callbacks_.onLost(info, reason);
        }
    }

    os::EventBase& base_;
    TunnelClientOptions options_;
    TunnelClientCallbacks callbacks_;
    detail::Graveyard graveyard_;
    std::shared_ptr<spdlog::logger> log_;
    std::optional<os::Event> notifyTimer_;
    std::vector<std::vector<std::unique_ptr<Link>>> links_;
    std::unordered_map<net::FlowKey, RouteLinks, net::FlowKeyHash> routes_;
    std::vector<std::pair<ConnectionInfo, std::string>> lost_;
    detail::ConnectionStats closedStats_;
    TunnelClientCounters counters_;
    mutable TunnelClientCounters snapshot_;
};

std::string TunnelClient::validate(const TunnelClientOptions& options) {
    if (options.intercepts.empty()) return "no intercept address given (-s ip[:port],...)";
    if (options.connectionsPerIntercept < 1 || options.connectionsPerIntercept > 64) {
        return "connections per intercept (-C) must be 1-64, got " +
               std::to_string(options.connectionsPerIntercept);
    }
    if (options.reconnectMin.count() <= 0 || options.reconnectMax < options.reconnectMin) {
        return "reconnect backoff must be positive with max >= min";
    }
    return {};
}

TunnelClient::TunnelClient(os::EventBase& base, TunnelClientOptions options,
                           TunnelClientCallbacks callbacks) {
    if (std::string error = validate(options); !error.empty()) {
        // Callers must validate first: this is a programming error, not bad input.
        log::component("tunnel")->critical("TunnelClient: {}", error);
        std::abort();
    }
    impl_ = std::make_unique<Impl>(base, std::move(options), std::move(callbacks));
}

TunnelClient::~TunnelClient() = default;
void TunnelClient::start() { impl_->start(); }
void TunnelClient::addRoute(const net::FlowKey& flow) { impl_->addRoute(flow); }
void TunnelClient::removeRoute(const net::FlowKey& flow) { impl_->removeRoute(flow); }
bool TunnelClient::anyConnected() const { return impl_->anyConnected(); }
bool TunnelClient::allInterceptsConnected() const { return impl_->allInterceptsConnected(); }
const TunnelClientCounters& TunnelClient::counters() const { return impl_->counters(); }

}  // namespace tcpcopy::tunnel
