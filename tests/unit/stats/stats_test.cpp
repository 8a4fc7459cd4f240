#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tcpcopy/os/socket_address.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/stats/registry.h"

namespace tcpcopy::stats {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A registry as a daemon would fill it: two counters, a gauge, a counter read from elsewhere.
struct Fixture {
    Registry registry{"tcpcopy"};
    std::uint64_t injectorErrors = 0;
    Counter injected = registry.counter("packets_injected", "IPv4 packets injected toward the target");
    Gauge sessions = registry.gauge("sessions_active", "Sessions being replayed");
    Counter bytes = registry.counter("bytes_injected", "Bytes injected");

    Fixture() {
        registry.counterFn("inject_errors", "Packets the injector could not send\\retry\nlater",
                           [this] { return injectorErrors; });
        injected.inc();
        injected.inc(41);
        sessions.set(7);
        sessions.add(3);
        sessions.sub(2);
        bytes.inc(123456789012ull);
        injectorErrors = 5;
    }
};

TEST(Registry, HandlesUpdateTheirMetric) {
    Fixture f;
    EXPECT_EQ(f.injected.value(), 42u);
    EXPECT_EQ(f.sessions.value(), 8u);
    EXPECT_EQ(f.registry.value("packets_injected"), 42u);
    EXPECT_EQ(f.registry.value("inject_errors"), 5u);
    f.injectorErrors = 9;  // read through the function at every rendering
    EXPECT_EQ(f.registry.value("inject_errors"), 9u);
    EXPECT_EQ(f.registry.value("missing"), std::nullopt);
}

TEST(Registry, GaugeSubtractionSaturatesAtZero) {
    Registry registry("x");
    Gauge g = registry.gauge("queued", "Queued");
    g.add(2);
    g.sub(5);
    EXPECT_EQ(g.value(), 0u);
}

TEST(Registry, SnapshotKeepsRegistrationOrderAndTypes) {
    Fixture f;
    const auto samples = f.registry.snapshot();
    ASSERT_EQ(samples.size(), 4u);
    EXPECT_EQ(samples[0].name, "packets_injected");
    EXPECT_EQ(samples[1].name, "sessions_active");
    EXPECT_EQ(samples[1].type, MetricType::Gauge);
    EXPECT_EQ(samples[3].name, "inject_errors");
    EXPECT_EQ(samples[3].type, MetricType::Counter);
}

TEST(Renderers, Json) {
    Fixture f;
    EXPECT_EQ(renderJson(f.registry),
              "{\n"
              "  \"packets_injected\": 42,\n"
              "  \"sessions_active\": 8,\n"
              "  \"bytes_injected\": 123456789012,\n"
              "  \"inject_errors\": 5\n"
              "}\n");
    EXPECT_EQ(renderJson(Registry("empty")), "{}\n");
}

TEST(Renderers, JsonNestsDottedNamesPutsLabelsFirstAndLeavesOutWhatHasNoValue) {
    Registry registry("tcpcopy");
    std::optional<std::uint64_t> dropped;  // no live capture in this run
    registry.counterFn("frames", "Frames read", [] { return 7; });
    registry.add({"sessions.started", "Sessions", MetricType::Counter, Unit::None, std::nullopt},
                 [] { return 3; });
    registry.add({"capture.kernel_dropped", "Dropped", MetricType::Counter, Unit::None, std::nullopt},
                 [&] { return dropped; });
    registry.add({"sessions.active", "Open", MetricType::Gauge, Unit::None, std::nullopt}, [] { return 1; });
    registry.add({"seconds", "Run time", MetricType::Gauge, Unit::Nanoseconds, std::nullopt},
                 [] { return 1'500'000'000; });
    EXPECT_EQ(renderJson(registry, {{"input", "a.pcap"}}),
              "{\n"
              "  \"input\": \"a.pcap\",\n"
              "  \"frames\": 7,\n"
              "  \"sessions\": {\n"
              "    \"started\": 3,\n"
              "    \"active\": 1\n"
              "  },\n"
              "  \"seconds\": 1.5\n"
              "}\n");
    dropped = 4;
    EXPECT_THAT(
        renderJson(registry, {{"capture.backend", "packet-ring"}}),
        HasSubstr("\"capture\": {\n    \"backend\": \"packet-ring\",\n    \"kernel_dropped\": 4\n  }"));
}

TEST(Renderers, Prometheus) {
    Fixture f;
    EXPECT_EQ(renderPrometheus(f.registry),
              "# HELP tcpcopy_packets_injected_total IPv4 packets injected toward the target\n"
              "# TYPE tcpcopy_packets_injected_total counter\n"
              "tcpcopy_packets_injected_total 42\n"
              "# HELP tcpcopy_sessions_active Sessions being replayed\n"
              "# TYPE tcpcopy_sessions_active gauge\n"
              "tcpcopy_sessions_active 8\n"
              "# HELP tcpcopy_bytes_injected_total Bytes injected\n"
              "# TYPE tcpcopy_bytes_injected_total counter\n"
              "tcpcopy_bytes_injected_total 123456789012\n"
              "# HELP tcpcopy_inject_errors_total Packets the injector could not send\\\\retry\\nlater\n"
              "# TYPE tcpcopy_inject_errors_total counter\n"
              "tcpcopy_inject_errors_total 5\n");
}

TEST(Renderers, PrometheusServesOnlyExposedMetricsUnderTheirExposedNames) {
    Registry registry("tcpcopy");
    std::optional<std::uint64_t> received;
    registry.add({"frames", "Frames read", MetricType::Counter, Unit::None, "frames_read"}, [] { return 7; });
    registry.add({"capture.received", "Received", MetricType::Counter, Unit::None, std::nullopt},
                 [&] { return received; });
    registry.add({"packets_in", "Offered", MetricType::Counter, Unit::None, ""}, [] { return 9; });
    EXPECT_EQ(renderPrometheus(registry),
              "# HELP tcpcopy_frames_read_total Frames read\n"
              "# TYPE tcpcopy_frames_read_total counter\n"
              "tcpcopy_frames_read_total 7\n"
              "# HELP tcpcopy_capture_received_total Received\n"
              "# TYPE tcpcopy_capture_received_total counter\n"
              "tcpcopy_capture_received_total 0\n");
}

TEST(Renderers, PrometheusWithoutPrefix) {
    Registry registry("");
    registry.gauge("up", "Always one").set(1);
    EXPECT_EQ(renderPrometheus(registry), "# HELP up Always one\n# TYPE up gauge\nup 1\n");
}

TEST(Renderers, TextTemplatesNameMetricsLabelsAndUnits) {
    Fixture f;
    std::optional<std::uint64_t> tunnelConnects;
    f.registry.add({"path_rtt.smoothed_us", "RTT", MetricType::Gauge, Unit::Microseconds, std::nullopt},
                   [] { return 1234; });
    f.registry.add({"seconds", "Run time", MetricType::Gauge, Unit::Nanoseconds, std::nullopt},
                   [] { return 450'000'000; });
    f.registry.add({"tunnel.connects", "Connects", MetricType::Counter, Unit::None, std::nullopt},
                   [&] { return tunnelConnects; });
    EXPECT_EQ(
        renderText(f.registry,
                   "stats: injected={packets_injected} sessions active={sessions_active} tunnel={tunnel} "
                   "connects={tunnel.connects} rtt {path_rtt.smoothed_us:ms} ms in {seconds:s}s {{x}}",
                   {{"tunnel", "none"}}),
        "stats: injected=42 sessions active=8 tunnel=none connects=0 rtt 1.2 ms in 0.45s {x}");
    tunnelConnects = 2;
    EXPECT_EQ(renderText(f.registry, "{tunnel.connects} connects"), "2 connects");
    EXPECT_EQ(renderText(f.registry, "no field"), "no field");
}

TEST(ParseListenAddress, AcceptsAddrPortAndExplainsRefusals) {
    net::Endpoint e;
    EXPECT_EQ(parseListenAddress("127.0.0.1:9100", e), "");
    EXPECT_EQ(e.toString(), "127.0.0.1:9100");
    EXPECT_EQ(parseListenAddress("0.0.0.0:0", e), "");
    EXPECT_EQ(e.port.value(), 0);
    const std::string form = "expects ADDR:PORT or [IPv6]:PORT (e.g. 127.0.0.1:9100, [::1]:9100): ";
    EXPECT_EQ(parseListenAddress("127.0.0.1", e),
              form + "'127.0.0.1' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6");
    EXPECT_EQ(parseListenAddress("127.0.0.1:", e), form + "'' is not a port 0..65535 (in '127.0.0.1:')");
    EXPECT_EQ(parseListenAddress("127.0.0.1:65536", e),
              form + "'65536' is not a port 0..65535 (in '127.0.0.1:65536')");
    EXPECT_EQ(parseListenAddress("localhost:80", e),
              form + "'localhost' is not an IPv4 or IPv6 address (in 'localhost:80')");
    EXPECT_EQ(parseListenAddress(":80", e), form + "'' is not an IPv4 or IPv6 address (in ':80')");
    EXPECT_EQ(parseListenAddress("1.2.3.4:8x", e), form + "'8x' is not a port 0..65535 (in '1.2.3.4:8x')");
    EXPECT_EQ(e.toString(), "0.0.0.0:0");  // untouched by every refusal
}

TEST(ParseListenAddress, TakesIpv6InBracketsWithThePort) {
    net::Endpoint e;
    EXPECT_EQ(parseListenAddress("[::1]:9100", e), "");
    EXPECT_EQ(e.toString(), "[::1]:9100");
    EXPECT_TRUE(e.addr.isV6());
    EXPECT_EQ(parseListenAddress("[::]:0", e), "");
    EXPECT_TRUE(e.addr.isUnspecified() && e.addr.isV6());
    EXPECT_EQ(parseListenAddress("[fd00:198:18::2]:9102", e), "");
    EXPECT_EQ(e.toString(), "[fd00:198:18::2]:9102");
    const std::string form = "expects ADDR:PORT or [IPv6]:PORT (e.g. 127.0.0.1:9100, [::1]:9100): ";
    // Without brackets the last group is part of the address: no port.
    EXPECT_EQ(parseListenAddress("::1:9100", e),
              form + "'::1:9100' reads as an IPv6 address without a port: write [ADDR]:PORT");
    EXPECT_EQ(parseListenAddress("[::1]9100", e), form + "'[::1]9100': only ':PORT' may follow ']'");
    EXPECT_EQ(parseListenAddress("[::1:9100", e), form + "'[::1:9100' lacks the closing ']'");
    EXPECT_EQ(parseListenAddress("[::1]", e),
              form + "'[::1]' lacks its port: ADDR:PORT, or [ADDR]:PORT for IPv6");
    EXPECT_EQ(parseListenAddress("[fe80::1%eth0]:9100", e),
              form + "'fe80::1%eth0' is not an IPv4 or IPv6 address (in '[fe80::1%eth0]:9100')");
}

TEST(RegistryDeathTest, RefusesBadAndRepeatedNames) {
    EXPECT_DEATH(
        {
            Registry r("x");
            r.counter("a", "");
            r.gauge("a", "");
        },
        "'a' registered twice");
    EXPECT_DEATH(
        {
            Registry r("x");
            r.counter("bad-name", "");
        },
        "invalid name 'bad-name'");
    EXPECT_DEATH(
        {
            Registry r("x");
            r.counter("a..b", "");
        },
        "invalid name 'a..b'");
}

TEST(RegistryDeathTest, RefusesTemplatesNamingNoMetricOrAFormatItsUnitHasNot) {
    Registry r("x");
    r.counter("frames", "");
    EXPECT_DEATH(renderText(r, "{frame}"), "names 'frame', which is not a metric");
    EXPECT_DEATH(renderText(r, "{frames:ms}"), "asks for 'frames:ms'");
    EXPECT_DEATH(renderText(r, "{frames"), "unclosed");
}

// ---- the HTTP endpoint, over loopback on an event loop -------------------------------------

struct HttpReply {
    std::string raw;
    bool complete = false;
};

// Sends `request` to the server and runs the loop until the server closes the connection
// (HTTP/1.0) or two seconds pass.
HttpReply fetch(os::EventBase& base, const MetricsServer& server, const std::string& request) {
    HttpReply reply;
    const os::SockAddr to = os::toSockaddr(server.address());
    const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, to.get(), to.length) != 0) {
        reply.raw = "connect failed";
        return reply;
    }
    // Loopback: the kernel completed the handshake; the request fits the socket buffer.
    if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
        reply.raw = "send failed";
        ::close(fd);
        return reply;
    }
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        base.runOnce(false);
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            reply.raw.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
            reply.complete = true;
            break;
        } else {
            ::usleep(1000);
        }
    }
    ::close(fd);
    return reply;
}

