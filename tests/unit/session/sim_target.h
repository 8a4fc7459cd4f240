#pragma once
// A simulated target TCP for engine tests: it accepts the engine's segments as a server would,
// checks them against TCP's rules, answers with header-only segments (as intercept delivers
// them), and lets tests drop, delay or shape what it does. Time is a manual clock.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::session::testing {

using namespace std::chrono_literals;
using net::FlowKey;
using net::SeqNum;
using net::TcpSegment;
namespace tcpflag = net::tcpflag;

// A segment as the engine emitted it, with its payload copied out.
// The address family the engine tests run in. Tests are written with IPv4 literals; the IPv6
// run maps each a.b.c.d to 2001:db8::a.b.c.d (clients and servers alike) and 127.0.0.1 to ::1,
// so every engine test runs in both families on the same conversations.
enum class Family { V4, V6 };
inline Family& testFamily() {
    static Family family = Family::V4;
    return family;
}
// An IPv6 literal is taken as it is, in either run.
inline net::IpAddr testAddr(const std::string& v4Literal) {
    const auto parsed = net::Ipv4Addr::parse(v4Literal);
    if (!parsed) return net::IpAddr::parse(v4Literal).value();
    const net::Ipv4Addr v4 = *parsed;
    if (testFamily() == Family::V4) return v4;
    if (v4.isLoopback()) return *net::IpAddr::parse("::1");
    net::IpAddr::Octets octets{0x20, 0x01, 0x0d, 0xb8};
    for (int i = 0; i < 4; ++i) octets[12 + i] = static_cast<std::uint8_t>(v4.value() >> (24 - 8 * i));
    return net::IpAddr::fromOctets(octets);
}
inline std::string testAddrText(const std::string& v4Literal) { return testAddr(v4Literal).toString(); }
inline std::string testEndpointText(const std::string& v4Literal, std::uint16_t port) {
    return net::Endpoint{testAddr(v4Literal), net::Port(port)}.toString();
}

struct SentSegment {
    TcpSegment seg;
    std::string payload;
    Time at;
};

struct TargetConnection {
    FlowKey flow;  // client = replay client, server = target
    SeqNum clientIsn;
    SeqNum rcvNxt;             // next client byte expected
    SeqNum isn;                // ours
    SeqNum sndNxt;             // next byte we send
    SeqNum sndUna;             // oldest we sent that the client has not acknowledged
    std::string received;      // in-order client bytes
    std::size_t answered = 0;  // bytes of `received` already answered
    std::size_t requests = 0;
    bool established = false;
    bool clientFin = false;
    bool finSent = false;
    bool targetClosedFirst = false;  // our FIN went out before the client's came
    bool reset = false;
    bool tsOk = false;
    std::uint32_t lastTsval = 0;
    std::uint32_t maxAckSeen = 0;

    // Linux keeps TIME_WAIT on the side that closed first; here, the target.
    bool timeWait() const { return clientFin && finSent && targetClosedFirst && !reset; }
};

class SimTarget : public Output {
  public:
    // Returns how many response bytes to send for the client bytes `pending` (not yet answered),
    // and how many of them it consumes; {0, 0} waits for more.
    using Responder = std::function<std::pair<std::size_t, std::size_t>(const std::string& pending)>;

    SimTarget() {
        // Default: HTTP-ish. A request ends at a blank line; each gets a 300-byte response.
        responder = [](const std::string& pending) -> std::pair<std::size_t, std::size_t> {
            auto end = pending.find("\r\n\r\n");
            if (end == std::string::npos) return {0, 0};
            return {300, end + 4};
        };
    }

    // Output
    void sendToTarget(const TcpSegment& seg) override {
        SentSegment s{seg, std::string(reinterpret_cast<const char*>(seg.payload.data()), seg.payload.size()),
                      now};
        s.seg.payload = {};
        // Intercept must know the route before the target can answer.
        if (!routes.contains(seg.clientToServerKey()))
            violation("segment without route " + seg.clientToServerKey().toString());
        sent.push_back(s);
        inbox_.push_back(sent.size() - 1);
    }
    void addRoute(const FlowKey& flow) override {
        routes.insert(flow);
        ++routeAdds;
    }
    void removeRoute(const FlowKey& flow) override {
        routes.erase(flow);
        ++routeDels;
    }
    void sessionStarted(const FlowKey& captured, const FlowKey& replay, unsigned copy) override {
        if (!routes.contains(replay)) violation("session started before its route " + replay.toString());
        if (!observed.emplace(replay, std::make_pair(captured, copy)).second)
            violation("session started twice on " + replay.toString());
    }
    void sessionEnded(const FlowKey& captured, const FlowKey& replay) override {
        auto it = observed.find(replay);
        if (it == observed.end() || it->second.first != captured)
            violation("session ended without its start " + replay.toString());
        else
            observed.erase(it);
        ++sessionsEnded;
    }

