#pragma once
// One frame as a capture source hands it over.

#include <chrono>
#include <cstdint>

#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::capture {

struct CapturedFrame {
    // Capture time since the Unix epoch (nanosecond resolution where the source has it).
    std::chrono::nanoseconds timestamp{0};
    std::uint32_t caplen = 0;      // bytes captured: data.size()
    std::uint32_t wireLength = 0;  // bytes the frame had on the wire (>= caplen)
    // The captured bytes, starting at the link header. A view into the source's buffer, valid
    // only until the source's next read (next()/dispatch() call) or its destruction.
    net::Bytes data;
};

// Counters from a live source. `kernelDropped`: dropped for lack of buffer space;
// `interfaceDropped`: dropped by the interface or driver (0 where unknown); `queueFreezes`: times
// the packet ring was found full (PacketRingCapture; 0 where the source cannot tell).
struct CaptureStats {
    std::uint64_t received = 0;
    std::uint64_t kernelDropped = 0;
    std::uint64_t interfaceDropped = 0;
    std::uint64_t queueFreezes = 0;
};

// A frame handler as a function pointer plus context: the sources' dispatch() templates turn any
// callable into one of these, so handing over frames allocates nothing.
using FrameFn = void (*)(void* context, const CapturedFrame& frame, net::LinkType link);

template <class F>
void invokeFrameHandler(void* context, const CapturedFrame& frame, net::LinkType link) {
    (*static_cast<F*>(context))(frame, link);
}

}  // namespace tcpcopy::capture
