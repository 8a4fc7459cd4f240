#pragma once
// The intercept application: live captures on the assistant host feed response headers, looked
// up in the route table, to the tcpcopy peers connected through the tunnel server.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/capture/nfqueue.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/stats/metrics_server.h"
#include "tcpcopy/stats/registry.h"
#include "tcpcopy/tunnel/nat_map.h"
#include "tcpcopy/tunnel/route_table.h"
#include "tcpcopy/tunnel/tunnel_server.h"
#include "tcpcopy/tunnel/verdict_hold.h"

namespace tcpcopy::app {

// The immutable configuration, filled by the option table in intercept/main.cpp; the process
// options (log, pid file, -d, -u, --metrics) are app::DaemonOptions.
struct InterceptConfig {
    std::string devices = "any";
    std::string filter = "tcp and src port 80";
    std::uint16_t port = tunnel::kDefaultPort;
    std::string bind = "0.0.0.0";
    std::uint32_t tableSize = 65536;
    std::string secretFile;
    std::string allow;
    bool insecure = false;               // listen on a non-loopback address with no secret, no --allow
    std::uint32_t maxConnections = 256;  // tunnel connections at once, handshakes included
    std::uint32_t bufferSizeMb = 64;     // libpcap kernel buffer (ring) per device, MiB
    std::uint32_t peerQueueMb = 8;       // responses queued per slow peer before oldest are dropped
    std::uint32_t statsInterval = 60;    // seconds; 0: no periodic stats line
    std::uint32_t routeTtl = 120;        // seconds without traffic before a route is forgotten
    std::uint32_t holdMs = 1000;         // how long a response may wait for its route
    std::uint32_t maxHeld = 8192;        // responses waiting for routes, all flows
    std::uint32_t idleTimeout = 10;      // seconds of silence before a peer is dropped
    std::uint16_t payload = 0;           // --payload: response payload bytes a peer may ask for (0: off)
    std::uint32_t payloadMemoryMb = 64;  // --payload-memory: payload bytes waiting, all peers, MiB
    // On the target itself (--nfqueue N): read the responses an NFQUEUE rule queued instead of
    // capturing with libpcap; drop those of replayed clients, accept the rest (docs/nfqueue.md).
    std::optional<std::uint16_t> nfqueue;
    std::uint32_t queueLength = 1024;  // -q: packets the kernel keeps waiting for our verdict
    std::string passList;              // -x: clients whose responses are always accepted at once
    bool failOpen = false;             // the kernel accepts instead of dropping when the queue is full
    // -D/--nat: responses from a DNAT'ed address[:port] get back the one tcpcopy sent to, in both
    // modes, before their route is looked up (tunnel/nat_map.h).
    tunnel::NatMap nat;
    // --nat-client (the original intercept's -D dockered_ip-orig_ip): responses addressed to a
    // translated client address[:port] get back the client tcpcopy sent from, in both modes.
    tunnel::NatMap clientNat;
};

// The address:port the tunnel listens on (-b, -p), nullopt when -b is not an address
// (config/address.h: IPv4, IPv6, bracketed IPv6).
std::optional<net::Endpoint> tunnelEndpoint(const InterceptConfig& config);

// True when the tunnel would listen on a non-loopback address with neither a secret nor an
// --allow list: open to any host that reaches the port. intercept refuses to start that way
// unless --insecure is given, and --check says so.
bool tunnelOpenToAnyone(const InterceptConfig& config);

struct InterceptCounters {
    std::uint64_t captured = 0;     // frames handed over by libpcap
    std::uint64_t notTcp = 0;       // frames that did not decode to IPv4 or IPv6 TCP (nor to a UDP answer)
    std::uint64_t udpCaptured = 0;  // IPv4/UDP answers captured (forwarded, held or refused as TCP ones)
    std::uint64_t forwarded = 0;    // headers sent to a peer (held ones included once delivered)
    std::uint64_t unrouted = 0;     // headers with no route on arrival (put on hold or refused)
    std::uint64_t passed = 0;       // NFQUEUE: packets accepted (pass list, not TCP, no route in time)
    std::uint64_t rewritten = 0;    // -D/--nat: responses whose source was mapped back to tcpcopy's
};

class InterceptApp {
  public:
    // Opens every capture device and the tunnel listener. The error is one line naming the
    // device, filter, address or file at fault.
    static os::Result<std::unique_ptr<InterceptApp>> create(os::EventBase& base,
                                                            const InterceptConfig& config,
                                                            std::string secret);
    ~InterceptApp();
    InterceptApp(const InterceptApp&) = delete;
    InterceptApp& operator=(const InterceptApp&) = delete;

    // With --metrics (`metrics`), serves the counters on it; "" or the error naming the address.
    std::string startMetrics(const std::optional<net::Endpoint>& metrics);
    // Registers signal handlers and timers; then the caller runs base.dispatch(). Returns an error
    // text when an event cannot be created.
    std::string arm();
    // The "stats: ..." line: the periodic log line, the last words and systemd's STATUS=.
    std::string statsLine() const;

  private:
    // A refused ROUTE_ADD (a flow another tcpcopy owns) is logged at most once per interval.
    static constexpr std::chrono::seconds kConflictLogInterval{10};

    InterceptApp(os::EventBase& base, const InterceptConfig& config);
    // Declares every counter on registry_ (docs/metrics.md); in intercept_metrics.cpp.
    void registerMetrics();
    void onFrame(net::LinkType link, net::Bytes frame);
    // -D/--nat: the headers to forward and `flow` with the source tcpcopy sent to (copied into
    // natScratch_ when rewritten).
    net::Bytes untranslate(net::Bytes headers, net::FlowKey& flow);
    // A captured UDP answer forwarded or held; false when `ipPacket` is not IPv4/UDP with its header
    // (UDP copy is IPv4 only).
    bool forwardUdp(net::Bytes ipPacket);
    void readCapture(std::size_t index);
    // NFQUEUE mode (intercept_queue.cpp).
    std::string openQueue();
    std::string armQueue();
    void readQueue();
    void onQueued(std::uint32_t id, net::Bytes packet);
    void verdict(std::uint32_t id, capture::Verdict verdict);
    void routeArrived(const net::FlowKey& flow);
    void expireHeldVerdicts();
    void acceptAllHeld();
    std::uint64_t queueKernelDrops() const;

    os::EventBase& base_;
    const InterceptConfig& config_;
    std::vector<capture::LiveCapture> captures_;
    std::vector<os::Event> captureEvents_;
    std::unique_ptr<tunnel::TunnelServer> server_;
    std::unique_ptr<capture::NfQueue> queue_;
    std::vector<tunnel::Cidr> pass_;
    tunnel::RouteTable routes_;
    tunnel::VerdictHold verdicts_;
    std::vector<os::Event> timers_;
    InterceptCounters counters_;
    tunnel::NatScratch natScratch_{};
    tunnel::NatScratch clientNatScratch_{};
    log::Throttle conflictLog_{kConflictLogInterval};
    stats::Registry registry_{"intercept"};
    std::unique_ptr<stats::MetricsServer> metricsServer_;
};

}  // namespace tcpcopy::app
