#include "tcpcopy/stats/metrics_server.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "tcpcopy/config/address.h"

namespace tcpcopy::stats {
namespace {

constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

struct Request {
    std::string_view method;
    std::string_view path;   // without the query
    std::string_view minor;  // "0" or "1" (HTTP/1.x)
    bool hasBody = false;    // a non-zero Content-Length or any Transfer-Encoding
};

// Parses a complete request head (request line and header lines, without the blank line).
bool parseHead(std::string_view head, Request& out) {
    const std::size_t lineEnd = head.find('\n');
    std::string_view line = trim(head.substr(0, lineEnd));
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return false;
    out.method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (version != "HTTP/1.0" && version != "HTTP/1.1") return false;
    out.minor = version.substr(7);
    out.path = target.substr(0, target.find('?'));
    std::string_view rest = lineEnd == std::string_view::npos ? std::string_view() : head.substr(lineEnd + 1);
    while (!rest.empty()) {
        const std::size_t end = rest.find('\n');
        const std::string_view header = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        const std::size_t colon = header.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = trim(header.substr(0, colon));
        const std::string_view value = trim(header.substr(colon + 1));
        if (equalsIgnoringCase(name, "Transfer-Encoding")) out.hasBody = true;
        if (equalsIgnoringCase(name, "Content-Length") && value != "0") out.hasBody = true;
    }
    return true;
}

}  // namespace

std::string parseListenAddress(std::string_view text, net::Endpoint& out) {
    config::HostPort parsed;
    if (std::string reason = config::parseHostPort(text, config::PortUse::Required, parsed, 0);
        !reason.empty()) {
        return "expects ADDR:PORT or [IPv6]:PORT (e.g. 127.0.0.1:9100, [::1]:9100): " + reason;
    }
    out = net::Endpoint{parsed.addr, *parsed.port};
    return {};
}

struct MetricsServer::Client {
    std::uint64_t id = 0;
    os::BufferEvent bev;
    std::optional<os::Event> deadline;
    std::string head;
    bool http11 = false;
    bool answered = false;
};

MetricsServer::MetricsServer(os::EventBase& base, const Registry& registry, Limits limits)
    : base_(base), registry_(registry), limits_(limits) {}

MetricsServer::~MetricsServer() = default;

os::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(os::EventBase& base, const Registry& registry,
                                                                net::Endpoint listen, Limits limits) {
    using R = os::Result<std::unique_ptr<MetricsServer>>;
    std::unique_ptr<MetricsServer> server(new MetricsServer(base, registry, limits));
    MetricsServer* raw = server.get();
    auto listener = os::Listener::listen(
        base, listen, [raw](os::UniqueFd fd, const net::Endpoint&) { raw->accepted(std::move(fd)); },
        [](const std::string&) {});  // out of descriptors: accepting pauses; the scraper retries
    if (!listener) return R::fail("metrics " + listen.toString() + ": " + listener.error());
    server->listener_ = std::move(listener).value();
    auto reaper = os::Event::timer(base, [raw](short) { raw->closed_.clear(); });
    if (!reaper) return R::fail("metrics " + listen.toString() + ": " + reaper.error());
    server->reaper_ = std::move(reaper).value();
    return R::ok(std::move(server));
}

void MetricsServer::accepted(os::UniqueFd fd) {
    if (clients_.size() >= limits_.maxConnections) {
        ++refused_;
        static constexpr std::string_view kBusy =
            "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        [[maybe_unused]] auto n = ::send(fd.get(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        return;  // closed here
    }
    auto bev = os::BufferEvent::adopt(base_, fd.release());
    if (!bev) return;
    const std::uint64_t id = nextId_++;
    auto client =
        std::make_unique<Client>(Client{id, std::move(bev).value(), std::nullopt, {}, false, false});
    client->bev.setCallbacks(
        [this, id] { onReadable(id); }, [this, id] { onWritten(id); },
        [this, id](short what) {
            auto it = clients_.find(id);
            if (it == clients_.end()) return;
            // A client that half-closed after its request still gets the answer.
            if ((what & BEV_EVENT_EOF) != 0 && it->second->answered && it->second->bev.outputLength() > 0) {
                bufferevent_disable(it->second->bev.get(), EV_READ);
                return;
            }
            close(id);
        });
    client->bev.setWriteWatermark(0);
    client->bev.enable(EV_READ | EV_WRITE);
    if (auto timer = os::Event::timer(base_, [this, id](short) { close(id); })) {
        client->deadline = std::move(timer).value();
        client->deadline->add(limits_.requestTimeout);
    }
    clients_.emplace(id, std::move(client));
}

void MetricsServer::onReadable(std::uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    Client& client = *it->second;
    std::vector<std::byte> chunk;
    client.bev.read(chunk, limits_.maxHeaderBytes + 4);
    if (client.answered) return;  // whatever follows the request is not read
    client.head.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    std::size_t end = client.head.find("\r\n\r\n");
    if (end == std::string::npos) end = client.head.find("\n\n");
    if (end == std::string::npos) {
        if (client.head.size() > limits_.maxHeaderBytes) {
            respond(client, 431, "Request Header Fields Too Large", "request head too large\n");
        }
        return;
    }
    if (end > limits_.maxHeaderBytes) {
        respond(client, 431, "Request Header Fields Too Large", "request head too large\n");
        return;
    }
    Request request;
    const bool parsed = parseHead(std::string_view(client.head).substr(0, end), request);
    client.http11 = parsed && request.minor == "1";
    if (!parsed) {
        respond(client, 400, "Bad Request", "bad request\n");
    } else if (request.method != "GET") {
        respond(client, 405, "Method Not Allowed", "only GET is served\n", "Allow: GET\r\n");
    } else if (request.hasBody) {
        respond(client, 413, "Payload Too Large", "a GET carries no body\n");
    } else if (request.path != "/metrics") {
        respond(client, 404, "Not Found", "Not Found (try /metrics)\n");
    } else {
        respond(client, 200, "OK", renderPrometheus(registry_),
                fmt::format("Content-Type: {}\r\n", kContentType));
    }
}

void MetricsServer::respond(Client& client, int status, std::string_view reason, std::string_view body,
                            std::string_view extraHeaders) {
    ++requests_;
    client.answered = true;
    if (client.deadline) client.deadline->del();
    std::string head = fmt::format("HTTP/1.{} {} {}\r\n", client.http11 ? 1 : 0, status, reason);
    head += extraHeaders;
    if (extraHeaders.find("Content-Type") == std::string_view::npos)
        head += "Content-Type: text/plain; charset=utf-8\r\n";
    head += fmt::format("Content-Length: {}\r\nConnection: close\r\n\r\n", body.size());
    client.bev.write(std::as_bytes(std::span(head.data(), head.size())));
    client.bev.write(std::as_bytes(std::span(body.data(), body.size())));
    client.head.clear();
    client.head.shrink_to_fit();
}

// The answer is out: half-close, so the client reads it to the end, and close once the client
// closes too (or at the timeout). Closing at once with request bytes still unread (an oversize
// head) would reset the connection and could discard the answer on the client's side.
void MetricsServer::onWritten(std::uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end() || !it->second->answered || it->second->bev.outputLength() > 0) return;
    ::shutdown(it->second->bev.fd(), SHUT_WR);
    if (it->second->deadline) it->second->deadline->add(limits_.requestTimeout);
}

void MetricsServer::close(std::uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    // Destroyed on the next loop turn: this may run inside the client's own callback.
    bufferevent_disable(it->second->bev.get(), EV_READ | EV_WRITE);
    if (it->second->deadline) it->second->deadline->del();
    closed_.push_back(std::move(it->second));
    clients_.erase(it);
    if (reaper_) reaper_->add(os::Duration(0));
}

}  // namespace tcpcopy::stats