    // Processes everything the engine sent, delivering responses back, until quiet.
    void run(Engine& engine) {
        for (int guard = 0; guard < 100000 && (!inbox_.empty() || !outbox_.empty()); ++guard) {
            while (!inbox_.empty()) {
                std::size_t index = inbox_.front();
                inbox_.pop_front();
                receive(sent[index]);
            }
            std::deque<TcpSegment> out;
            out.swap(outbox_);
            for (const TcpSegment& seg : out) {
                if (!payloadApart || seg.payload.empty()) {
                    engine.onResponse(seg, now);
                    continue;
                }
                TcpSegment header = seg;  // as the tunnel delivers it: header, then its payload
                header.payload = {};
                engine.onResponse(header, now);
                engine.onTargetPayload(seg, now);
            }
        }
    }

    // Advances the clock in `step`s up to `duration`, ticking the engine and running the target.
    void advance(Engine& engine, Time duration, Time step = 5ms) {
        const Time end = now + duration;
        while (now < end) {
            now += step;
            releaseDelayed();
            engine.onTick(now);
            run(engine);
        }
    }

    // Runs until the engine has finished (input ended, all sessions closed) or `limit` passes.
    bool finish(Engine& engine, Time limit = 60s) {
        const Time end = now + limit;
        run(engine);
        while (!engine.finished() && now < end) advance(engine, 5ms);
        return engine.finished();
    }

    std::vector<const TargetConnection*> connections() const {
        std::vector<const TargetConnection*> out;
        for (const auto& [key, c] : all_) out.push_back(&c);
        return out;
    }
    std::string receivedBy(std::size_t index) const { return all_.at(index).received; }
    std::size_t connectionCount() const { return all_.size(); }
    std::vector<std::string> violations;

    Responder responder;
    // Content mode, for protocol hooks: answers carry their bytes, as intercept --payload
    // forwards them. Set, textResponder is used instead of responder; it returns the answer and
    // how many pending bytes it used ({"", 0} waits for more).
    using TextResponder =
        std::function<std::pair<std::string, std::size_t>(TargetConnection& c, const std::string& pending)>;
    TextResponder textResponder;
    std::function<std::string(const TargetConnection&)> greetingText;  // server-first bytes
    bool payloadApart = false;  // deliver each payload by onTargetPayload after a header-only onResponse
    Time now{std::chrono::seconds(1000)};
    std::uint16_t window = 65535;
    std::uint8_t wscale = 7;
    std::uint16_t mss = 1460;
    bool timestamps = true;
    bool synAck = true;                           // false: a silent target
    std::size_t dropDataSegments = 0;             // drop this many client data segments (first ones)
    std::set<std::uint32_t> dropResponseIndexes;  // response segment numbers intercept "loses"
    Time responseDelay{0};
    std::size_t responseSegmentSize = 1448;
    bool closeAfterResponse = false;     // HTTP/1.0 style: FIN after each response
    std::size_t resetAfterRequests = 0;  // non-zero: RST once this many requests were answered
    std::size_t greeting = 0;            // server-first: bytes sent right after the handshake
    std::set<FlowKey> routes;
    std::size_t routeAdds = 0, routeDels = 0;
    // Sessions the observer saw start and not end yet: replay tuple -> (captured flow, copy).
    std::map<FlowKey, std::pair<FlowKey, unsigned>> observed;
    std::size_t sessionsEnded = 0;
    std::vector<SentSegment> sent;
    std::size_t responsesSent = 0;
    std::size_t timeWaitRejects = 0;  // SYNs refused on a TIME_WAIT tuple

