#pragma once
// The tcpcopy application: wires a capture source, the session engine, the injector and the
// tunnel client onto one event loop, and reports what happened.

#include "tcpcopy/app/daemon.h"
#include "tcpcopy/app/replay_options.h"

namespace tcpcopy::app {

// Opens the injector, the input, the tunnel and the --metrics endpoint, then lets `daemon` detach
// (-d) and drop privileges (-u), and runs the replay to its end (file input: the capture is read
// and every session is over; live input: until SIGINT/SIGTERM). Prints the summary and writes the
// report. Returns the exit status: kExitOk when sessions were replayed, kExitFailure when nothing
// could be (with the reason on stderr), kExitStartError when something could not be opened.
int runReplay(const ReplayOptions& options, Daemon& daemon);

}  // namespace tcpcopy::app
