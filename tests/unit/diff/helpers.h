#pragma once
// Helpers of the diff module's tests: feeding framers, recording what they emit, and building
// the segments of a conversation for the collector.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/diff/exchange.h"
#include "tcpcopy/diff/message.h"
#include "tcpcopy/net/tcp_segment.h"

namespace tcpcopy::diff::testing {

using namespace std::chrono_literals;

inline net::Bytes asBytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

class RecordingSink : public MessageSink {
  public:
    void onMessage(Message&& m) override { messages.push_back(std::move(m)); }
    void onRequestHead(std::uint64_t index, std::uint64_t begin, const RequestTraits& t) override {
        heads.push_back({index, begin, t});
    }
    std::optional<RequestTraits> requestTraits(std::uint64_t index) const override {
        const auto it = traits.find(index);
        return it == traits.end() ? std::nullopt : std::optional(it->second);
    }

    struct Head {
        std::uint64_t index;
        std::uint64_t begin;
        RequestTraits traits;
    };
    std::vector<Message> messages;
    std::vector<Head> heads;
    std::map<std::uint64_t, RequestTraits> traits;  // what response framers are told
};

// Feeds `text` to `framer` from `offset` in pieces of at most `piece` bytes (all known).
inline std::uint64_t feedText(Framer& framer, std::string_view text,
                              std::size_t piece = std::string_view::npos, std::uint64_t offset = 0,
                              Time time = 0ns) {
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t n = std::min(piece, text.size() - pos);
        framer.feed(Chunk{offset, asBytes(text.substr(pos, n)), n, time});
        offset += n;
        pos += n;
    }
    return offset;
}

// Feeds `text` as TCP segments of `segment` bytes of which only the first `known` reach the
// framer (intercept --payload `known`).
inline std::uint64_t feedTruncated(Framer& framer, std::string_view text, std::size_t segment,
                                   std::size_t known, std::uint64_t offset = 0, Time time = 0ns) {
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t n = std::min(segment, text.size() - pos);
        framer.feed(Chunk{offset, asBytes(text.substr(pos, std::min(n, known))), n, time});
        offset += n;
        pos += n;
    }
    return offset;
}

// One TCP connection's segments, both ways, for the collector.
class Connection {
  public:
    Connection(std::uint32_t clientIsn = 1000, std::uint32_t serverIsn = 5000)
        : clientIsn_(clientIsn), serverIsn_(serverIsn) {}

    net::TcpSegment syn() const { return make(true, clientIsn_, 0, net::tcpflag::kSyn, {}); }
    net::TcpSegment synAck() const {
        return make(false, serverIsn_, 0, net::tcpflag::kSyn | net::tcpflag::kAck, {});
    }
    // The next client (or server) data segment: `text` is the full payload, `known` how much of it
    // the segment carries (the rest is counted in payloadLength only).
    net::TcpSegment client(std::string_view text, std::size_t known = std::string_view::npos) {
        auto s =
            make(true, clientIsn_ + 1 + clientSent_, 0, net::tcpflag::kAck | net::tcpflag::kPsh, text, known);
        clientSent_ += static_cast<std::uint32_t>(text.size());
        return s;
    }
    net::TcpSegment server(std::string_view text, std::size_t known = std::string_view::npos) {
        auto s = make(false, serverIsn_ + 1 + serverSent_, 0, net::tcpflag::kAck | net::tcpflag::kPsh, text,
                      known);
        serverSent_ += static_cast<std::uint32_t>(text.size());
        return s;
    }
    net::TcpSegment clientFin() const {
        return make(true, clientIsn_ + 1 + clientSent_, 0, net::tcpflag::kFin | net::tcpflag::kAck, {});
    }
    net::TcpSegment serverFin() const {
        return make(false, serverIsn_ + 1 + serverSent_, 0, net::tcpflag::kFin | net::tcpflag::kAck, {});
    }
    // A client segment at a given stream offset (for retransmissions and reordering).
    net::TcpSegment clientAt(std::uint32_t offset, std::string_view text) const {
        return make(true, clientIsn_ + 1 + offset, 0, net::tcpflag::kAck, text);
    }

  private:
    net::TcpSegment make(bool fromClient, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                         std::string_view text, std::size_t known = std::string_view::npos) const {
        net::TcpSegment s;
        s.src =
            fromClient ? net::Ipv4Addr::fromOctets(192, 0, 2, 10) : net::Ipv4Addr::fromOctets(198, 18, 1, 2);
        s.dst =
            fromClient ? net::Ipv4Addr::fromOctets(198, 18, 1, 2) : net::Ipv4Addr::fromOctets(192, 0, 2, 10);
        s.sport = net::Port(fromClient ? 40000 : 80);
        s.dport = net::Port(fromClient ? 80 : 40000);
        s.seq = net::SeqNum(seq);
        s.ack = net::SeqNum(ack);
        s.flags = flags;
        s.payloadLength = static_cast<std::uint32_t>(text.size());
        s.payload = asBytes(text.substr(0, std::min(known, text.size())));
        return s;
    }

    std::uint32_t clientIsn_;
    std::uint32_t serverIsn_;
    std::uint32_t clientSent_ = 0;
    std::uint32_t serverSent_ = 0;
};

class RecordingExchanges : public ExchangeSink {
  public:
    void onExchange(Exchange&& e) override { exchanges.push_back(std::move(e)); }
    void onSessionEnd(const SessionEnd& e) override {
        ends.push_back(e);
        lost = {std::string(e.requestFramingLost), std::string(e.onlineFramingLost),
                std::string(e.targetFramingLost)};
    }
    std::vector<Exchange> exchanges;
    std::vector<SessionEnd> ends;
    std::array<std::string, 3> lost;  // requests, online, target
};

}  // namespace tcpcopy::diff::testing
