#pragma once
// -o DEV: the link-layer injector for the replay, with each target's frame addresses settled at
// start-up: the MACs the -x rule gave, else DEV's own address and the next hop's (the kernel's
// neighbour table, or ARP on DEV for an IPv4 next hop, a Neighbor Solicitation for an IPv6 one).

#include <memory>

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/inject/link_injector.h"

namespace tcpcopy::app {

// The error is one line naming -o, the device and the address that could not be resolved.
os::Result<std::unique_ptr<inject::LinkInjector>> openLinkInjector(const ReplayOptions& options);

}  // namespace tcpcopy::app