std::string bodyOf(const std::string& raw) {
    const auto at = raw.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : raw.substr(at + 4);
}

class MetricsServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = os::EventBase::create();
        ASSERT_TRUE(created) << created.error();
        base_ = std::make_unique<os::EventBase>(std::move(created).value());
        auto server = MetricsServer::start(*base_, f_.registry,
                                           {net::Ipv4Addr::fromOctets(127, 0, 0, 1), net::Port(0)});
        ASSERT_TRUE(server) << server.error();
        server_ = std::move(server).value();
    }
    void TearDown() override {
        server_.reset();  // before the event base it runs on
        base_.reset();
    }

    Fixture f_;
    std::unique_ptr<os::EventBase> base_;
    std::unique_ptr<MetricsServer> server_;
};

// --metrics [::1]:PORT: the same endpoint on IPv6 loopback.
TEST(MetricsServerIpv6, ServesOnIpv6Loopback) {
    Fixture f;
    auto base = os::EventBase::create();
    ASSERT_TRUE(base) << base.error();
    net::Endpoint at;
    ASSERT_EQ(parseListenAddress("[::1]:0", at), "");
    auto server = MetricsServer::start(base.value(), f.registry, at);
    ASSERT_TRUE(server) << server.error();
    EXPECT_EQ(server.value()->address().addr, at.addr);
    EXPECT_NE(server.value()->address().port.value(), 0);
    const HttpReply reply = fetch(base.value(), *server.value(), "GET /metrics HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(reply.complete) << reply.raw;
    EXPECT_THAT(reply.raw, StartsWith("HTTP/1.0 200 OK\r\n"));
    EXPECT_EQ(bodyOf(reply.raw), renderPrometheus(f.registry));
}

TEST_F(MetricsServerTest, BindsAnEphemeralPortOnLoopback) {
    EXPECT_EQ(server_->address().addr, net::Ipv4Addr::fromOctets(127, 0, 0, 1));
    EXPECT_NE(server_->address().port.value(), 0);
}

TEST_F(MetricsServerTest, ServesPrometheusTextOnMetrics) {
    const HttpReply reply = fetch(*base_, *server_, "GET /metrics HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(reply.complete) << reply.raw;
    EXPECT_THAT(reply.raw, StartsWith("HTTP/1.0 200 OK\r\n"));
    EXPECT_THAT(reply.raw, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    EXPECT_EQ(bodyOf(reply.raw), renderPrometheus(f_.registry));
    EXPECT_EQ(server_->requests(), 1u);
}

TEST_F(MetricsServerTest, ServesCurrentValuesOnEveryRequest) {
    f_.injected.inc(8);
    f_.injectorErrors = 77;
    const HttpReply reply = fetch(*base_, *server_, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(reply.complete) << reply.raw;
    EXPECT_THAT(bodyOf(reply.raw), HasSubstr("\ntcpcopy_packets_injected_total 50\n"));
    EXPECT_THAT(bodyOf(reply.raw), HasSubstr("\ntcpcopy_inject_errors_total 77\n"));
}

TEST_F(MetricsServerTest, AnswersNotFoundElsewhereAndRefusesOtherMethods) {
    const HttpReply notFound = fetch(*base_, *server_, "GET / HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(notFound.complete) << notFound.raw;
    EXPECT_THAT(notFound.raw, ::testing::MatchesRegex("HTTP/1\\.[01] 404 .*"));
    const HttpReply post = fetch(*base_, *server_, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(post.complete) << post.raw;
    EXPECT_THAT(post.raw, ::testing::MatchesRegex("HTTP/1\\.[01] 405 .*"));
    EXPECT_THAT(post.raw, HasSubstr("\r\nAllow: GET\r\n"));
    // Only GET: HEAD, PUT, ... are refused the same way.
    for (const char* method : {"HEAD", "PUT", "DELETE", "OPTIONS"}) {
        const HttpReply other = fetch(*base_, *server_, std::string(method) + " /metrics HTTP/1.0\r\n\r\n");
        ASSERT_TRUE(other.complete) << method << ": " << other.raw;
        EXPECT_THAT(other.raw, StartsWith("HTTP/1.0 405 ")) << method;
    }
}

TEST_F(MetricsServerTest, AnswersHttp11InKindAndClosesAfterOneRequest) {
    const HttpReply reply = fetch(*base_, *server_, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(reply.complete) << reply.raw;
    EXPECT_THAT(reply.raw, StartsWith("HTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(reply.raw, HasSubstr("\r\nConnection: close\r\n"));
}

// A client cannot make the endpoint hold a large request: a head beyond the limit is answered
// 431 and closed as soon as the limit is passed, and a body is refused (413) unread.
TEST_F(MetricsServerTest, RefusesOversizeHeadsAndBodies) {
    std::string big = "GET /metrics HTTP/1.0\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    const HttpReply huge = fetch(*base_, *server_, big);
    ASSERT_TRUE(huge.complete) << huge.raw.substr(0, 200);
    EXPECT_THAT(huge.raw, StartsWith("HTTP/1.0 431 "));
    const HttpReply body =
        fetch(*base_, *server_, "GET /metrics HTTP/1.0\r\nContent-Length: 100000\r\n\r\nxxxx");
    ASSERT_TRUE(body.complete) << body.raw;
    EXPECT_THAT(body.raw, StartsWith("HTTP/1.0 413 "));
    const HttpReply chunked =
        fetch(*base_, *server_, "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    ASSERT_TRUE(chunked.complete) << chunked.raw;
    EXPECT_THAT(chunked.raw, StartsWith("HTTP/1.1 413 "));
    // Each connection goes once its client has closed its end.
    for (int i = 0; i < 10000 && server_->connections() > 0; ++i) base_->runOnce(false);
    EXPECT_EQ(server_->connections(), 0u);
}

// Idle connections count against the cap; beyond it a connection gets 503 at once and is closed,
// and the endpoint serves again once the idle ones are gone (or time out).
TEST_F(MetricsServerTest, CapsConnectionsAndClosesSlowOnes) {
    auto created =
        MetricsServer::start(*base_, f_.registry, {net::Ipv4Addr::fromOctets(127, 0, 0, 1), net::Port(0)},
                             MetricsServer::Limits{2, 1024, std::chrono::milliseconds(200)});
    ASSERT_TRUE(created) << created.error();
    MetricsServer& capped = *created.value();
    std::vector<int> idle;
    for (int i = 0; i < 2; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(capped.address().port.value());
        sin.sin_addr.s_addr = htonl(capped.address().addr.v4().value());
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
        idle.push_back(fd);
    }
    for (int i = 0; i < 1000 && capped.connections() < 2; ++i) base_->runOnce(false);
    ASSERT_EQ(capped.connections(), 2u);
    const HttpReply busy = fetch(*base_, capped, "GET /metrics HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(busy.complete) << busy.raw;
    EXPECT_THAT(busy.raw, StartsWith("HTTP/1.0 503 "));
    EXPECT_EQ(capped.refused(), 1u);
    // The idle pair never sends a request: closed at the request timeout (the loop's deadline
    // below only bounds a failure).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (capped.connections() > 0 && std::chrono::steady_clock::now() < deadline) base_->runOnce(true);
    EXPECT_EQ(capped.connections(), 0u);
    const HttpReply again = fetch(*base_, capped, "GET /metrics HTTP/1.0\r\n\r\n");
    EXPECT_THAT(again.raw, StartsWith("HTTP/1.0 200 OK\r\n"));
    for (int fd : idle) ::close(fd);
}

TEST_F(MetricsServerTest, RefusesAPortInUseNamingTheAddress) {
    const net::Endpoint taken = server_->address();
    auto second = MetricsServer::start(*base_, f_.registry, taken);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), "metrics " + taken.toString() + ": Address already in use");
}

}  // namespace
}  // namespace tcpcopy::stats
