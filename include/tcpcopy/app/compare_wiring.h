#pragma once
// The regression diff in tcpcopy (issue 14, docs/regression-diff.md): one diff::ResponseCollector
// per replayed captured connection, fed from the three places its segments pass through, and one
// diff::DiffReport that every collector reports to.
//
//   capture (both directions) --> onCaptured  --+
//   engine -> target          --> CompareOutput +--> collector of the captured connection --> report
//   tunnel payload responses  --> onTarget    --+        (found by captured tuple, or by replay tuple)
//
// A collector is created on the first packet of a captured client that a -x rule matches (before
// the engine starts its session: --max-active deferral keeps nothing from it), bound to the
// replayed session when the engine reports sessionStarted (copy 0 of -n only: the other copies
// are the same requests again), and finished once the engine reports sessionEnded. Its finish
// waits for settle(): a target segment's header reaches the engine (which may end the session on
// it) before its payload reaches the collector.
//
// Memory: at most CompareConfig::maxCollectors collectors live; beyond, the oldest one whose
// session has not started is dropped, or, when every one is replaying, the new connection is not
// compared (both counted). Collectors of connections the engine never replays (-r, -g, -O, shed)
// wait for that, and are dropped at the end without being reported; those -r samples out get
// none.
//
// Nothing here runs unless comparison is on: the replay builds none of it otherwise.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tcpcopy/diff/collector.h"
#include "tcpcopy/diff/report.h"
#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

// --compare-*: what is compared and where the reports go.
struct CompareConfig {
    std::string reportFile;  // --compare-report: JSON (tcpcopy-compare/1)
    std::string htmlFile;    // --compare-html
    // --compare-protocol: the protocol of every rule, or of the rules of an online port.
    diff::Protocol protocol = diff::Protocol::Auto;
    std::vector<std::pair<net::Port, diff::Protocol>> portProtocols;
    diff::CompareRules rules;
    diff::ReportLimits limits;
    std::size_t maxCollectors = 10000;  // --compare-max-sessions

    bool enabled() const { return !reportFile.empty() || !htmlFile.empty(); }
    diff::Protocol protocolFor(net::Port onlinePort) const;
};

// "auto|http|redis|resp|generic" for every rule, or "PORT=PROTOCOL[,PORT=PROTOCOL...]" (the online
// port of a -x rule; the others stay auto). Returns "" or the reason.
std::string parseCompareProtocol(std::string_view text, CompareConfig& config);

// What the comparison counts (tcpcopy_responses_* on /metrics, the summary's "responses:" line).
struct CompareCounters {
    std::uint64_t exchanges = 0;        // requests paired (compared or not)
    std::uint64_t compared = 0;         // both answers there and judged
    std::uint64_t matched = 0;          // the same (partial ones included)
    std::uint64_t mismatched = 0;       // they differ
    std::uint64_t notCompared = 0;      // an answer missing or not framed, see the report
    std::uint64_t slower = 0;           // the target much slower than the online server
    std::uint64_t sessions = 0;         // replayed sessions whose collector finished
    std::uint64_t sessionsDropped = 0;  // collectors dropped or refused at maxCollectors
    std::uint64_t notReplayed = 0;      // collectors of connections the engine did not replay
    std::uint64_t collectors = 0;       // gauge: collectors alive
    std::uint64_t targetUnknown = 0;    // target segments for no collector
};

class CompareWiring final : public diff::ExchangeSink {
  public:
    using Time = std::chrono::nanoseconds;
    // `samplePercent`: -r, so that connections the engine samples out get no collector.
    CompareWiring(CompareConfig config, std::vector<session::AddressRule> rules,
                  unsigned samplePercent = 100);
    ~CompareWiring() override;
    CompareWiring(const CompareWiring&) = delete;
    CompareWiring& operator=(const CompareWiring&) = delete;

