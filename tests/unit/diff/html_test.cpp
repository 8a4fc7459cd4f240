// renderHtml, checked by parsing the page (so CI needs no browser): its sections, the counts
// it shows, the samples side by side with every traffic text escaped, balanced elements, and
// nothing that would make a browser fetch anything.

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "helpers.h"
#include "tcpcopy/diff/report.h"

namespace tcpcopy::diff::testing {
namespace {

const FramingLimits kDefaults;

Message frame(Role role, std::string_view text) {
    RecordingSink sink;
    auto f = makeFramer(Protocol::Http, role, kDefaults, sink);
    feedText(*f, text);
    f->finish(0ns);
    return sink.messages.at(0);
}

Exchange http(std::string_view request, std::string_view online, std::optional<std::string_view> target,
              Time on, Time tg) {
    Exchange e;
    e.protocol = Protocol::Http;
    e.request = frame(Role::Requests, request);
    e.online = frame(Role::Responses, online);
    if (target) e.target = frame(Role::Responses, *target);
    e.onlineLatency = on;
    e.targetLatency = tg;
    return e;
}

struct Element {
    std::string name;
    std::map<std::string, std::string> attributes;
    std::size_t offset;
};

// A small HTML reader: start and end tags in order (void elements closed at once), attributes
// unescaped only as far as the test needs. Fails the test on a tag it cannot read.
std::vector<Element> elements(const std::string& html, bool& balanced) {
    static const std::set<std::string> kVoid = {"meta", "br",   "hr",       "img",  "input", "link",
                                                "rect", "line", "polyline", "path", "circle"};
    std::vector<Element> out;
    std::vector<std::string> open;
    balanced = true;
    static const std::regex kAttr(R"re(([a-zA-Z_:-]+)(?:="([^"]*)")?)re");
    for (std::size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
        if (html.compare(pos, 9, "<!DOCTYPE") == 0) continue;
        const std::size_t end = html.find('>', pos);
        if (end == std::string::npos) {
            ADD_FAILURE() << "unterminated tag at " << pos;
            balanced = false;
            break;
        }
        std::string tag = html.substr(pos + 1, end - pos - 1);
        const bool closing = !tag.empty() && tag[0] == '/';
        const bool selfClosing = !tag.empty() && tag.back() == '/';
        if (closing) tag.erase(0, 1);
        if (selfClosing) tag.pop_back();
        const std::string name = tag.substr(0, tag.find(' '));
        if (closing) {
            if (open.empty() || open.back() != name) {
                ADD_FAILURE() << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back())
                              << " at " << pos;
                balanced = false;
            } else {
                open.pop_back();
            }
            continue;
        }
        Element e{name, {}, pos};
        const std::string rest = tag.substr(name.size());
        for (auto it = std::sregex_iterator(rest.begin(), rest.end(), kAttr); it != std::sregex_iterator();
             ++it) {
            e.attributes[(*it)[1]] = (*it)[2];
        }
        if (!selfClosing && !kVoid.contains(name)) open.push_back(name);
        out.push_back(std::move(e));
    }
    if (!open.empty()) {
        ADD_FAILURE() << "unclosed <" << open.back() << ">";
        balanced = false;
    }
    return out;
}

std::size_t count(const std::string& haystack, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) ++n;
    return n;
}

DiffReport sampleReport() {
    DiffReport report;
    const std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";
    const std::string_view hostile =
        "HTTP/1.1 500 Oops\r\nContent-Type: text/html\r\nContent-Length: "
        "47\r\n\r\n<script>alert(1)</script><img src=http://x/>\"'&";
    for (int i = 0; i < 40; ++i) {
        const std::string path = "GET /api/users/" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
        report.add(http(path, ok, i % 10 == 0 ? hostile : ok, std::chrono::microseconds(300 + 20 * i),
                        std::chrono::microseconds(500 + 90 * i)));
    }
    report.add(http("GET /<b>x</b> HTTP/1.1\r\n\r\n", ok, std::nullopt, 1ms, 1ms));
    ExchangeSink::SessionEnd end;
    end.targetFramingLost = "payload not captured inside the header";
    report.onSessionEnd(end);
    return report;
}

TEST(RenderHtml, HasTheSectionsCountsAndSamplesAndNothingToFetch) {
    const DiffReport report = sampleReport();
    ReportInfo info;
    info.facts = {{"capture", "<prod>.pcap"}};
    const std::string html = renderHtml(report, info);
    bool balanced = false;
    const auto els = elements(html, balanced);
    EXPECT_TRUE(balanced);

    std::vector<std::string> sections;
    std::map<std::string, std::string> fields;
    std::size_t articles = 0, samples = 0, onlineSides = 0, targetSides = 0, cdfLines = 0;
    for (const Element& e : els) {
        if (e.name == "section") sections.push_back(e.attributes.at("id"));
        if (e.attributes.contains("data-field")) fields[e.attributes.at("data-field")] = "";
        if (e.name == "article") ++articles;
        if (e.name == "details") ++samples;
        if (e.name == "div" && e.attributes.count("class") && e.attributes.at("class") == "side online")
            ++onlineSides;
        if (e.name == "div" && e.attributes.count("class") && e.attributes.at("class") == "side target")
            ++targetSides;
        if (e.name == "polyline") ++cdfLines;
        EXPECT_FALSE(e.attributes.contains("src")) << e.name;
        EXPECT_FALSE(e.attributes.contains("href")) << e.name;
        EXPECT_NE(e.name, "script");
        EXPECT_NE(e.name, "link");
        EXPECT_NE(e.name, "img");
    }
    EXPECT_EQ(sections,
              (std::vector<std::string>{"summary", "mismatches", "status", "latency", "not-compared"}));
    EXPECT_EQ(articles, 2u);  // the two endpoints with mismatches
    EXPECT_EQ(samples, 3u + 1u);
    EXPECT_EQ(onlineSides, samples);
    EXPECT_EQ(targetSides, samples);
    EXPECT_EQ(cdfLines, 2u);

    // The counts, as shown.
    const auto cell = [&](std::string_view field) {
        const std::regex re("data-field=\"" + std::string(field) + "\">([0-9]+)<");
        std::smatch m;
        return std::regex_search(html, m, re) ? std::stoull(m[1]) : ~0ull;
    };
    EXPECT_EQ(cell("compared"), 41u);
    EXPECT_EQ(cell("differ"), 5u);
    EXPECT_EQ(cell("matched"), 36u);
    EXPECT_NE(html.find("responses: 41 compared, 5 differ"), std::string::npos);
    EXPECT_NE(html.find("data-endpoint=\"GET /api/users/{n}\" data-differ=\"4\" data-samples=\"3\""),
              std::string::npos);
    EXPECT_NE(
        html.find("<tr data-kind=\"500\"><td>500</td><td class=\"n\">0</td><td class=\"n\">4</td></tr>"),
        std::string::npos);
    EXPECT_NE(html.find("<tr data-kind=\"(none)\">"), std::string::npos);

    // Everything from the traffic and the caller is escaped.
    EXPECT_EQ(count(html, "<script"), 0u);
    EXPECT_EQ(count(html, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=http://x/&gt;&quot;&#39;&amp;"),
              3u);
    EXPECT_NE(html.find("GET /&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
    EXPECT_NE(html.find("&lt;prod&gt;.pcap"), std::string::npos);
    EXPECT_NE(html.find("target: payload not captured inside the header"), std::string::npos);
    // Nothing to fetch: the only URL is the SVG namespace, which is a name, not a request.
    EXPECT_EQ(count(html, "http://") - count(html, "http://www.w3.org/2000/svg") - 3,
              0u);  // 3 in escaped samples
    EXPECT_EQ(count(html, "https://"), 0u);
    EXPECT_EQ(count(html, "url("), 0u);
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
}

TEST(RenderHtml, ListsEveryEndpointWithMismatchesButOnlyTheFirstOfTheOthers) {
    DiffReport report;
    const std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const std::string_view gone = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
    // 40 endpoints ("/page-N" is not collapsed into a template), of which 2 differ.
    for (int i = 0; i < 40; ++i) {
        const std::string request = "GET /page-" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
        report.add(http(request, ok, i == 5 || i == 33 ? gone : ok, 1ms, 1ms));
    }
    const std::string html = renderHtml(report);
    bool balanced = false;
    const auto els = elements(html, balanced);
    EXPECT_TRUE(balanced);
    std::size_t rows = 0, articles = 0;
    for (const Element& e : els) {
        if (e.name == "tr" && e.attributes.contains("data-endpoint")) ++rows;
        if (e.name == "article") ++articles;
    }
    EXPECT_EQ(rows, 25u);  // the two that differ first, then 23 of the 38 others
    EXPECT_EQ(articles, 2u);
    EXPECT_NE(html.find("data-hidden=\"15\">15 more endpoints without mismatches"), std::string::npos);
    EXPECT_NE(html.find("<tr data-endpoint=\"GET /page-33\">"), std::string::npos);
    EXPECT_NE(html.find("Every request was compared."), std::string::npos);
}

TEST(RenderHtml, AnEmptyReportStillRendersEverySection) {
    const DiffReport report;
    const std::string html = renderHtml(report);
    bool balanced = false;
    const auto els = elements(html, balanced);
    EXPECT_TRUE(balanced);
    std::size_t sections = 0;
    for (const Element& e : els) sections += e.name == "section" ? 1 : 0;
    EXPECT_EQ(sections, 5u);
    EXPECT_NE(html.find("No mismatches."), std::string::npos);
    EXPECT_NE(html.find("No compared responses."), std::string::npos);
    EXPECT_NE(html.find("No request was timed on both sides."), std::string::npos);
}

}  // namespace
}  // namespace tcpcopy::diff::testing
