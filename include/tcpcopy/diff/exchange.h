#pragma once
// Exchange: one request of a replayed session with the response the online server gave it in the
// capture and the response the target gave the replayed copy, with their timing. The
// ResponseCollector makes them; the Comparator judges them; the DiffReport counts them.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tcpcopy/diff/message.h"

namespace tcpcopy::diff {

// Why an exchange cannot be compared. Each is counted in the report.
enum class Skip : std::uint8_t {
    None,
    NoOnlineResponse,    // the capture holds no answer (it ended first, or the server closed)
    OnlineFramingLost,   // the captured server stream could not be framed up to this answer
    TargetFramingLost,   // the target's stream could not be framed up to this answer
    RequestFramingLost,  // the captured client stream stopped being framed inside this request
    Midstream,           // the connection was captured without its handshake
    PairingEnded,        // after SUBSCRIBE/MONITOR/CLIENT REPLY OFF replies are not 1:1 with commands
    PendingLimit,        // more requests waited for answers than CollectorConfig::maxPending
    NotReplayed,         // the replay never sent this request (the session ended before it)
    Count,
};
std::string_view skipName(Skip skip);  // "no_online_response", ...
inline constexpr std::size_t kSkipCount = static_cast<std::size_t>(Skip::Count);

struct Exchange {
    Protocol protocol = Protocol::Generic;  // as framed (never Auto)
    std::uint64_t session = 0;              // CollectorConfig::session
    std::uint64_t index = 0;                // of the request in its connection
    Message request;                        // framed from the captured client stream
    std::optional<Message> online;          // the online server's answer, from the capture
    std::optional<Message> target;          // the target's answer; nullopt: none came
    Skip skip = Skip::None;
    // Time from the request's last byte to the answer's first byte, in the capture's clock for
    // the online side and in the replay's for the target (the replayed request's last byte sent
    // to the target's first byte received). Unset when either end is unknown.
    std::optional<Time> onlineLatency;
    std::optional<Time> targetLatency;
};

// Where a collector's results go.
class ExchangeSink {
  public:
    virtual ~ExchangeSink() = default;
    virtual void onExchange(Exchange&& exchange) = 0;
    // A session's collector finished. `midstream`: captured without its handshake (its requests
    // are not compared); `unsolicited`: answers no request could claim (a server speaking first
    // in HTTP or RESP, a 408 on an idle connection); `framingLost`: why each stream stopped
    // being framed ("" if it did not).
    struct SessionEnd {
        Protocol protocol = Protocol::Generic;
        bool midstream = false;
        std::uint64_t unsolicited = 0;
        std::string_view requestFramingLost;
        std::string_view onlineFramingLost;
        std::string_view targetFramingLost;
    };
    virtual void onSessionEnd(const SessionEnd& /*end*/) {}
};

}  // namespace tcpcopy::diff
