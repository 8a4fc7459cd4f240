#include "tcpcopy/diff/collector.h"

#include <algorithm>

#include "generic_framer.h"

namespace tcpcopy::diff {

struct ResponseCollector::Entry {
    std::uint64_t begin = 0;  // of the request, in the client stream
    bool head = false;
    RequestTraits traits;
    std::optional<Message> request;
    std::optional<Message> online;
    std::optional<Message> target;
    std::optional<Time> sentFirst;  // the replay sent the request's first byte
    std::optional<Time> sentLast;   // and its last
};

class ResponseCollector::StreamHandler final : public ChunkSink {
  public:
    StreamHandler(ResponseCollector& c, Stream s) : c_(c), s_(s) {}
    void onChunk(const Chunk& chunk) override { c_.chunk(s_, chunk); }
    void onEnd(Time time) override { c_.streamEnd(s_, time); }

  private:
    ResponseCollector& c_;
    Stream s_;
};

class ResponseCollector::Sinks {
  public:
    explicit Sinks(ResponseCollector& c) : requests(c), online(c, true), target(c, false) {}

    struct Requests final : MessageSink {
        explicit Requests(ResponseCollector& c) : c_(c) {}
        void onMessage(Message&& m) override { c_.requestMessage(std::move(m)); }
        void onRequestHead(std::uint64_t index, std::uint64_t begin, const RequestTraits& traits) override {
            c_.requestHead(index, begin, traits);
        }
        ResponseCollector& c_;
    };
    struct Answers final : MessageSink {
        Answers(ResponseCollector& c, bool online) : c_(c), online_(online) {}
        void onMessage(Message&& m) override { c_.answer(online_, std::move(m)); }
        std::optional<RequestTraits> requestTraits(std::uint64_t index) const override {
            if (index < c_.front_ || index - c_.front_ >= c_.pending_.size()) return std::nullopt;
            const Entry& e = c_.pending_[static_cast<std::size_t>(index - c_.front_)];
            return e.head ? std::optional(e.traits) : std::nullopt;
        }
        ResponseCollector& c_;
        bool online_;
    };

