#pragma once
// DiffReport: the results of every session's exchanges, accumulated. It is the ExchangeSink the
// collectors report to; it compares each exchange (Comparator), counts the result per endpoint,
// keeps a few samples of each endpoint's mismatches, the distribution of status codes (or RESP
// reply types) online against the target, and the latencies of both. Its memory is bounded by
// ReportLimits whatever the number of exchanges.
//
// Renderers: toJson() (the stable document docs/regression-diff.md describes) and renderHtml()
// (one self-contained page). Neither reads a clock: run facts such as the time and the capture
// file come in ReportInfo from the caller.

#include <array>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tcpcopy/diff/compare.h"
#include "tcpcopy/diff/histogram.h"

namespace tcpcopy::diff {

struct ReportLimits {
    std::size_t maxEndpoints = 200;      // then exchanges count under "(other endpoints)"
    std::size_t samplesPerEndpoint = 3;  // mismatches kept with both answers
    std::size_t sampleBytes = 1024;      // of each answer shown in a sample
    std::size_t maxStatusKeys = 64;      // then "(other)"
    std::size_t maxLostReasons = 16;     // distinct "framing lost" reasons kept
};

// One answer as a sample shows it.
struct SideSample {
    bool present = false;
    std::string kind;        // "200", "error ERR", ...
    std::uint64_t size = 0;  // bytes on the wire
    std::optional<Time> latency;
    std::string text;   // display text of its first bytes (see detail::displayText)
    bool gaps = false;  // part of it was not captured
    bool cut = false;   // it ended early
};

struct Sample {
    std::uint64_t session = 0;
    std::uint64_t index = 0;
    std::string request;  // display text of the request's first line
    std::vector<std::string> differences;
    SideSample online;
    SideSample target;
};

struct EndpointStats {
    Protocol protocol = Protocol::Generic;
    std::string name;
    std::uint64_t exchanges = 0;
    std::uint64_t matched = 0;  // partial ones included
    std::uint64_t differ = 0;
    std::uint64_t partial = 0;
    std::uint64_t notCompared = 0;
    std::uint64_t slower = 0;
    std::array<std::uint64_t, kCategoryCount> categories{};  // exchanges that differ in each
    LatencyHistogram online;                                 // exchanges compared with both latencies known
    LatencyHistogram target;
    std::vector<Sample> samples;
};

struct Totals {
    std::uint64_t sessions = 0;
    std::uint64_t sessionsMidstream = 0;  // not compared at all
    std::uint64_t exchanges = 0;
    std::uint64_t compared = 0;  // matched + differ
    std::uint64_t matched = 0;
    std::uint64_t differ = 0;
    std::uint64_t partial = 0;
    std::uint64_t slower = 0;
    std::uint64_t unsolicited = 0;
    std::uint64_t otherEndpoints = 0;  // exchanges counted under "(other endpoints)"
    std::array<std::uint64_t, kSkipCount> notCompared{};
    std::array<std::uint64_t, kCategoryCount> categories{};
};

// Facts about the run, shown as given (e.g. {"capture", "prod.pcap"}, {"target", "198.18.1.2:80"}).
struct ReportInfo {
    std::string title = "tcpcopy regression diff";
    std::vector<std::pair<std::string, std::string>> facts;
};

class DiffReport final : public ExchangeSink {
  public:
    explicit DiffReport(CompareRules rules = {}, ReportLimits limits = {});
    ~DiffReport() override;
    DiffReport(DiffReport&&) noexcept = default;
    DiffReport& operator=(DiffReport&&) noexcept = default;

    void onExchange(Exchange&& exchange) override;
    void onSessionEnd(const SessionEnd& end) override;
    // Compares and counts one exchange; returns the verdict (for metrics and tests).
    Verdict add(const Exchange& exchange);

    const Totals& totals() const { return totals_; }
    // Sorted: most mismatches first, then most exchanges, then protocol and name.
    std::vector<const EndpointStats*> endpoints() const;
    // kind -> (online count, target count), over the compared exchanges; the target's missing
    // answers count as "(none)".
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>& statuses() const {
        return statuses_;
    }
    const LatencyHistogram& onlineLatency() const { return online_; }
    const LatencyHistogram& targetLatency() const { return target_; }
    // "online: <reason>" / "target: <reason>" / "requests: <reason>" -> sessions.
    const std::map<std::string, std::uint64_t>& framingLost() const { return lost_; }
    const Comparator& comparator() const { return comparator_; }
    const ReportLimits& limits() const { return limits_; }

    // The JSON document (schema "tcpcopy-compare/1"), pretty-printed, keys in a fixed order.
    std::string toJson(const ReportInfo& info = {}) const;

  private:
    EndpointStats& endpointFor(const Exchange& exchange);
    void countStatus(const std::string& online, const std::string& target);
    Sample makeSample(const Exchange& exchange, const Verdict& verdict) const;

    Comparator comparator_;
    ReportLimits limits_;
    Totals totals_;
    std::unordered_map<std::string, std::unique_ptr<EndpointStats>> endpoints_;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> statuses_;
    std::map<std::string, std::uint64_t> lost_;
    LatencyHistogram online_;
    LatencyHistogram target_;
};

// The report as one HTML page: inline CSS and SVG, no script, no external resource. Every text
// from the traffic is escaped.
std::string renderHtml(const DiffReport& report, const ReportInfo& info = {});

}  // namespace tcpcopy::diff
