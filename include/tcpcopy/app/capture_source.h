#pragma once
// Where tcpcopy's captured frames come from, behind one interface: a capture file read at the
// capture's pace (OfflinePacer) once or -T times, or a live capture, with libpcap on the devices
// -i names or through the packet ring on every interface (no -i). The replay feeds whatever a
// source hands over to the session engine and needs no branch per input.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/clock.h"
#include "tcpcopy/os/event.h"

namespace tcpcopy::app {

// tcpcopy's event loop priorities (os::EventBase::create): everything runs at the middle one but
// the capture file's pump, which runs only in turns where nothing more urgent (the tunnel's
// answers, timers, signals) is ready. The target's answers come first: each one a turn leaves
// unread waits in the tunnel, and a session waiting for it retransmits, which costs more than
// starting the next captured connection a little later.
inline constexpr int kEventPriorities = 3;
inline constexpr int kFilePumpPriority = 2;
// Frames a source hands over in one loop turn before it yields, so that responses get read.
inline constexpr int kFramesPerTurn = 2048;

// What a source hands its frames to.
class FrameSink {
  public:
    // One captured frame (valid during the call) at monotonic time `now`, captured at `stamp` (the
    // capture's own clock: the file's timestamp, or the live capture's, since the epoch). `pass`
    // counts the passes over a capture file (-T), from 0; a live capture's frames are all of pass 0.
    virtual void onFrame(net::LinkType link, net::Bytes frame, std::chrono::nanoseconds now,
                         std::chrono::nanoseconds stamp, unsigned pass) = 0;
    // A capture file has been read to its end, every pass: "" when it ended cleanly, otherwise
    // the reason naming the file (already logged).
    virtual void onInputEnd(const std::string& error) = 0;

  protected:
    ~FrameSink() = default;
};

class CaptureSource {
  public:
    virtual ~CaptureSource() = default;

    // Starts handing frames to the sink from the event loop; "" or why it cannot.
    virtual std::string start() = 0;
    // Called on every tick of the replay: a live capture also reads what is waiting without
    // having woken the loop (libpcap's and the ring's readiness is not a promise for every
    // packet, and a frame left behind would stall its session until the next one arrives).
    virtual void poll() {}
    // True for a capture file, which ends (and the replay with it once its sessions are over).
    virtual bool finite() const = 0;
    // "file", "libpcap" or "packet-ring".
    virtual std::string_view backend() const = 0;
    // The live capture's own counters; nullopt for a file, or when libpcap cannot tell.
    virtual std::optional<capture::CaptureStats> stats() { return std::nullopt; }
    // The share of the input read so far, every pass counted (a file); nullopt for live input.
    virtual std::optional<double> progress() const { return std::nullopt; }
    // Capture time cut out of the replay's timeline by -I, every pass (0 for live input).
    virtual std::chrono::nanoseconds idleSkipped() const { return {}; }
};

// True when -i names a capture file rather than devices: an existing regular file, or a name
// with a '/' or a .pcap/.pcapng suffix (so that a missing file is reported as one).
bool isCaptureFile(const std::string& input);

// Opens the input the options name: the capture file, live capture with libpcap on the -i
// devices, or the packet ring when -i is empty. The error is one line naming the input. `base`,
// `clock` and `sink` must outlive the source; frames flow once start() is called.
os::Result<std::unique_ptr<CaptureSource>> openCaptureSource(const ReplayOptions& options,
                                                             os::EventBase& base, const os::Clock& clock,
                                                             FrameSink& sink);

}  // namespace tcpcopy::app
