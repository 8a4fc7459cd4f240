#include "tcpcopy/stats/metrics_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace tcpcopy::stats {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Frees an evbuffer on scope exit.
struct BufferOwner {
    evbuffer* buffer = evbuffer_new();
    ~BufferOwner() {
        if (buffer != nullptr) {
            evbuffer_free(buffer);
        }
    }
};

}  // namespace

std::string parseListenAddress(std::string_view text, net::Endpoint& out) {
    const auto bad = [text] {
        return fmt::format("expects ADDR:PORT (e.g. 127.0.0.1:9100), got '{}'", text);
    };
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return bad();
    }
    const auto addr = net::Ipv4Addr::parse(text.substr(0, colon));
    const std::string_view portText = text.substr(colon + 1);
    std::uint16_t port = 0;
    const char* end = portText.data() + portText.size();
    const auto r = std::from_chars(portText.data(), end, port);
    if (!addr || portText.empty() || r.ec != std::errc() || r.ptr != end) {
        return bad();
    }
    out = net::Endpoint{*addr, net::Port(port)};
    return {};
}

void MetricsServer::Deleter::operator()(evhttp* http) const { evhttp_free(http); }

MetricsServer::MetricsServer(const Registry& registry, evhttp* http, net::Endpoint address)
    : registry_(registry), http_(http), address_(address) {}

MetricsServer::~MetricsServer() = default;

os::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(os::EventBase& base, const Registry& registry,
                                                                net::Endpoint listen) {
    using R = os::Result<std::unique_ptr<MetricsServer>>;
    const std::string where = "metrics " + listen.toString();
    evhttp* raw = evhttp_new(base.get());
    if (raw == nullptr) {
        return R::fail(where + ": evhttp_new failed");
    }
    std::unique_ptr<evhttp, Deleter> http(raw);
    // Every method reaches the handler, which answers 405 with an Allow header (evhttp's own
    // method filter would answer 501).
    evhttp_set_allowed_methods(raw, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    errno = 0;
    evhttp_bound_socket* bound =
        evhttp_bind_socket_with_handle(raw, listen.addr.toString().c_str(), listen.port.value());
    if (bound == nullptr) {
        return R::fail(where + ": " + (errno != 0 ? std::strerror(errno) : "cannot listen"));
    }
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    if (::getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
        return R::fail(where + ": getsockname: " + std::strerror(errno));
    }
    const net::Endpoint actual{net::Ipv4Addr(ntohl(sin.sin_addr.s_addr)), net::Port(ntohs(sin.sin_port))};
    auto server = std::unique_ptr<MetricsServer>(new MetricsServer(registry, http.release(), actual));
    evhttp_set_gencb(server->http_.get(), &MetricsServer::handle, server.get());
    return R::ok(std::move(server));
}

void MetricsServer::handle(evhttp_request* request, void* self) {
    auto* server = static_cast<MetricsServer*>(self);
    ++server->requests_;
    const evhttp_cmd_type method = evhttp_request_get_command(request);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        // Not evhttp_send_error: it drops the headers set here, and 405 must carry Allow.
        BufferOwner body;
        evkeyvalq* headers = evhttp_request_get_output_headers(request);
        evhttp_add_header(headers, "Allow", "GET, HEAD");
        evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
        evhttp_add_header(headers, "Connection", "close");
        if (body.buffer != nullptr) {
            evbuffer_add_printf(body.buffer, "only GET and HEAD are served\n");
        }
        evhttp_send_reply(request, 405, "Method Not Allowed", body.buffer);
        return;
    }
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
    const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    if (path == nullptr || std::strcmp(path, "/metrics") != 0) {
        evhttp_send_error(request, HTTP_NOTFOUND, "Not Found (try /metrics)");
        return;
    }
    BufferOwner body;
    if (body.buffer == nullptr) {
        evhttp_send_error(request, HTTP_INTERNAL, nullptr);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", kContentType);
    // evhttp would send a body even to HEAD: leave it empty there.
    if (method != EVHTTP_REQ_HEAD) {
        const std::string text = renderPrometheus(server->registry_);
        evbuffer_add(body.buffer, text.data(), text.size());
    }
    evhttp_send_reply(request, HTTP_OK, "OK", body.buffer);
}

}  // namespace tcpcopy::stats
