#include <algorithm>
#include <cmath>
#include <cstdio>

#include "svg.h"

namespace tcpcopy::diff::detail {
namespace {

constexpr double kWidth = 720, kHeight = 300;
constexpr double kLeft = 56, kRight = 20, kTop = 12, kBottom = 40;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// Appends " x,y" to an SVG points list (snprintf: chains of string + trip GCC 12's -Wrestrict).
void point(std::string& points, double x, double y) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.1f,%.1f", x, y);
    points += buf;
}

// Microseconds a bucket spans: [lower, upper].
double lowerUs(std::size_t i) {
    return i == 0 ? 0.5 : static_cast<double>(LatencyHistogram::upperBound(i - 1).count()) / 1000.0;
}
double upperUs(std::size_t i, const LatencyHistogram& h) {
    const Time upper = LatencyHistogram::upperBound(i);
    return static_cast<double>((upper == Time::max() ? h.max() : upper).count()) / 1000.0;
}

std::string decadeLabel(int exponent) {
    static constexpr const char* kUnits[] = {"us", "ms", "s"};
    if (exponent < 0) return "<1 us";
    const int unit = std::min(exponent / 3, 2);
    const double value = std::pow(10.0, exponent - 3 * unit);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f %s", value, kUnits[unit]);
    return buf;
}

}  // namespace

std::string latencyCdfSvg(const LatencyHistogram& online, const LatencyHistogram& target) {
    std::size_t lo = LatencyHistogram::kBuckets, hi = 0;
    for (const LatencyHistogram* h : {&online, &target}) {
        for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
            if (h->bucketCount(i) == 0) continue;
            lo = std::min(lo, i);
            hi = std::max(hi, i);
        }
    }
    if (lo > hi) return "";
    double hiUs = 1;
    for (const LatencyHistogram* h : {&online, &target}) hiUs = std::max(hiUs, upperUs(hi, *h));
    const int xmin = static_cast<int>(std::floor(std::log10(std::max(lowerUs(lo), 0.5))));
    int xmax = static_cast<int>(std::ceil(std::log10(hiUs)));
    if (xmax <= xmin) xmax = xmin + 1;
    const auto x = [&](double us) {
        const double v = (std::log10(std::max(us, 1e-3)) - xmin) / (xmax - xmin);
        return kLeft + std::clamp(v, 0.0, 1.0) * kPlotW;
    };
    const auto y = [&](double share) { return kTop + (1.0 - share) * kPlotH; };

    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart cdf\" width=\"" + fmt(kWidth) +
                      "\" height=\"" + fmt(kHeight) + "\" role=\"img\" aria-label=\"latency CDF\">\n";
    svg += "<rect x=\"" + fmt(kLeft) + "\" y=\"" + fmt(kTop) + "\" width=\"" + fmt(kPlotW) + "\" height=\"" +
           fmt(kPlotH) + "\" fill=\"none\" stroke=\"#a0aec0\"/>\n";
    for (int p = 0; p <= 100; p += 25) {
        const std::string yy = fmt(y(p / 100.0));
        svg += "<line x1=\"" + fmt(kLeft) + "\" x2=\"" + fmt(kLeft + kPlotW) + "\" y1=\"" + yy + "\" y2=\"" +
               yy + "\" stroke=\"#edf2f7\"/><text x=\"" + fmt(kLeft - 6) + "\" y=\"" + fmt(y(p / 100.0) + 4) +
               "\" font-size=\"11\" text-anchor=\"end\">" + std::to_string(p) + "%</text>\n";
    }
    for (int e = xmin; e <= xmax; ++e) {
        const std::string xx = fmt(x(std::pow(10.0, e)));
        svg += "<line x1=\"" + xx + "\" x2=\"" + xx + "\" y1=\"" + fmt(kTop) + "\" y2=\"" +
               fmt(kTop + kPlotH) + "\" stroke=\"#edf2f7\"/><text x=\"" + xx + "\" y=\"" +
               fmt(kTop + kPlotH + 16) + "\" font-size=\"11\" text-anchor=\"middle\">" + decadeLabel(e) +
               "</text>\n";
    }
    svg += "<text x=\"" + fmt(kLeft + kPlotW / 2) + "\" y=\"" + fmt(kHeight - 6) +
           "\" font-size=\"12\" text-anchor=\"middle\">time to first byte (log scale)</text>\n";
    for (const auto& [h, color, name] :
         {std::tuple{&online, kOnlineColor, "online"}, {&target, kTargetColor, "target"}}) {
        if (h->count() == 0) continue;
        std::string points = fmt(x(lowerUs(lo))) + "," + fmt(y(0));
        std::uint64_t seen = 0;
        for (std::size_t i = lo; i <= hi; ++i) {
            if (h->bucketCount(i) == 0) continue;
            const double before = static_cast<double>(seen) / static_cast<double>(h->count());
            seen += h->bucketCount(i);
            const double after = static_cast<double>(seen) / static_cast<double>(h->count());
            point(points, x(lowerUs(i)), y(before));
            point(points, x(upperUs(i, *h)), y(after));
        }
        point(points, kLeft + kPlotW, y(1));
        svg += "<polyline class=\"" + std::string(name) + "\" fill=\"none\" stroke-width=\"2\" stroke=\"" +
               std::string(color) + "\" points=\"" + points + "\"/>\n";
    }
    return svg + "</svg>";
}

}  // namespace tcpcopy::diff::detail
