#include "tcpcopy/app/replay_exit.h"

#include <fmt/format.h>

#include "tcpcopy/app/daemon.h"

namespace tcpcopy::app {

namespace {

// What the UDP rules say once the TCP ones (if any) are content.
ExitStatus udpExitStatus(const ReplayEnd& end) {
    if (!end.udpRules) return {kExitOk, ""};
    if (end.udpSendErrors > 0) {
        return {kExitFailure, fmt::format("{} UDP packets could not be sent to the target ({} were)",
                                          end.udpSendErrors, end.udpSent)};
    }
    if (end.udpSent == 0) {
        return {kExitFailure, "nothing replayed: no UDP datagram in " + end.input + " matched -x udp:"};
    }
    return {kExitOk, ""};
}

}  // namespace

ExitStatus replayExitStatus(const ReplayEnd& end) {
    const session::EngineStats& s = end.stats;
    if (!end.inputError.empty()) return {kExitFailure, ""};
    if (end.interrupted) {
        return {s.sessionsEstablished > 0 || end.udpSent > 0 ? kExitOk : kExitFailure, ""};
    }
    if (!end.tcpRules) return udpExitStatus(end);
    if (s.sessionsStarted == 0) {
        std::uint64_t refused = 0;
        for (const std::uint64_t n : s.hookRefusals) refused += n;
        if (refused > 0) {
            // Sessions a hook refused before their SYN (mid-stream ones without a login) matched.
            return {kExitFailure, fmt::format("nothing replayed: the protocol hook refused all {} captured "
                                              "connections before sending anything (see 'protocol hooks' "
                                              "in the summary)",
                                              refused)};
        }
        return {kExitFailure, "nothing replayed: no connection in " + end.input + " matched -x"};
    }
    if (s.sessionsEstablished == 0 && s.sessionsResetByTarget > 0) {
        return {kExitFailure,
                "nothing replayed: the target refused every connection with a reset (is the server "
                "listening on the -x target address and port?)"};
    }
    if (s.sessionsEstablished == 0) {
        return {kExitFailure,
                "nothing replayed: no SYN-ACK came back from the target through intercept (check the "
                "target's route for client addresses to the assistant, and intercept's filter)"};
    }
    // Some sessions went through and others did not: the target stopped or broke mid-replay.
    if (const std::uint64_t lost = s.sessionsResetByTarget + s.sessionsTimedOut + s.sessionsFailed;
        lost > 0) {
        return {
            kExitFailure,
            fmt::format("{} of {} sessions did not complete: {} reset by the target, {} timed out, {} failed "
                        "({} without SYN-ACK, {} over --max-session-buffer)",
                        lost, s.sessionsStarted, s.sessionsResetByTarget, s.sessionsTimedOut,
                        s.sessionsFailed, s.sessionsNoSynAck, s.sessionsOverBuffer)};
    }
    return udpExitStatus(end);
}

}  // namespace tcpcopy::app
