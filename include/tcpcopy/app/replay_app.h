#pragma once
// The tcpcopy application: wires a capture source, the session engine, the injector and the
// tunnel client onto one event loop, and reports what happened.

#include "tcpcopy/app/replay_options.h"

namespace tcpcopy::app {

// Runs a replay to its end (file input: the capture is read and every session is over; live
// input: until SIGINT/SIGTERM). Prints the summary. Returns the process exit status: 0 when
// sessions were replayed, 1 when nothing could be (with the reason logged), 2 on a start-up error.
int runReplay(const ReplayOptions& options);

}  // namespace tcpcopy::app