  private:
    static bool acceptedInTimeWait(const TargetConnection& old, const TcpSegment& syn) {
        if (net::seqGt(syn.seq, old.rcvNxt)) return true;
        return old.tsOk && syn.options.timestamps &&
               static_cast<std::int32_t>(syn.options.timestamps->value - old.lastTsval) > 0;
    }

    TargetConnection& conn(const FlowKey& flow) {
        auto it = index_.find(flow);
        if (it == index_.end() || all_[it->second].reset ||
            (all_[it->second].clientFin && all_[it->second].finSent)) {
            const std::size_t id = all_.size();
            all_[id].flow = flow;
            index_[flow] = id;
            return all_[id];
        }
        return all_[it->second];
    }

    void violation(const std::string& what) { violations.push_back(what); }

    void receive(const SentSegment& s) {
        const TcpSegment& seg = s.seg;
        const FlowKey flow = seg.clientToServerKey();
        if (seg.has(tcpflag::kSyn)) {
            if (!synAck) return;
            auto it = index_.find(flow);
            if (it != index_.end() && !all_[it->second].reset && all_[it->second].established &&
                !(all_[it->second].clientFin && all_[it->second].finSent)) {
                violation("SYN on a live connection " + flow.toString());
            }
            if (it != index_.end() && all_[it->second].timeWait() &&
                !acceptedInTimeWait(all_[it->second], seg)) {
                // RFC 6191 as Linux applies it (tcp_timewait_state_process): a SYN on a TIME_WAIT
                // tuple opens a new connection only with a higher ISN or a newer timestamp; else
                // the target answers with the old connection's ACK.
                ++timeWaitRejects;
                queue(reply(all_[it->second], tcpflag::kAck));
                return;
            }
            TargetConnection& c = conn(flow);
            if (c.established) return;
            c.clientIsn = seg.seq;
            c.rcvNxt = seg.seq + 1;
            c.isn = SeqNum(0x10000000u + static_cast<std::uint32_t>(all_.size()) * 7919u);
            c.sndNxt = c.isn + 1;
            c.sndUna = c.isn + 1;
            c.tsOk = timestamps && seg.options.timestamps.has_value();
            TcpSegment r = reply(c, tcpflag::kSyn | tcpflag::kAck);
            r.seq = c.isn;
            r.options.mss = mss;
            if (seg.options.windowScale) r.options.windowScale = wscale;
            if (c.tsOk) r.options.timestamps = net::TcpTimestamps{tsval(), seg.options.timestamps->value};
            r.window = window;
            queue(r);
            return;
        }
        auto it = index_.find(flow);
        if (it == index_.end()) {
            if (!seg.has(tcpflag::kRst)) violation("segment for no connection " + flow.toString());
            return;
        }
        TargetConnection& c = all_[it->second];
        if (c.reset) return;
        if (seg.has(tcpflag::kRst)) {
            c.reset = true;
            return;
        }
        if (!seg.has(tcpflag::kAck)) violation("segment without ACK");
        if (net::seqGt(seg.ack, c.sndNxt)) violation("ack beyond what the target sent");
        if (c.tsOk) {
            if (!seg.options.timestamps) {
                violation("timestamps agreed but missing");
            } else {
                if (seg.options.timestamps->value < c.lastTsval) violation("TSval went backwards");
                c.lastTsval = seg.options.timestamps->value;
            }
        }
        if (net::seqGt(seg.ack, c.sndUna)) c.sndUna = seg.ack;
        c.established = true;
        if (seg.payloadLength > 0 && dropDataSegments > 0) {
            --dropDataSegments;
            return;
        }
        if (seg.payloadLength > 0) {
            if (seg.payloadLength > mss) violation("segment larger than the MSS");
            const std::int32_t d = seg.seq.distanceFrom(c.rcvNxt);
            if (d > 0) {
                queue(reply(c, tcpflag::kAck));  // out of order: duplicate ack
                return;
            }
            const std::int64_t fresh = static_cast<std::int64_t>(d) + seg.payloadLength;
            if (fresh > 0) {
                c.received += s.payload.substr(static_cast<std::size_t>(-d));
                c.rcvNxt += static_cast<std::uint32_t>(fresh);
            }
        }
        if (seg.has(tcpflag::kFin) && seg.seq + seg.payloadLength == c.rcvNxt && !c.clientFin) {
            c.clientFin = true;
            c.rcvNxt += 1;
        }
        answer(c);
        if (seg.payloadLength > 0 || seg.has(tcpflag::kFin)) {
            if (c.clientFin && !c.finSent) {
                c.finSent = true;
                TcpSegment r = reply(c, tcpflag::kFin | tcpflag::kAck);
                c.sndNxt += 1;
                queue(r);
            } else {
                queue(reply(c, tcpflag::kAck));
            }
        }
        if (greeting > 0 && c.sndNxt == c.isn + 1 && !c.finSent) sendData(c, greeting);
        if (greetingText && c.sndNxt == c.isn + 1 && !c.finSent) sendText(c, greetingText(c));
    }

