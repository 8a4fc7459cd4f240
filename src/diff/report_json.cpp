// DiffReport::toJson: the "tcpcopy-compare/1" document (docs/regression-diff.md). Keys keep the
// order they are written in (nlohmann::ordered_json), endpoints and statuses a fixed order, so
// two reports of the same results are byte for byte equal.

#include <cmath>
#include <nlohmann/json.hpp>

#include "tcpcopy/diff/report.h"

namespace tcpcopy::diff {
namespace {

using Json = nlohmann::ordered_json;

double micros(Time t) { return std::round(static_cast<double>(t.count()) / 1000.0 * 1000.0) / 1000.0; }

Json optionalMicros(const std::optional<Time>& t) { return t ? Json(micros(*t)) : Json(nullptr); }

Json histogram(const LatencyHistogram& h) {
    Json j;
    j["count"] = h.count();
    j["mean_us"] = micros(h.mean());
    j["p50_us"] = micros(h.quantile(0.5));
    j["p90_us"] = micros(h.quantile(0.9));
    j["p99_us"] = micros(h.quantile(0.99));
    j["max_us"] = micros(h.max());
    Json buckets = Json::array();
    for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
        if (h.bucketCount(i) == 0) continue;
        const Time upper = LatencyHistogram::upperBound(i);
        buckets.push_back(Json{{"le_us", upper == Time::max() ? Json(nullptr) : Json(micros(upper))},
                               {"count", h.bucketCount(i)}});
    }
    j["buckets"] = std::move(buckets);
    return j;
}

Json side(const SideSample& s) {
    Json j;
    j["present"] = s.present;
    j["kind"] = s.kind;
    j["size"] = s.size;
    j["latency_us"] = optionalMicros(s.latency);
    j["text"] = s.text;
    j["gaps"] = s.gaps;
    j["cut"] = s.cut;
    return j;
}

Json categories(const std::array<std::uint64_t, kCategoryCount>& counts) {
    Json j = Json::object();
    for (std::size_t i = 0; i < kCategoryCount; ++i)
        j[std::string(categoryName(static_cast<Category>(i)))] = counts[i];
    return j;
}

Json rules(const CompareRules& r) {
    Json j;
    j["headers"] = r.headers;
    j["ignore_headers"] = r.ignoreHeaders;
    j["body"] = bodyRuleName(r.body);
    j["size_tolerance_percent"] = r.sizeTolerancePercent;
    j["type_only_commands"] = r.typeOnlyCommands;
    j["slower_factor"] = r.slowerFactor;
    j["slower_margin_us"] = micros(r.slowerMargin);
    return j;
}

Json endpoint(const EndpointStats& e) {
    Json j;
    j["protocol"] = e.protocol == Protocol::Auto ? "*" : protocolName(e.protocol);
    j["endpoint"] = e.name;
    j["exchanges"] = e.exchanges;
    j["matched"] = e.matched;
    j["differ"] = e.differ;
    j["partial"] = e.partial;
    j["not_compared"] = e.notCompared;
    j["slower"] = e.slower;
    j["differences"] = categories(e.categories);
    Json latency;
    latency["count"] = e.online.count();
    latency["online_p50_us"] = e.online.count() ? Json(micros(e.online.quantile(0.5))) : Json(nullptr);
    latency["target_p50_us"] = e.target.count() ? Json(micros(e.target.quantile(0.5))) : Json(nullptr);
    latency["online_p90_us"] = e.online.count() ? Json(micros(e.online.quantile(0.9))) : Json(nullptr);
    latency["target_p90_us"] = e.target.count() ? Json(micros(e.target.quantile(0.9))) : Json(nullptr);
    j["latency"] = std::move(latency);
    Json samples = Json::array();
    for (const Sample& s : e.samples) {
        Json js;
        js["session"] = s.session;
        js["index"] = s.index;
        js["request"] = s.request;
        js["differences"] = s.differences;
        js["online"] = side(s.online);
        js["target"] = side(s.target);
        samples.push_back(std::move(js));
    }
    j["samples"] = std::move(samples);
    return j;
}

}  // namespace

std::string DiffReport::toJson(const ReportInfo& info) const {
    Json doc;
    doc["schema"] = "tcpcopy-compare/1";
    doc["title"] = info.title;
    Json run = Json::object();
    for (const auto& [name, value] : info.facts) run[name] = value;
    doc["run"] = std::move(run);
    doc["rules"] = rules(comparator_.rules());

    const Totals& t = totals_;
    Json summary;
    summary["sessions"] = t.sessions;
    summary["sessions_midstream"] = t.sessionsMidstream;
    summary["exchanges"] = t.exchanges;
    summary["compared"] = t.compared;
    summary["matched"] = t.matched;
    summary["differ"] = t.differ;
    summary["partial"] = t.partial;
    summary["slower"] = t.slower;
    summary["unsolicited"] = t.unsolicited;
    summary["other_endpoints"] = t.otherEndpoints;
    Json skipped = Json::object();
    for (std::size_t i = 1; i < kSkipCount; ++i)
        skipped[std::string(skipName(static_cast<Skip>(i)))] = t.notCompared[i];
    summary["not_compared"] = std::move(skipped);
    summary["differences"] = categories(t.categories);
    doc["summary"] = std::move(summary);

    Json statuses = Json::array();
    for (const auto& [kind, counts] : statuses_) {
        statuses.push_back(Json{{"kind", kind}, {"online", counts.first}, {"target", counts.second}});
    }
    doc["status"] = std::move(statuses);
    doc["latency"] = Json{{"online", histogram(online_)}, {"target", histogram(target_)}};
    Json lost = Json::object();
    for (const auto& [reason, count] : lost_) lost[reason] = count;
    doc["framing_lost"] = std::move(lost);
    Json endpoints = Json::array();
    for (const EndpointStats* e : this->endpoints()) endpoints.push_back(endpoint(*e));
    doc["endpoints"] = std::move(endpoints);
    return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace tcpcopy::diff
