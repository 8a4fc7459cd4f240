#pragma once
// MetricsServer: an HTTP endpoint on libevent's evhttp serving GET /metrics in the Prometheus
// text format (--metrics ADDR:PORT). Other paths answer 404, methods other than GET/HEAD 405.
// It runs on the daemon's event loop; the registry and the EventBase must outlive it.

#include <memory>
#include <string>
#include <string_view>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/stats/registry.h"

struct evhttp;
struct evhttp_request;

namespace tcpcopy::stats {

// Parses "ADDR:PORT" (dotted-quad IPv4, port 0..65535; 0 picks a free port). Returns "" on
// success, otherwise a reason phrase for config::custom: "expects ADDR:PORT, got 'x'".
std::string parseListenAddress(std::string_view text, net::Endpoint& out);

class MetricsServer {
  public:
    // Binds and listens. The error names the address: "metrics 127.0.0.1:80: Permission denied".
    static os::Result<std::unique_ptr<MetricsServer>> start(os::EventBase& base, const Registry& registry,
                                                            net::Endpoint listen);

    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // The bound address, with the actual port when 0 was asked for.
    net::Endpoint address() const { return address_; }
    // Requests answered (any status), for tests and the daemon's own statistics.
    std::uint64_t requests() const { return requests_; }

  private:
    struct Deleter {
        void operator()(evhttp* http) const;
    };
    MetricsServer(const Registry& registry, evhttp* http, net::Endpoint address);
    static void handle(evhttp_request* request, void* self);

    const Registry& registry_;
    std::unique_ptr<evhttp, Deleter> http_;
    net::Endpoint address_;
    std::uint64_t requests_ = 0;
};

}  // namespace tcpcopy::stats