    void answer(TargetConnection& c) {
        for (;;) {
            std::string pending = c.received.substr(c.answered);
            std::size_t consumed = 0;
            if (textResponder) {
                auto [text, used] = textResponder(c, pending);
                if (used == 0) return;
                consumed = used;
                sendText(c, text);
            } else {
                auto [bytes, used] = responder(pending);
                if (used == 0) return;
                consumed = used;
                sendData(c, bytes);
            }
            c.answered += consumed;
            ++c.requests;
            if (resetAfterRequests != 0 && c.requests >= resetAfterRequests) {
                queue(reply(c, tcpflag::kRst | tcpflag::kAck));
                c.reset = true;
                return;
            }
            if (closeAfterResponse && !c.finSent) {
                c.finSent = true;
                c.targetClosedFirst = !c.clientFin;
                TcpSegment r = reply(c, tcpflag::kFin | tcpflag::kAck);
                c.sndNxt += 1;
                queue(r);
            }
        }
    }

    void sendData(TargetConnection& c, std::size_t bytes) {
        while (bytes > 0) {
            const std::size_t n = std::min(bytes, responseSegmentSize);
            TcpSegment r = reply(c, tcpflag::kAck | tcpflag::kPsh);
            r.payloadLength = static_cast<std::uint32_t>(n);
            c.sndNxt += static_cast<std::uint32_t>(n);
            queue(r);
            bytes -= n;
        }
    }

    void sendText(TargetConnection& c, const std::string& text) {
        for (std::size_t at = 0; at < text.size(); at += responseSegmentSize) {
            const std::string& kept = payloadStore_.emplace_back(text.substr(at, responseSegmentSize));
            TcpSegment r = reply(c, tcpflag::kAck | tcpflag::kPsh);
            r.payload = net::Bytes(reinterpret_cast<const std::byte*>(kept.data()), kept.size());
            r.payloadLength = static_cast<std::uint32_t>(kept.size());
            c.sndNxt += r.payloadLength;
            queue(r);
        }
    }

    TcpSegment reply(TargetConnection& c, std::uint8_t flags) {
        TcpSegment r;
        r.src = c.flow.server.addr;
        r.sport = c.flow.server.port;
        r.dst = c.flow.client.addr;
        r.dport = c.flow.client.port;
        r.seq = c.sndNxt;
        r.ack = c.rcvNxt;
        r.flags = flags;
        r.window = window;
        if (c.tsOk) r.options.timestamps = net::TcpTimestamps{tsval(), c.lastTsval};
        return r;
    }

    void queue(const TcpSegment& r) {
        const std::uint32_t n = static_cast<std::uint32_t>(responsesSent++);
        if (dropResponseIndexes.contains(n)) return;
        if (responseDelay > Time{0}) {
            delayed_.push_back({now + responseDelay, r});
            return;
        }
        outbox_.push_back(r);
    }

    void releaseDelayed() {
        while (!delayed_.empty() && delayed_.front().first <= now) {
            outbox_.push_back(delayed_.front().second);
            delayed_.pop_front();
        }
    }

    std::uint32_t tsval() const {
        return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    }

    std::map<std::size_t, TargetConnection> all_;
    std::map<FlowKey, std::size_t> index_;
    std::deque<std::size_t> inbox_;
    std::deque<TcpSegment> outbox_;
    std::deque<std::pair<Time, TcpSegment>> delayed_;
    std::deque<std::string> payloadStore_;  // the bytes content-mode answers point to
};

