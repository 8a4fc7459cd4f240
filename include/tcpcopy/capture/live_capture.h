#pragma once
// LiveCapture: libpcap capture on one network device, non-blocking, for an event loop.
//
// Typical use from a libevent loop:
//
//     auto capture = capture::LiveCapture::open({.device = "eth0", .filter = "tcp src port 80"});
//     if (!capture) { log->error("{}", capture.error()); return 1; }      // names the device
//     auto readable = os::Event::fd(base, capture.value().fd(), EV_READ, [&](short) {
//         int n = capture.value().dispatch(256, [&](const CapturedFrame& f, net::LinkType link) {
//             handle(net::decodeFrame(link, f.data));   // f.data is valid during the call only
//         });
//         if (n < 0) log->error("{}", capture.value().error());
//     });
//
// The descriptor becomes readable when packets are waiting; dispatch() never blocks. Because
// libpcap buffers packets internally, call dispatch() until it returns less than maxPackets
// or rely on the read timeout to wake the loop again (immediate mode is on by default).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/capture/pcap_handle.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::capture {

enum class Direction : std::uint8_t { InOut, In, Out };

struct LiveOptions {
    std::string device{};                   // an interface name, or "any" (link type Linux SLL)
    int snaplen = 65535;                    // bytes kept per frame
    int bufferBytes = 0;                    // kernel ring size in bytes; 0 keeps libpcap's default (2 MiB)
    std::chrono::milliseconds timeout{10};  // packet buffer timeout (ignored in immediate mode)
    bool immediate = true;                  // deliver packets as they arrive rather than in batches
    bool promiscuous = false;
    Direction direction = Direction::InOut;
    std::string filter{};  // BPF expression; empty: everything
};

class LiveCapture {
  public:
    using Result = os::Result<LiveCapture>;
    // The frame (valid during the call only) and the device's link type.

    // Creates, configures and activates the capture, installs the filter and switches to
    // non-blocking mode. Errors name the device: "eth9: No such device exists (...)".
    static Result open(const LiveOptions& options);

    LiveCapture(LiveCapture&&) noexcept = default;
    LiveCapture& operator=(LiveCapture&&) noexcept = default;

    // A descriptor that polls readable when packets are waiting (pcap_get_selectable_fd).
    // Owned by the capture; valid while it lives.
    int fd() const { return fd_; }
    net::LinkType linkType() const { return linkType_; }
    const std::string& device() const { return device_; }
    // A warning pcap_activate gave (e.g. promiscuous mode not supported), or "".
    const std::string& warning() const { return warning_; }

    // Hands up to `maxPackets` waiting frames to `onFrame(const CapturedFrame&, net::LinkType)`
    // without blocking (maxPackets <= 0: all that libpcap has buffered). Returns the number handled (0:
    // nothing waiting), or -1 on a capture error, whose text (naming the device) error() then holds.
    template <class F>
    int dispatch(int maxPackets, F&& onFrame) {
        return dispatchRaw(maxPackets, &invokeFrameHandler<std::remove_reference_t<F>>, &onFrame);
    }
    int dispatchRaw(int maxPackets, FrameFn fn, void* context);

    // Counters since open: received = frames handed to dispatch()'s callback; the drops from
    // pcap_stats. nullopt with error() set when libpcap cannot tell.
    std::optional<CaptureStats> stats();
    const std::string& error() const { return error_; }

  private:
    LiveCapture(PcapHandle handle, net::LinkType linkType, std::string device, int precision, int fd,
                std::string warning)
        : handle_(std::move(handle)),
          linkType_(linkType),
          device_(std::move(device)),
          precision_(precision),
          fd_(fd),
          warning_(std::move(warning)) {}

    PcapHandle handle_;
    net::LinkType linkType_;
    std::string device_;
    int precision_;
    int fd_;
    std::string warning_;
    std::string error_;
    std::uint64_t delivered_ = 0;
};

// Splits a device list ("eth0,eth1", spaces allowed around names) into names. "any" stands alone:
// it already covers every device. Fails on an empty list, an empty name, a duplicate, or "any"
// mixed with other names.
os::Result<std::vector<std::string>> parseDeviceList(std::string_view list);
constexpr bool isAnyDevice(std::string_view device) { return device == "any"; }

}  // namespace tcpcopy::capture
