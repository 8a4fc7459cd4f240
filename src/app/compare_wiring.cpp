#include "tcpcopy/app/compare_wiring.h"

#include <algorithm>

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/session/client_map.h"

namespace tcpcopy::app {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string protocolError(std::string_view name) {
    return "expects auto, http, redis or generic, got '" + std::string(name) + "'";
}

}  // namespace

diff::Protocol CompareConfig::protocolFor(net::Port onlinePort) const {
    for (const auto& [port, protocol] : portProtocols)
        if (port == onlinePort) return protocol;
    return protocol;
}

std::string parseCompareProtocol(std::string_view text, CompareConfig& config) {
    text = trim(text);
    if (text.find('=') == std::string_view::npos) {
        auto protocol = diff::parseProtocol(text);
        if (!protocol) return protocolError(text);
        config.protocol = *protocol;
        config.portProtocols.clear();
        return {};
    }
    std::vector<std::pair<net::Port, diff::Protocol>> list;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos)
            return "expects PORT=PROTOCOL items, got '" + std::string(item) + "'";
        const std::string_view portText = trim(item.substr(0, eq));
        net::Port port;
        if (!parsePort(portText, port))
            return "expects a port 1-65535 before '=', got '" + std::string(portText) + "'";
        auto protocol = diff::parseProtocol(trim(item.substr(eq + 1)));
        if (!protocol) return protocolError(trim(item.substr(eq + 1)));
        list.emplace_back(port, *protocol);
    }
    config.protocol = diff::Protocol::Auto;
    config.portProtocols = std::move(list);
    return {};
}

CompareWiring::CompareWiring(CompareConfig config, std::vector<session::AddressRule> rules,
                             unsigned samplePercent)
    : config_(std::move(config)),
      rules_(std::move(rules)),
      samplePercent_(samplePercent),
      report_(config_.rules, config_.limits) {}

CompareWiring::~CompareWiring() = default;

void CompareWiring::onCaptured(const net::TcpSegment& segment, Time time) {
    if (const auto* rule = session::matchRule(rules_, segment.dst, segment.dport)) {
        if (Tracked* tracked = clientTracked(segment, rule->onlinePort))
            tracked->collector->onCapturedClient(segment, time);
        return;
    }
    if (session::matchRule(rules_, segment.src, segment.sport) == nullptr) return;
    if (Tracked* tracked = serverTracked(segment.serverToClientKey()))
        tracked->collector->onCapturedServer(segment, time);
}

// The incarnation a client segment belongs to: the newest of its tuple, or a new one for a SYN
// with another sequence number (the tuple reused, or the next -T pass) or a tuple not seen.
CompareWiring::Tracked* CompareWiring::clientTracked(const net::TcpSegment& segment, net::Port onlinePort) {
    const net::FlowKey key = segment.clientToServerKey();
    const bool syn = segment.has(net::tcpflag::kSyn) && !segment.has(net::tcpflag::kAck);
    auto it = byCaptured_.find(key);
    if (it != byCaptured_.end() && !it->second.empty()) {
        Tracked& newest = *it->second.back();
        if (!syn || newest.isn == segment.seq) return newest.ended ? nullptr : &newest;
    } else if (!session::sampledIn(key, samplePercent_)) {
        return nullptr;  // -r: the engine does not replay it
    } else if (!syn && segment.payloadLength == 0) {
        // A bare ACK, FIN or RST of a connection not followed (often the capture's last ACK
        // after the session ended): nothing to compare would come of it.
        return nullptr;
    }
    if (!makeRoom()) {
        ++counters_.sessionsDropped;
        return nullptr;
    }
    auto tracked = std::make_unique<Tracked>();
    tracked->id = nextId_++;
    tracked->captured = key;
    if (syn) tracked->isn = segment.seq;
    diff::CollectorConfig cc;
    cc.protocol = config_.protocolFor(onlinePort);
    cc.session = tracked->id;
    cc.framing.sampleBytes = std::max(cc.framing.sampleBytes, config_.limits.sampleBytes);
    tracked->collector = std::make_unique<diff::ResponseCollector>(cc, *this);
    Tracked* raw = tracked.get();
    byCaptured_[key].push_back(std::move(tracked));
    raw->unboundAt = unbound_.insert(unbound_.end(), raw);
    ++counters_.collectors;
    return raw;
}

CompareWiring::Tracked* CompareWiring::serverTracked(const net::FlowKey& captured) {
    auto it = byCaptured_.find(captured);
    if (it == byCaptured_.end() || it->second.empty()) return nullptr;
    Tracked& newest = *it->second.back();
    return newest.ended ? nullptr : &newest;
}

// Room for one more collector: drops the oldest one not replaying yet when at the cap.
bool CompareWiring::makeRoom() {
    if (counters_.collectors < config_.maxCollectors) return true;
    if (unbound_.empty()) return false;
    ++counters_.sessionsDropped;
    erase(*unbound_.front());
    return true;
}

void CompareWiring::sessionStarted(const net::FlowKey& captured, const net::FlowKey& replay, unsigned copy) {
    if (copy != 0) return;
    // A tuple whose previous session ended in this very turn: that one is settled first.
    if (auto old = byReplay_.find(replay); old != byReplay_.end()) {
        Tracked& previous = *old->second;
        if (previous.ended) {
            finish(previous, Time{0});
        } else {
            // The engine never starts a tuple twice; should it, the old one is not compared.
            ++counters_.sessionsDropped;
            erase(previous);
        }
    }
    auto it = byCaptured_.find(captured);
    if (it == byCaptured_.end()) return;
    for (auto& tracked : it->second) {
        if (tracked->replay) continue;
        tracked->replay = replay;
        unbound_.erase(tracked->unboundAt);
        byReplay_[replay] = tracked.get();
        return;
    }
}

