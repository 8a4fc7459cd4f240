#pragma once
// How a replay that ran ends: its exit status, and the one line that explains a failure.

#include <cstdint>
#include <string>

#include "tcpcopy/session/engine.h"

namespace tcpcopy::app {

// What the replay knows once its loop has stopped.
struct ReplayEnd {
    std::string input;         // -i, to name it
    std::string inputError;    // why the capture file ended early ("" when it did not)
    bool interrupted = false;  // SIGINT/SIGTERM (a live replay always ends so)
    session::EngineStats stats;
    bool tcpRules = true;             // -x has TCP rules (the engine's stats then judge the replay)
    bool udpRules = false;            // -x has udp: rules
    std::uint64_t udpSent = 0;        // UDP packets handed to the kernel
    std::uint64_t udpSendErrors = 0;  // UDP packets the injector failed to send
};

struct ExitStatus {
    int code = 0;
    std::string message;  // for stderr after "tcpcopy: ", or "" when there is nothing to add
};

// 0 when the replay did its job; 1, with the reason, when nothing could be replayed or some
// sessions did not complete (the target stopped or broke mid-replay), or the capture file was
// damaged (its error is already logged). An interrupted replay succeeded if any session was
// established. UDP rules add theirs: with only UDP rules, nothing sent is a failure; with any,
// a UDP packet the injector could not send is one, and so is a UDP rule that nothing matched.
ExitStatus replayExitStatus(const ReplayEnd& end);

}  // namespace tcpcopy::app