// Builds the client side of a captured conversation, packet by packet.
class CapturedClient {
  public:
    CapturedClient(const char* clientIp, std::uint16_t clientPort, const char* serverIp,
                   std::uint16_t serverPort, std::uint32_t isn = 1000, std::uint32_t serverIsn = 500000)
        : isn_(isn), seq_(isn + 1), serverIsn_(serverIsn), ack_(serverIsn + 1) {
        key_.client = {testAddr(clientIp), net::Port(clientPort)};
        key_.server = {testAddr(serverIp), net::Port(serverPort)};
    }

    TcpSegment syn() {
        TcpSegment s = base(tcpflag::kSyn);
        s.seq = SeqNum(isn_);
        s.ack = SeqNum(0);
        s.window = 64240;
        s.options.mss = 1460;
        s.options.windowScale = 7;
        s.options.sackPermitted = true;
        s.options.timestamps = net::TcpTimestamps{100, 0};
        return s;
    }
    TcpSegment handshakeAck() { return base(tcpflag::kAck); }
    // A data segment; the client has seen `serverBytesSeen` bytes of server data so far.
    TcpSegment data(const std::string& bytes, std::uint32_t serverBytesSeen) {
        storage_.push_back(bytes);
        ack_ = SeqNum(serverIsn_ + 1 + serverBytesSeen);
        TcpSegment s = base(tcpflag::kAck | tcpflag::kPsh);
        const std::string& kept = storage_.back();
        s.payload = net::Bytes(reinterpret_cast<const std::byte*>(kept.data()), kept.size());
        s.payloadLength = static_cast<std::uint32_t>(kept.size());
        seq_ += static_cast<std::uint32_t>(kept.size());
        return s;
    }
    // What the online server sent (the capture's other direction): its SYN-ACK, or `bytes` at
    // server offset `at`.
    TcpSegment serverSynAck() const {
        TcpSegment s = serverBase(tcpflag::kSyn | tcpflag::kAck);
        s.seq = SeqNum(serverIsn_);
        return s;
    }
    TcpSegment serverData(const std::string& bytes, std::uint32_t at) {
        const std::string& kept = storage_.emplace_back(bytes);
        TcpSegment s = serverBase(tcpflag::kAck | tcpflag::kPsh);
        s.seq = SeqNum(serverIsn_ + 1 + at);
        s.payload = net::Bytes(reinterpret_cast<const std::byte*>(kept.data()), kept.size());
        s.payloadLength = static_cast<std::uint32_t>(kept.size());
        return s;
    }
    TcpSegment fin(std::uint32_t serverBytesSeen, bool serverFinSeen = false) {
        ack_ = SeqNum(serverIsn_ + 1 + serverBytesSeen + (serverFinSeen ? 1 : 0));
        TcpSegment s = base(tcpflag::kFin | tcpflag::kAck);
        seq_ += 1;
        return s;
    }
    TcpSegment rst() {
        TcpSegment s = base(tcpflag::kRst | tcpflag::kAck);
        return s;
    }
    const net::FlowKey& key() const { return key_; }
    std::uint32_t seq() const { return seq_.value(); }

  private:
    TcpSegment base(std::uint8_t flags) {
        TcpSegment s;
        s.src = key_.client.addr;
        s.sport = key_.client.port;
        s.dst = key_.server.addr;
        s.dport = key_.server.port;
        s.seq = seq_;
        s.ack = (flags & tcpflag::kSyn) ? SeqNum(0) : ack_;
        s.flags = flags;
        s.window = 502;
        s.ttl = 64;
        s.options.timestamps = net::TcpTimestamps{tsval_++, 1};
        return s;
    }

    TcpSegment serverBase(std::uint8_t flags) const {
        TcpSegment s;
        s.src = key_.server.addr;
        s.sport = key_.server.port;
        s.dst = key_.client.addr;
        s.dport = key_.client.port;
        s.seq = SeqNum(serverIsn_ + 1);
        s.ack = seq_;
        s.flags = flags;
        s.window = 509;
        s.ttl = 64;
        return s;
    }

    std::uint32_t isn_;
    SeqNum seq_;
    std::uint32_t serverIsn_;
    SeqNum ack_;
    std::uint32_t tsval_ = 101;
    net::FlowKey key_;
    std::deque<std::string> storage_;
};

inline EngineConfig httpConfig() {
    EngineConfig c;
    c.rules.push_back({std::nullopt, net::Port(80), {testAddr("198.18.1.2"), net::Port(8080)}});
    return c;
}

}  // namespace tcpcopy::session::testing