    Requests requests;
    Answers online;
    Answers target;
};

ResponseCollector::ResponseCollector(const CollectorConfig& config, ExchangeSink& sink)
    : config_(config),
      sink_(sink),
      protocol_(config.protocol),
      sinks_(std::make_unique<Sinks>(*this)),
      handlers_{std::make_unique<StreamHandler>(*this, Stream::Client),
                std::make_unique<StreamHandler>(*this, Stream::Server),
                std::make_unique<StreamHandler>(*this, Stream::Target)},
      client_(config.assembler),
      server_(config.assembler),
      target_(config.assembler) {
    if (protocol_ != Protocol::Auto) decide(protocol_);
}

ResponseCollector::~ResponseCollector() = default;

void ResponseCollector::onCapturedClient(const net::TcpSegment& seg, Time time) {
    if (finished_ || midstream_) return;
    if (seg.has(net::tcpflag::kSyn)) capturedIsn_ = seg.seq;
    if (!client_.started() && !seg.has(net::tcpflag::kSyn) && seg.payloadLength != 0) midstream_ = true;
    if (!midstream_) client_.add(seg, time, *handlers_[0]);
}

void ResponseCollector::onCapturedServer(const net::TcpSegment& seg, Time time) {
    if (finished_ || midstream_) return;
    if (!server_.started() && !seg.has(net::tcpflag::kSyn) && seg.payloadLength != 0) midstream_ = true;
    if (!midstream_) server_.add(seg, time, *handlers_[1]);
}

void ResponseCollector::onTarget(const net::TcpSegment& seg, Time time) {
    if (finished_ || midstream_) return;
    target_.add(seg, time, *handlers_[2]);
}

void ResponseCollector::onReplayed(const net::TcpSegment& seg, Time time) {
    if (finished_ || midstream_) return;
    if (seg.has(net::tcpflag::kSyn)) {
        replayIsn_ = seg.seq;
        return;
    }
    if (seg.payloadLength == 0) return;
    const std::optional<net::SeqNum> isn = replayIsn_ ? replayIsn_ : capturedIsn_;
    if (!isn) {
        ++stats_.replayBeforeStart;
        return;
    }
    const std::int64_t distance = seg.seq.distanceFrom(*isn + 1 + static_cast<std::uint32_t>(sentHigh_));
    if (distance < 0 && static_cast<std::uint64_t>(-distance) > sentHigh_) return;
    const std::uint64_t end = sentHigh_ + distance + seg.payloadLength;
    if (end <= sentHigh_) return;  // a retransmission
    if (protocol_ == Protocol::Auto) {
        held_.push_back(Held{Stream::Replay, end, {}, 0, time, false});
        sentHigh_ = end;
        return;
    }
    replayed(end, time);
}

void ResponseCollector::chunk(Stream stream, const Chunk& c) {
    if (protocol_ == Protocol::Auto) {
        held_.push_back(Held{stream, c.offset, std::string(detail::asText(c.data.data(), c.data.size())),
                             c.length, c.time, false});
        heldBytes_ += c.data.size();
        bool final = heldBytes_ > config_.maxDetectBytes;
        if (stream == Stream::Client) {
            const std::size_t room =
                config_.maxDetectBytes - std::min(config_.maxDetectBytes, detectBytes_.size());
            detectBytes_.append(detail::asText(c.data.data(), std::min(room, c.data.size())));
            final = final || c.length > c.data.size() || detectBytes_.size() >= config_.maxDetectBytes;
        } else if (stream == Stream::Server && detectBytes_.empty()) {
            decide(Protocol::Generic);  // the server speaks first
            return;
        }
        if (const auto p = detectProtocol(detectBytes_, final, config_.framing.maxLine)) decide(*p);
        return;
    }
    switch (stream) {
        case Stream::Client:
            if (lastOnline_ == Stream::Server) online_->turn(c.time);
            lastOnline_ = Stream::Client;
            requests_->feed(c);
            break;
        case Stream::Server:
            if (lastOnline_ != Stream::Server) requests_->turn(c.time);
            lastOnline_ = Stream::Server;
            online_->feed(c);
            break;
        case Stream::Target:
            answers_->feed(c);
            break;
        case Stream::Replay:
            break;
    }
    emitReady(false);
}

void ResponseCollector::streamEnd(Stream stream, Time time) {
    if (protocol_ == Protocol::Auto) {
        held_.push_back(Held{stream, 0, {}, 0, time, true});
        return;
    }
    switch (stream) {
        case Stream::Client:
            clientEnded_ = true;
            requests_->finish(time);
            break;
        case Stream::Server:
            serverEnded_ = true;
            online_->finish(time);
            break;
        case Stream::Target:
            targetEnded_ = true;
            answers_->finish(time);
            break;
        case Stream::Replay:
            break;
    }
    emitReady(false);
}

void ResponseCollector::decide(Protocol protocol) {
    protocol_ = protocol == Protocol::Auto ? Protocol::Generic : protocol;
    requests_ = makeFramer(protocol_, Role::Requests, config_.framing, sinks_->requests);
    online_ = makeFramer(protocol_, Role::Responses, config_.framing, sinks_->online);
    answers_ = makeFramer(protocol_, Role::Responses, config_.framing, sinks_->target);
    targetGeneric_ = protocol_ == Protocol::Generic;
    detectBytes_.clear();
    detectBytes_.shrink_to_fit();
    replayPending();
}

void ResponseCollector::replayPending() {
    std::vector<Held> held;
    held.swap(held_);
    heldBytes_ = 0;
    sentHigh_ = 0;
    for (const Held& h : held) {
        if (h.end) {
            streamEnd(h.stream, h.time);
        } else if (h.stream == Stream::Replay) {
            replayed(h.offset, h.time);
        } else {
            chunk(h.stream, Chunk{h.offset, detail::asBytes(h.data), h.length, h.time});
        }
    }
}

void ResponseCollector::replayed(std::uint64_t end, Time time) {
    sendLog_.emplace_back(end, time);
    if (sendLog_.size() > config_.maxSendLog) {
        sendLog_.pop_front();
        ++stats_.sendLogDropped;
    }
    sentHigh_ = std::max(sentHigh_, end);
    sentAny_ = true;
    if (targetGeneric_) cutTarget(time);
    resolveSends();
    emitReady(false);
}

// Generic: what the target sent before the replay began request j answers request j - 1.
void ResponseCollector::cutTarget(Time time) {
    auto* generic = static_cast<detail::GenericFramer*>(answers_.get());
    for (;;) {
        const std::uint64_t j = generic->emitted() + 1;
        if (j < front_) {
            generic->cut(time);
            continue;
        }
        if (j - front_ >= pending_.size()) return;
        const Entry& e = pending_[static_cast<std::size_t>(j - front_)];
        if (!e.head || e.begin >= sentHigh_ || !generic->lost().empty() || targetEnded_) return;
        generic->cut(time);
    }
}

ResponseCollector::Entry& ResponseCollector::entry(std::uint64_t index) {
    while (index - front_ >= pending_.size()) pending_.emplace_back();
    return pending_[static_cast<std::size_t>(index - front_)];
}

void ResponseCollector::requestHead(std::uint64_t index, std::uint64_t begin, const RequestTraits& traits) {
    if (index < front_) return;
    Entry& e = entry(index);
    e.head = true;
    e.begin = begin;
    e.traits = traits;
    heads_ = std::max(heads_, index + 1);
    if (traits.endsPairing && !pairingEndsAfter_) pairingEndsAfter_ = index;
}

void ResponseCollector::requestMessage(Message&& m) {
    ++requestsFramed_;
    lastRequestEnd_ = m.end;
    if (m.index < front_) return;
    Entry& e = entry(m.index);
    if (!e.head) {
        e.head = true;
        e.begin = m.begin;
        heads_ = std::max(heads_, m.index + 1);
    }
    e.request = std::move(m);
    resolveSends();
}

void ResponseCollector::answer(bool online, Message&& m) {
    ++(online ? onlineAnswers_ : targetAnswers_);
    if (m.index < front_ || (pairingEndsAfter_ && m.index > *pairingEndsAfter_)) return;
    Entry& e = entry(m.index);
    (online ? e.online : e.target) = std::move(m);
}

// Matches the replay's send times to the requests: both are in stream order, so one walk.
void ResponseCollector::resolveSends() {
    auto first = sendLog_.begin();
    auto last = sendLog_.begin();
    std::uint64_t keepFrom = lastRequestEnd_;
    for (Entry& e : pending_) {
        if (!e.head) break;
        const bool empty = e.request && e.request->size() == 0;
        if (!e.sentFirst && !empty) {
            while (first != sendLog_.end() && first->first <= e.begin) ++first;
            if (first != sendLog_.end()) e.sentFirst = first->second;
        }
        if (e.request && !e.sentLast && !empty) {
            while (last != sendLog_.end() && last->first < e.request->end) ++last;
            if (last != sendLog_.end()) e.sentLast = last->second;
        }
        if ((!e.sentFirst || !e.sentLast) && !empty) keepFrom = std::min(keepFrom, e.begin);
    }
    while (!sendLog_.empty() && sendLog_.front().first <= keepFrom) sendLog_.pop_front();
}

void ResponseCollector::emitReady(bool all) {
    const bool requestsDone = clientEnded_ || !requests_->lost().empty();
    const bool onlineDone = serverEnded_ || !online_->lost().empty();
    const bool targetDone = targetEnded_ || !answers_->lost().empty();
    while (!pending_.empty()) {
        const Entry& e = pending_.front();
        const bool afterPairing = pairingEndsAfter_ && front_ > *pairingEndsAfter_;
        const bool ready =
            all || (afterPairing && (e.request || requestsDone)) ||
            ((e.request || requestsDone) && (e.online || onlineDone) && (e.target || targetDone));
        if (ready) {
            emitFront(Skip::None);
        } else if (pending_.size() > config_.maxPending) {
            emitFront(Skip::PendingLimit);
        } else {
            break;
        }
    }
}

void ResponseCollector::emitFront(Skip forced) {
    Entry e = std::move(pending_.front());
    pending_.pop_front();
    const std::uint64_t index = front_++;
    if (!e.head) {
        if (e.online || e.target) ++stats_.unsolicited;
        return;
    }
    Exchange ex;
    ex.protocol = protocol_;
    ex.session = config_.session;
    ex.index = index;
    if (pairingEndsAfter_ && index > *pairingEndsAfter_) {
        ex.skip = Skip::PairingEnded;
    } else if (!e.request || e.request->lost) {
        ex.skip = Skip::RequestFramingLost;
    } else if (e.online && e.online->lost) {
        ex.skip = Skip::OnlineFramingLost;
    } else if (e.target && e.target->lost) {
        ex.skip = Skip::TargetFramingLost;
    } else if (!e.online) {
        ex.skip = forced != Skip::None      ? forced
                  : online_->lost().empty() ? Skip::NoOnlineResponse
                                            : Skip::OnlineFramingLost;
    } else if (!e.target) {
        if (forced != Skip::None) {
            ex.skip = forced;
        } else if (!answers_->lost().empty()) {
            ex.skip = Skip::TargetFramingLost;
        } else if (sentHigh_ <= e.begin && e.request->size() != 0) {
            ex.skip = Skip::NotReplayed;
        }
    }
    if (e.request) {
        ex.request = std::move(*e.request);
    } else {
        ex.request.index = index;
        ex.request.begin = ex.request.end = e.begin;
    }
    if (e.online && ex.request.size() != 0)
        ex.onlineLatency = std::max(Time{0}, e.online->first - ex.request.last);
    if (e.target && e.sentLast) ex.targetLatency = std::max(Time{0}, e.target->first - *e.sentLast);
    ex.online = std::move(e.online);
    ex.target = std::move(e.target);
    ++stats_.exchanges;
    sink_.onExchange(std::move(ex));
}

void ResponseCollector::finish(Time time) {
    if (finished_) return;
    if (protocol_ == Protocol::Auto) decide(detectProtocol(detectBytes_, true).value_or(Protocol::Generic));
    ExchangeSink::SessionEnd end;
    end.midstream = midstream_;
    if (!midstream_) {
        client_.flush(time, *handlers_[0]);
        server_.flush(time, *handlers_[1]);
        target_.flush(time, *handlers_[2]);
        emitReady(true);
        end.requestFramingLost = requests_->lost();
        end.onlineFramingLost = online_->lost();
        end.targetFramingLost = answers_->lost();
    }
    pending_.clear();
    finished_ = true;
    end.protocol = protocol_;
    end.unsolicited = stats_.unsolicited;
    sink_.onSessionEnd(end);
}

}  // namespace tcpcopy::diff
