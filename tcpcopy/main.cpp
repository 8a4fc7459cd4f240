// tcpcopy: replays captured or live TCP client traffic against a target server.
// This file is wiring only: the option table, then the start-up both daemons share
// (app/daemon.h) around app::runReplay().

#include <algorithm>
#include <cstdio>
#include <string>

#include "tcpcopy/app/capture_source.h"
#include "tcpcopy/app/checks.h"
#include "tcpcopy/app/compare_options.h"
#include "tcpcopy/app/daemon.h"
#include "tcpcopy/app/replay_app.h"
#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/config/address.h"
#include "tcpcopy/config/options.h"
#include "tcpcopy/net/builder.h"
#include "tcpcopy/os/privileges.h"
#include "tcpcopy/os/process.h"
#include "tcpcopy/tunnel/tunnel_client.h"

namespace {

using tcpcopy::app::ReplayOptions;
namespace config = tcpcopy::config;
constexpr std::string_view kProgram = "tcpcopy";
// -g alone: the original ramped up over about 100 s.
constexpr unsigned kBareRampS = 100;

struct Settings {
    ReplayOptions replay;
    std::string interceptList;
    unsigned interceptPort = 36524;
    unsigned sessionTimeoutS = 600;  // -t: the original's default
    unsigned keepaliveTimeoutS = 3600;
    unsigned rttMs = 200;
    unsigned idleSkipMs = 0;
    unsigned interceptWaitS = 10;
    unsigned udpWaitS = 2;
    unsigned statsIntervalS = 5;
    unsigned mss = 1460;
    unsigned mtu = 1500;
    unsigned copies = 1;
    unsigned portShift = 0;
    unsigned sample = 100;
    unsigned rampS = 0;
    unsigned loops = 1;
    unsigned connections = 2;  // -C: the original's default
    unsigned responsePayload = 0;
    unsigned memoryMb = 0;
    unsigned maxSessions = 1'000'000;
    unsigned maxActive = 0;
    unsigned maxSessionBufferMb = 64;
    unsigned synRetries = 4;
    bool noWait = false;
    bool onlyComplete = false;
    bool withoutIntercept = false;
    tcpcopy::app::CompareSettings compare;
    tcpcopy::app::DaemonOptions process;
};

void declare(config::OptionTable& t, Settings& s) {
    ReplayOptions& r = s.replay;
    t.custom(
         'x', "transfer", "RULES", "",
         [&r](std::string_view text) {
             std::string rules;
             if (std::string error = tcpcopy::app::splitLinkMacs(text, rules, r.linkMacs); !error.empty()) {
                 return error;
             }
             return tcpcopy::app::parseRules(rules, r.engine.rules, r.udpRules);
         },
         "Where to send what: [tcp:|udp:][onlineIP:]onlinePort-targetIP:targetPort[,...], an IPv6 address "
         "with its port in brackets: [2001:db8::1]:80-[fd00::2]:80 (udp: copies IPv4 datagrams, no "
         "intercept needed for them); with -o, MACs may follow each side: port@SRC_MAC-targetIP:port@DST_MAC")
        .group("Replay")
        .required();
    t.string('s', "intercept", s.interceptList,
             "intercept address(es): ip[:port][,...]; IPv6 as 2001:db8::5 or [2001:db8::5]:36524")
        .group("Replay")
        .valueName("ADDRS");
    t.integer('p', "intercept-port", s.interceptPort, 1u, 65535u, "Default intercept port").group("Replay");
    t.integer('C', "connections", s.connections, 1u, 64u, "Parallel tunnel connections to each intercept")
        .group("Replay");
    t.integer(
         '\0', "response-payload", s.responsePayload, 0u, 65535u,
         "Ask intercept for up to this many bytes of each response's payload (it sends them when started "
         "with --payload; for the regression diff); 0: headers only (default 4096 with --compare-report or "
         "--compare-html)")
        .group("Replay")
        .valueName("BYTES");
    t.custom(
         '\0', "protocol", "[PORT=]NAME[,...]", "",
         [&r](std::string_view text) { return tcpcopy::app::parseProtocolChoice(text, r.protocols); },
         "Replay the rules' sessions through a protocol hook: 'mysql' rewrites MySQL/MariaDB logins for the "
         "target's scramble and maps prepared statement ids (needs --mysql-credentials); PORT= limits it to "
         "the rules of that online port. Implies --response-payload 65535 unless given")
        .group("Replay");
    t.string('\0', "mysql-credentials", r.mysqlCredentials,
             "File of 'user password' lines (mode 0600) the mysql hook logs in with")
        .group("Replay")
        .valueName("FILE");
    t.custom(
         '\0', "mysql-midstream-login", "USER[/SCHEMA]", "",
         [&r](std::string_view text) {
             return tcpcopy::app::parseMidstreamLoginOption(text, r.mysqlMidstreamLogin);
         },
         "MySQL sessions captured mid-stream (without their login) log in afresh as USER, a user of "
         "--mysql-credentials, on SCHEMA, unless an earlier login from the same client address in the replay "
         "says who; without either they are refused as mid_stream")
        .group("Replay");
    t.string('i', "input", r.input,
             "A pcap/pcapng file to replay, or a device (list) to capture live with libpcap; empty: every "
             "interface, through a packet ring")
        .group("Input")
        .valueName("FILE|DEV");
    t.string('F', "filter", r.filter, "BPF filter applied to the input").group("Input");
    t.number('a', "accelerate", r.accelerate, 0.001, 1000000.0,
             "Replay a capture file this many times faster")
        .group("Input");
    t.integer('I', "idle-skip", s.idleSkipMs, 0u, 86400000u,
              "Cut idle gaps in a capture longer than this many milliseconds down to it (0: keep)")
        .group("Input");
    t.integer('T', "loops", s.loops, 1u, 1000000u, "Replay the capture file this many times").group("Input");
    // libpcap takes the size as an int: 2047 MiB is the most that fits (the packet ring too).
    t.integer('B', "buffer-size", r.bufferMb, 1, 2047,
              "Live capture buffer in MiB: the packet ring (no -i), or libpcap's kernel buffer (-i DEV)")
        .group("Input");
    t.integer('S', "snaplen", r.snaplen, 64, 262144, "Live capture snapshot length").group("Input");
    t.custom(
         'c', "client-ips", "POOL", "",
         [&r](std::string_view text) { return tcpcopy::app::parseAddressPool(text, r.engine.clientPool); },
         "Replay with these client addresses: a.b.c.d, a.b.c.d/n (n >= 16), a.b.c.x, 2001:db8::1, "
         "2001:db8::/n (n >= 112), comma-separated; each session takes one of its target's family")
        .group("Sessions");
    t.custom(
         'H', "loopback-rewrite", "IP", "",
         [&r](std::string_view text) -> std::string {
             tcpcopy::net::IpAddr addr;
             if (std::string reason = tcpcopy::config::parseAddress(text, addr); !reason.empty())
                 return reason;
             r.engine.loopbackRewrite = addr;
             return {};
         },
         "Client address replacing captured loopback sources of its family (127.x.x.x for an IPv4 one, ::1 "
         "for IPv6)")
        .group("Sessions");
    t.integer('n', "copies", s.copies, 1u, 1023u, "Replay each session this many times, on distinct ports")
        .group("Sessions");
    t.integer('f', "port-shift", s.portShift, 0u, 1023u,
              "Port-shift factor separating several tcpcopy instances replaying the same traffic")
        .group("Sessions");
    t.integer('g', "ramp", s.rampS, 0u, 86400u,
              "Ramp up over N s: the share of new sessions replayed grows from 0 to 100% (0: off; -g "
              "alone: 100 s, as the original's -g)")
        .implicitValue(std::to_string(kBareRampS))
        .group("Sessions");
    t.integer('r', "sample", s.sample, 1u, 100u,
              "Replay this percentage of sessions (consistent per connection)")
        .group("Sessions");
    t.flag('W', "no-wait", s.noWait, "Send each request without waiting for the previous response")
        .group("Sessions");
    t.flag('O', "only-complete", s.onlyComplete, "Replay only sessions whose handshake was captured")
        .group("Sessions");
    t.integer('M', "mtu", s.mtu, 576u, 65535u, "MTU toward the target (bounds segment size)")
        .group("Sessions");
    t.integer('D', "mss", s.mss, 88u, 65495u, "MSS toward the target").group("Sessions");
    t.integer('t', "session-timeout", s.sessionTimeoutS, 1u, 86400u,
              "Reset a session without progress after N s")
        .group("Sessions");
    t.integer('k', "keepalive-timeout", s.keepaliveTimeoutS, 1u, 86400u,
              "Reset an idle established session after N s")
        .group("Sessions");
    t.integer(
         'R', "rtt", s.rttMs, 1u, 60000u,
         "Retransmission timeout in milliseconds until the path's round trip is measured, then its floor")
        .group("Sessions");
    t.integer('m', "memory-limit", s.memoryMb, 0u, 1048576u,
              "Shed new sessions beyond about this many MiB (0: none)")
        .group("Sessions");
    t.integer('\0', "max-sessions", s.maxSessions, 1u, 100'000'000u,
              "Replay at most this many sessions at once; new ones beyond are shed and counted")
        .group("Sessions");
    t.integer('\0', "max-active", s.maxActive, 0u, 10'000'000u,
              "Keep at most this many sessions open; later connections wait for a free slot, none is lost "
              "(0: no limit)")
        .group("Sessions");
    t.integer(
         '\0', "max-session-buffer", s.maxSessionBufferMb, 0u, 65536u,
         "Reset (and count) a session holding more than this many MiB the target has not taken (0: no limit)")
        .group("Sessions");
    t.integer('\0', "syn-retries", s.synRetries, 0u, 16u,
              "SYN retransmissions before a session without SYN-ACK is given up")
        .group("Sessions");
    t.flag('L', "without-intercept", s.withoutIntercept, "Keep replaying when no intercept is reachable")
        .group("Replay");
    t.integer('\0', "intercept-wait", s.interceptWaitS, 0u, 3600u,
              "Seconds to wait for intercept before replaying")
        .group("Replay");
    t.integer(
         '\0', "udp-wait", s.udpWaitS, 0u, 3600u,
         "With -x udp: rules and intercept: seconds to wait, after a capture file ends, for the target's "
         "answers to the UDP flows not yet answered (they are counted, not needed)")
        .group("Replay");
    t.string('\0', "secret-file", r.secretFile, "File holding the tunnel's shared secret").group("Replay");
    t.string(
         'o', "output-device", r.linkDevice,
         "Send whole Ethernet frames out of this device instead of IP packets through the kernel's routing "
         "(MACs from -x, else DEV's own and the next hop's, from the neighbour table, "
         "else ARP or IPv6 neighbour solicitation)")
        .valueName("DEV")
        .group("Replay");
    t.custom(
         '\0', "injector", "KIND", "libnet",
         [&r](std::string_view text) -> std::string {
             if (text != "libnet" && text != "raw") return "must be 'libnet' or 'raw'";
             r.injector = std::string(text);
             return {};
         },
         "How packets are injected: libnet or raw (raw IP socket)")
        .group("Replay");
    t.string('\0', "report", r.reportFile, "Write the final summary as JSON to this file").group("Output");
    t.integer('\0', "stats-interval", s.statsIntervalS, 0u, 86400u,
              "Seconds between statistics lines (0: none)")
        .group("Output");
    tcpcopy::app::declareCompareOptions(t, s.compare);
}

// Moves the option values into the replay configuration; returns an error line or "".
std::string finalize(Settings& s, const config::OptionTable& t) {
    ReplayOptions& r = s.replay;
    if (!s.interceptList.empty()) {
        auto list =
            tcpcopy::tunnel::parseEndpointList(s.interceptList, static_cast<std::uint16_t>(s.interceptPort));
        if (!list) return "-s/--intercept: " + list.error();
        r.intercepts = std::move(list).value();
    }
    if (!s.process.user.empty()) {
        if (auto user = tcpcopy::os::lookupUser(s.process.user); !user) return "-u/--user: " + user.error();
    }
    // UDP copy (-x udp:) follows no response: only TCP rules need an intercept.
    if (r.intercepts.empty() && !s.withoutIntercept && !r.engine.rules.empty())
        return "-s/--intercept is required (or -L to replay without intercept)";
    if (std::string error = tcpcopy::app::checkRuleFamilies(r.engine); !error.empty()) return error;
    // An IPv6 target's packets carry a 40-byte IP header.
    const bool anyV6 = std::any_of(r.engine.rules.begin(), r.engine.rules.end(),
                                   [](const auto& rule) { return rule.target.addr.isV6(); });
    if (const std::size_t headers = (anyV6 ? tcpcopy::net::kIpv6HeaderLen : tcpcopy::net::kIpv4HeaderLen) +
                                    tcpcopy::net::kTcpHeaderLen;
        s.mss + headers > s.mtu && t.isSet("mss")) {
        return "-D/--mss " + std::to_string(s.mss) + " must fit in -M/--mtu (" + std::to_string(s.mtu) +
               ") minus " + std::to_string(headers) + (anyV6 ? " (IPv6 and TCP headers)" : "");
    }
    if (std::string error = tcpcopy::app::finalizeCompareOptions(
            s.compare, t, s.responsePayload, !r.intercepts.empty(), !r.engine.rules.empty(),
            tcpcopy::app::isCaptureFile(r.input));
        !error.empty())
        return error;
    r.compare = std::move(s.compare.config);
    // A hook rewrites the client's bytes: the requests the diff frames from the capture are no
    // longer what the target received.
    if (r.compare.enabled() && !r.protocols.empty())
        return "--compare-report/--compare-html cannot follow sessions --protocol rewrites; compare without "
               "--protocol";
    auto& e = r.engine;
    e.copies = s.copies;
    e.portShiftFactor = s.portShift;
    e.samplePercent = s.sample;
    e.rampDuration = std::chrono::seconds(s.rampS);
    e.waitForResponse = !s.noWait;
    e.onlyCompleteSessions = s.onlyComplete;
    e.mss = static_cast<std::uint16_t>(s.mss);
    e.mtu = static_cast<std::uint16_t>(s.mtu);
    e.sessionTimeout = std::chrono::seconds(s.sessionTimeoutS);
    e.keepaliveTimeout = std::chrono::seconds(s.keepaliveTimeoutS);
    e.initialRto = std::chrono::milliseconds(s.rttMs);
    e.maxSessions = s.maxSessions;
    e.maxActiveSessions = s.maxActive;
    e.maxSessionBytes = std::size_t{s.maxSessionBufferMb} << 20;
    e.maxSynRetries = s.synRetries;
    r.idleSkip = std::chrono::milliseconds(s.idleSkipMs);
    r.loops = s.loops;
    r.tunnelConnections = s.connections;
    r.responsePayload = static_cast<std::uint16_t>(s.responsePayload);
    // A hook reads the target's answers: whole segments, unless the user chose a size.
    if (!r.protocols.empty() && !t.isSet("response-payload")) r.responsePayload = 65535;
    if (r.protocols.empty() && !r.mysqlCredentials.empty())
        return "--mysql-credentials is read only with --protocol mysql";
    if (r.protocols.empty() && !r.mysqlMidstreamLogin.empty())
        return "--mysql-midstream-login is read only with --protocol mysql";
    r.memoryLimitMb = s.memoryMb;
    r.withoutIntercept = s.withoutIntercept;
    r.interceptWait = std::chrono::seconds(s.interceptWaitS);
    r.udpResponseWait = std::chrono::seconds(s.udpWaitS);
    r.statsInterval = std::chrono::seconds(s.statsIntervalS);
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    namespace app = tcpcopy::app;
    // umask and SIGPIPE: the start-up both daemons share.
    tcpcopy::os::initDaemonProcess();
    Settings settings;
    config::OptionTable table(
        std::string(kProgram),
        "Replays TCP client traffic, from a capture file or live, against a target server.\n"
        "Responses come back through intercept on the assistant host.");
    declare(table, settings);
    app::declareDaemonOptions(
        table, kProgram, settings.process,
        "Once the injector, the capture and the tunnel are open, run as this user with no capabilities left",
        "Check the setup (privileges, input, filter, intercept reachable, route to the target), print one "
        "line per problem and exit");
    const config::ParseResult parsed = table.parse(argc, argv);
    if (parsed.outcome != config::Outcome::Run) {
        parsed.print();
        return parsed.exitCode();
    }
    if (std::string err = finalize(settings, table); !err.empty()) return app::startError(kProgram, err);
    if (settings.process.check) return app::runReplayChecks(settings.replay);
    auto daemon = app::Daemon::start(std::string(kProgram), settings.process);
    if (!daemon) return app::startError(kProgram, daemon.error());
    return app::runReplay(settings.replay, daemon.value());
}