void CompareWiring::sessionEnded(const net::FlowKey& /*captured*/, const net::FlowKey& replay) {
    auto it = byReplay_.find(replay);
    if (it == byReplay_.end() || it->second->ended) return;
    it->second->ended = true;
    ended_.push_back(replay);
}

void CompareWiring::onReplayed(const net::TcpSegment& segment, Time time) {
    auto it = byReplay_.find(segment.clientToServerKey());
    if (it == byReplay_.end()) return;
    it->second->collector->onReplayed(segment, time);
}

void CompareWiring::onTarget(const net::TcpSegment& segment, Time time) {
    auto it = byReplay_.find(segment.serverToClientKey());
    if (it == byReplay_.end()) {
        ++counters_.targetUnknown;
        return;
    }
    it->second->collector->onTarget(segment, time);
}

void CompareWiring::settle(Time time) {
    std::vector<net::FlowKey> ended;
    ended.swap(ended_);
    for (const net::FlowKey& replay : ended) {
        auto it = byReplay_.find(replay);
        if (it != byReplay_.end() && it->second->ended) finish(*it->second, time);
    }
}

void CompareWiring::finishAll(Time time) {
    settle(time);
    std::vector<Tracked*> all;
    for (auto& [key, list] : byCaptured_)
        for (auto& tracked : list) all.push_back(tracked.get());
    for (Tracked* tracked : all) {
        if (tracked->replay) {
            finish(*tracked, time);
        } else {
            ++counters_.notReplayed;
            erase(*tracked);
        }
    }
}

void CompareWiring::finish(Tracked& tracked, Time time) {
    tracked.collector->finish(time);
    ++counters_.sessions;
    erase(tracked);
}

void CompareWiring::erase(Tracked& tracked) {
    if (tracked.replay) {
        auto r = byReplay_.find(*tracked.replay);
        if (r != byReplay_.end() && r->second == &tracked) byReplay_.erase(r);
    } else {
        unbound_.erase(tracked.unboundAt);
    }
    auto it = byCaptured_.find(tracked.captured);
    if (it == byCaptured_.end()) return;
    Incarnations& list = it->second;
    for (auto i = list.begin(); i != list.end(); ++i) {
        if (i->get() != &tracked) continue;
        list.erase(i);
        --counters_.collectors;
        break;
    }
    if (list.empty()) byCaptured_.erase(it);
}

void CompareWiring::onExchange(diff::Exchange&& exchange) {
    const diff::Verdict verdict = report_.add(exchange);
    ++counters_.exchanges;
    switch (verdict.outcome) {
        case diff::Outcome::Match:
            ++counters_.compared;
            ++counters_.matched;
            break;
        case diff::Outcome::Differ:
            ++counters_.compared;
            ++counters_.mismatched;
            break;
        case diff::Outcome::NotCompared:
            ++counters_.notCompared;
            break;
    }
    if (verdict.slower) ++counters_.slower;
}

void CompareWiring::onSessionEnd(const SessionEnd& end) { report_.onSessionEnd(end); }

void CompareOutput::sendToTarget(const net::TcpSegment& segment) {
    inner_.sendToTarget(segment);
    wiring_.onReplayed(segment, now_());
}

void CompareOutput::sessionStarted(const net::FlowKey& captured, const net::FlowKey& replay, unsigned copy) {
    inner_.sessionStarted(captured, replay, copy);
    wiring_.sessionStarted(captured, replay, copy);
}

void CompareOutput::sessionEnded(const net::FlowKey& captured, const net::FlowKey& replay) {
    inner_.sessionEnded(captured, replay);
    wiring_.sessionEnded(captured, replay);
}

void TargetPayloadJoin::onHeader(const net::TcpSegment& segment, CompareWiring::Time time) {
    flush();
    if (segment.payloadLength == 0) {
        wiring_.onTarget(segment, time);
        return;
    }
    held_ = segment;
    held_->payload = {};
    heldAt_ = time;
}

void TargetPayloadJoin::onPayload(const net::TcpSegment& header, net::Bytes captured,
                                  CompareWiring::Time time) {
    net::TcpSegment segment = header;
    segment.payload = captured;
    if (held_ && held_->seq == header.seq && held_->clientToServerKey() == header.clientToServerKey()) {
        time = heldAt_;
        held_.reset();
    } else {
        flush();
    }
    if (segment.payloadLength == 0) return;  // its header went on already
    wiring_.onTarget(segment, time);
}

void TargetPayloadJoin::flush() {
    if (!held_) return;
    wiring_.onTarget(*held_, heldAt_);
    held_.reset();
}

std::string writeCompareReports(const CompareWiring& wiring, const diff::ReportInfo& info) {
    const CompareConfig& config = wiring.config();
    if (!config.reportFile.empty()) {
        if (std::string error = os::replaceFile(config.reportFile, wiring.report().toJson(info));
            !error.empty())
            return "--compare-report: " + error;
    }
    if (!config.htmlFile.empty()) {
        if (std::string error = os::replaceFile(config.htmlFile, diff::renderHtml(wiring.report(), info));
            !error.empty())
            return "--compare-html: " + error;
    }
    return {};
}

}  // namespace tcpcopy::app