    // A captured segment of either direction (those no -x rule matches are ignored), at its time.
    void onCaptured(const net::TcpSegment& segment, Time time);
    // A segment the engine sent to the target.
    void onReplayed(const net::TcpSegment& segment, Time time);
    // A segment the target sent, as the tunnel gave it: `payload` what intercept forwarded.
    void onTarget(const net::TcpSegment& segment, Time time);
    void sessionStarted(const net::FlowKey& captured, const net::FlowKey& replay, unsigned copy);
    void sessionEnded(const net::FlowKey& captured, const net::FlowKey& replay);
    // Finishes the collectors whose sessions ended (call once the callbacks of a turn are over).
    void settle(Time time);
    // The end: every collector of a replayed session finishes (the others are dropped).
    void finishAll(Time time);

    const diff::DiffReport& report() const { return report_; }
    const CompareCounters& counters() const { return counters_; }
    const CompareConfig& config() const { return config_; }
    // Collectors whose session has not started yet (at most counters().collectors).
    std::size_t waiting() const { return unbound_.size(); }

    void onExchange(diff::Exchange&& exchange) override;
    void onSessionEnd(const SessionEnd& end) override;

  private:
    struct Tracked {
        std::uint64_t id = 0;
        net::FlowKey captured;
        std::optional<net::SeqNum> isn;  // the captured client's SYN, when seen
        std::optional<net::FlowKey> replay;
        bool ended = false;
        std::unique_ptr<diff::ResponseCollector> collector;
        std::list<Tracked*>::iterator unboundAt;  // in unbound_ until its session starts
    };
    using Incarnations = std::deque<std::unique_ptr<Tracked>>;

    Tracked* clientTracked(const net::TcpSegment& segment, net::Port onlinePort);
    Tracked* serverTracked(const net::FlowKey& captured);
    bool makeRoom();
    void finish(Tracked& tracked, Time time);
    void erase(Tracked& tracked);

    CompareConfig config_;
    std::vector<session::AddressRule> rules_;
    unsigned samplePercent_;
    diff::DiffReport report_;
    CompareCounters counters_;
    std::unordered_map<net::FlowKey, Incarnations, net::FlowKeyHash> byCaptured_;
    std::unordered_map<net::FlowKey, Tracked*, net::FlowKeyHash> byReplay_;
    std::list<Tracked*> unbound_;      // collectors whose session has not started, oldest first
    std::vector<net::FlowKey> ended_;  // replay tuples to settle
    std::uint64_t nextId_ = 1;
};

// The engine's Output with comparison on: everything goes on to `inner`; the segments sent to the
// target and the session observers also go to the wiring.
class CompareOutput final : public session::Output {
  public:
    CompareOutput(session::Output& inner, CompareWiring& wiring, std::function<CompareWiring::Time()> now)
        : inner_(inner), wiring_(wiring), now_(std::move(now)) {}
    void sendToTarget(const net::TcpSegment& segment) override;
    void addRoute(const net::FlowKey& flow) override { inner_.addRoute(flow); }
    void removeRoute(const net::FlowKey& flow) override { inner_.removeRoute(flow); }
    void sessionStarted(const net::FlowKey& captured, const net::FlowKey& replay, unsigned copy) override;
    void sessionEnded(const net::FlowKey& captured, const net::FlowKey& replay) override;

  private:
    session::Output& inner_;
    CompareWiring& wiring_;
    std::function<CompareWiring::Time()> now_;
};

// The tunnel's two callbacks for one response (header, then payload if granted) made into one
// onTarget: a header with payload is held until its payload comes; the next header (or flush())
// lets it go without one (the collector then sees a gap).
class TargetPayloadJoin {
  public:
    explicit TargetPayloadJoin(CompareWiring& wiring) : wiring_(wiring) {}
    void onHeader(const net::TcpSegment& segment, CompareWiring::Time time);
    void onPayload(const net::TcpSegment& header, net::Bytes captured, CompareWiring::Time time);
    void flush();

  private:
    CompareWiring& wiring_;
    std::optional<net::TcpSegment> held_;  // payload view cleared
    CompareWiring::Time heldAt_{0};
};

// The reports at the end: --compare-report (JSON) and --compare-html, each written atomically.
// Returns "" or the error naming the flag.
std::string writeCompareReports(const CompareWiring& wiring, const diff::ReportInfo& info);

}  // namespace tcpcopy::app
