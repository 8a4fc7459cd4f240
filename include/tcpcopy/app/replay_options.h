#pragma once
// tcpcopy's run-time configuration and the parsers for its structured option values.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/app/compare_wiring.h"
#include "tcpcopy/app/protocol_hooks.h"
#include "tcpcopy/net/types.h"
#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

// The MAC addresses a -x rule may carry for -o, as the original's link-layer build wrote them:
// "[onlineIP:]port@SRC_MAC-targetIP:port@DST_MAC" (an IPv6 address in brackets: "[IP]:port@MAC").
struct LinkRuleMacs {
    net::IpAddr target;
    std::optional<std::array<std::uint8_t, 6>> source;   // the frame's source (DEV's own if absent)
    std::optional<std::array<std::uint8_t, 6>> nextHop;  // the frame's destination (resolved if absent)
};
// Everything `tcpcopy` needs to run, filled from the option table (see tcpcopy/main.cpp); the
// process options (log, pid file, -d, -u, --metrics) are app::DaemonOptions.
struct ReplayOptions {
    std::vector<net::Endpoint> intercepts;       // -s
    unsigned tunnelConnections = 1;              // -C
    std::string secretFile;                      // --secret-file
    std::string input;                           // -i: a capture file, or device(s) for live capture
    std::string filter;                          // -F
    double accelerate = 1.0;                     // -a
    std::chrono::milliseconds idleSkip{0};       // -I: gaps longer than this are cut to it (0: keep)
    unsigned loops = 1;                          // -T
    bool withoutIntercept = false;               // -L
    std::chrono::seconds interceptWait{10};      // how long to wait for intercept before replaying
    std::chrono::seconds udpResponseWait{2};     // --udp-wait: for UDP answers after the file ends
    std::string injector = "libnet";             // --injector libnet|raw
    std::string linkDevice;                      // -o DEV: whole frames out of DEV (link_output.h)
    std::vector<LinkRuleMacs> linkMacs;          // MACs the -x rules named (original's -o form)
    std::string reportFile;                      // --report
    std::chrono::seconds statsInterval{5};       // --stats-interval (0: off)
    int bufferMb = 64;                           // -B: live capture ring/buffer, MiB
    int snaplen = 65535;                         // -S
    std::size_t memoryLimitMb = 0;               // -m (0: no limit)
    std::uint16_t responsePayload = 0;           // --response-payload: bytes per response asked of intercept
    std::vector<ProtocolChoice> protocols;       // --protocol: hooks of the TCP rules (protocol_hooks.h)
    std::string mysqlCredentials;                // --mysql-credentials FILE
    std::string mysqlMidstreamLogin;             // --mysql-midstream-login USER[/SCHEMA]
    session::EngineConfig engine;                // its rules: the TCP ones
    std::vector<session::AddressRule> udpRules;  // -x udp:...: copied by app::UdpCopier
    CompareConfig compare;                       // --compare-*: the regression diff (off by default)
};

// A port number 1-65535, the whole of `text`; false (and `out` untouched) otherwise.
bool parsePort(std::string_view text, net::Port& out);

// Takes the "@MAC" parts out of -x rules: the rules without them go to `rules`, the MACs to `macs`
// (one entry per rule that named any). Returns "" or the reason naming the rule.
std::string splitLinkMacs(std::string_view text, std::string& rules, std::vector<LinkRuleMacs>& macs);

// "[tcp:|udp:][onlineIP:]port-targetIP:port[,...]" -> TCP rules (no prefix, or "tcp:") and UDP
// rules ("udp:"); an IPv6 address with its port in brackets on either side
// ("[2001:db8::1]:80-[fd00:198:18::2]:80", config/address.h). The same online side may appear
// once per protocol; udp: rules are IPv4 only. Returns "" (and appends to both lists) or the
// reason naming the element (and appends nothing).
std::string parseRules(std::string_view text, std::vector<session::AddressRule>& tcp,
                       std::vector<session::AddressRule>& udp);
// Client address pool: comma-separated elements, each an address of either family, a prefix
// expanded to its hosts ("a.b.c.d/n" from /16, network and broadcast excluded for n < 31;
// "2001:db8::/n" from /112, the subnet-router anycast address excluded for n < 127: at most
// 65,535 addresses each) or an "a.b.c.x" pattern (x = 1..254). Families may mix: the engine
// gives each session an address of its target's family.
std::string parseAddressPool(std::string_view text, std::vector<net::IpAddr>& out);
// A rule whose online address and target differ in family replays nothing unless -c holds
// addresses of the target's family: "" or the error line naming -x and the rule.
std::string checkRuleFamilies(const session::EngineConfig& engine);

}  // namespace tcpcopy::app
