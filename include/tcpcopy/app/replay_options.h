#pragma once
// tcpcopy's run-time configuration and the parsers for its structured option values.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

// Everything `tcpcopy` needs to run, filled from the option table (see tcpcopy/main.cpp); the
// process options (log, pid file, -d, -u, --metrics) are app::DaemonOptions.
struct ReplayOptions {
    std::vector<net::Endpoint> intercepts;   // -s
    unsigned tunnelConnections = 1;          // -C
    std::string secretFile;                  // --secret-file
    std::string input;                       // -i: a capture file, or device(s) for live capture
    std::string filter;                      // -F
    double accelerate = 1.0;                 // -a
    std::chrono::milliseconds idleSkip{0};   // -I: gaps longer than this are cut to it (0: keep)
    unsigned loops = 1;                      // -T
    bool withoutIntercept = false;           // -L
    std::chrono::seconds interceptWait{10};  // how long to wait for intercept before replaying
    std::string injector = "libnet";         // --injector libnet|raw
    std::string reportFile;                  // --report
    std::chrono::seconds statsInterval{5};   // --stats-interval (0: off)
    int bufferMb = 64;                       // -B: live capture ring/buffer, MiB
    int snaplen = 65535;                     // -S
    std::size_t memoryLimitMb = 0;           // -m (0: no limit)
    std::uint16_t responsePayload = 0;       // --response-payload: bytes per response asked of intercept
    session::EngineConfig engine;
};

// "[onlineIP:]port-targetIP:port[,...]" -> rules. Returns "" or the reason naming the element.
std::string parseRules(std::string_view text, std::vector<session::AddressRule>& out);
// Client address pool: comma-separated elements, each a dotted quad, a CIDR block ("a.b.c.d/n",
// network and broadcast excluded for n < 31) or an "a.b.c.x" pattern (x = 1..254).
std::string parseAddressPool(std::string_view text, std::vector<net::Ipv4Addr>& out);

}  // namespace tcpcopy::app
