#pragma once
// RawSocketCapture: incoming TCP/IPv4 packets from an AF_INET/SOCK_RAW/IPPROTO_TCP socket.
// The kernel hands over each packet addressed to this host with its IP header, so frames are
// LinkType::RawIp. It sees only TCP over IPv4, only inbound, and needs CAP_NET_RAW. Same
// non-blocking fd()/dispatch() shape as LiveCapture.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/event.h"  // os::Result
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::capture {

struct RawSocketOptions {
    int receiveBufferBytes = 0;  // SO_RCVBUF (SO_RCVBUFFORCE when permitted); 0 keeps the default
};

class RawSocketCapture {
  public:
    using Result = os::Result<RawSocketCapture>;

    // Opens the socket non-blocking with kernel receive timestamps and drop counting.
    // Errors carry the system's text ("raw socket: Operation not permitted").
    static Result open(const RawSocketOptions& options = {});

    RawSocketCapture(RawSocketCapture&&) noexcept = default;
    RawSocketCapture& operator=(RawSocketCapture&&) noexcept = default;

    int fd() const { return fd_.get(); }
    net::LinkType linkType() const { return net::LinkType::RawIp; }

    // Reads up to `maxPackets` waiting packets, handing each to
    // `onFrame(const CapturedFrame&, net::LinkType)` (valid during the call only); maxPackets <= 0
    // reads until nothing waits. Never blocks.
    // Returns the number handled, or -1 on a socket error (error() holds the text).
    template <class F>
    int dispatch(int maxPackets, F&& onFrame) {
        return dispatchRaw(maxPackets, &invokeFrameHandler<std::remove_reference_t<F>>, &onFrame);
    }
    int dispatchRaw(int maxPackets, FrameFn fn, void* context);

    // received: packets read; kernelDropped: the socket's receive-queue overflow count (as last
    // reported with a packet).
    CaptureStats stats() const { return CaptureStats{received_, dropped_, 0}; }
    const std::string& error() const { return error_; }

  private:
    explicit RawSocketCapture(os::UniqueFd fd) : fd_(std::move(fd)), buffer_(kBufferSize) {}

    static constexpr std::size_t kBufferSize = 65536;
    os::UniqueFd fd_;
    std::vector<std::byte> buffer_;
    std::uint64_t received_ = 0;
    std::uint32_t dropped_ = 0;
    std::string error_;
};

}  // namespace tcpcopy::capture
