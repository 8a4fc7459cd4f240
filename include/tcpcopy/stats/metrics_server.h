#pragma once
// MetricsServer: a small HTTP endpoint serving GET /metrics in the Prometheus text format
// (--metrics ADDR:PORT). Other paths answer 404, other methods 405 (Allow: GET). It runs on the
// daemon's event loop; the registry and the EventBase must outlive it.
//
// Nothing a client sends can make it hold much: one request per connection (the answer closes
// it), a request head of at most Limits::maxHeaderBytes (431 beyond), no request body (413), at
// most Limits::maxConnections connections at once (more get 503 and are closed at accept), and
// a connection that has not sent its whole request head within Limits::requestTimeout is closed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/listener.h"
#include "tcpcopy/stats/registry.h"

namespace tcpcopy::stats {

// Parses "ADDR:PORT" or "[IPv6]:PORT" (config/address.h; port 0..65535, 0 picks a free port).
// Returns "" on success, otherwise a reason phrase for config::custom:
// "expects ADDR:PORT or [IPv6]:PORT (e.g. 127.0.0.1:9100, [::1]:9100): '1.2.3.4' has no port ...".
std::string parseListenAddress(std::string_view text, net::Endpoint& out);

class MetricsServer {
  public:
    struct Limits {
        std::size_t maxConnections = 16;
        std::size_t maxHeaderBytes = 8 * 1024;
        os::Duration requestTimeout = std::chrono::seconds(10);
    };

    // Binds and listens. The error names the address: "metrics 127.0.0.1:80: Permission denied".
    static os::Result<std::unique_ptr<MetricsServer>> start(os::EventBase& base, const Registry& registry,
                                                            net::Endpoint listen, Limits limits);
    static os::Result<std::unique_ptr<MetricsServer>> start(os::EventBase& base, const Registry& registry,
                                                            net::Endpoint listen) {
        return start(base, registry, listen, Limits{});
    }

    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // The bound address, with the actual port when 0 was asked for.
    net::Endpoint address() const { return listener_->local(); }
    // Requests answered (any status), for tests and the daemon's own statistics.
    std::uint64_t requests() const { return requests_; }
    // Connections refused at accept because maxConnections were open.
    std::uint64_t refused() const { return refused_; }
    std::size_t connections() const { return clients_.size(); }

  private:
    struct Client;
    MetricsServer(os::EventBase& base, const Registry& registry, Limits limits);
    void accepted(os::UniqueFd fd);
    void onReadable(std::uint64_t id);
    void onWritten(std::uint64_t id);
    void respond(Client& client, int status, std::string_view reason, std::string_view body,
                 std::string_view extraHeaders = {});
    void close(std::uint64_t id);

    os::EventBase& base_;
    const Registry& registry_;
    Limits limits_;
    std::unique_ptr<os::Listener> listener_;
    std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients_;
    std::uint64_t nextId_ = 1;
    std::uint64_t requests_ = 0;
    std::uint64_t refused_ = 0;
    std::optional<os::Event> reaper_;
    std::vector<std::unique_ptr<Client>> closed_;
};

}  // namespace tcpcopy::stats
