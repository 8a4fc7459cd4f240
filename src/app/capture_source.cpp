#include "tcpcopy/app/capture_source.h"

#include <event2/event.h>

#include <filesystem>
#include <system_error>
#include <vector>

#include "tcpcopy/app/offline_pacer.h"
#include "tcpcopy/capture/live_capture.h"
#include "tcpcopy/capture/packet_ring_capture.h"
#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/log/log.h"

namespace tcpcopy::app {
namespace {

using Source = os::Result<std::unique_ptr<CaptureSource>>;

auto logger() { return log::component("tcpcopy"); }

// A capture file, read at the capture's pace by a pump event at low priority, -T times.
class FileSource final : public CaptureSource {
  public:
    FileSource(const ReplayOptions& options, os::EventBase& base, const os::Clock& clock, FrameSink& sink,
               capture::PcapFileReader reader)
        : options_(options),
          base_(base),
          clock_(clock),
          sink_(sink),
          reader_(std::move(reader)),
          pacer_(clock, options.accelerate, options.idleSkip) {
        std::error_code ec;
        size_ = std::filesystem::file_size(options.input, ec);  // 0 when unknown: no progress
    }

    std::string start() override {
        auto event = os::Event::timer(base_, [this](short) { pumpFrames(); });
        if (!event) return event.error();
        pump_.emplace(std::move(event).value());
        pump_->setPriority(kFilePumpPriority);
        pump_->add(os::Duration(0));
        return {};
    }
    bool finite() const override { return true; }
    std::string_view backend() const override { return "file"; }
    std::optional<double> progress() const override {
        const double total = static_cast<double>(size_) * options_.loops;
        const double done = static_cast<double>(size_) * pass_ + static_cast<double>(reader_.bytesRead());
        return total > 0 ? done / total : 0.0;
    }
    std::chrono::nanoseconds idleSkipped() const override { return pacer_.idleSkipped(); }

  private:
    // Hands over the frames whose (paced) time has come, then sleeps until the next one is due.
    void pumpFrames() {
        const std::chrono::nanoseconds now = clock_.now();
        for (int n = 0; n < kFramesPerTurn; ++n) {
            if (!havePending_ && !readFrame()) {
                endOfFile();
                return;
            }
            const std::chrono::nanoseconds due = pacer_.due(pending_.timestamp);
            if (due > now) {
                pump_->add(std::chrono::duration_cast<os::Duration>(due - now));
                return;
            }
            sink_.onFrame(reader_.linkType(), pending_.data, now, pending_.timestamp, pass_);
            havePending_ = false;
        }
        pump_->add(os::Duration(0));
    }

    bool readFrame() {
        auto frame = reader_.next();
        if (!frame) return false;
        pending_.timestamp = frame->timestamp;
        pending_.data.assign(frame->data.begin(), frame->data.end());  // reuses the capacity
        havePending_ = true;
        return true;
    }

    void endOfFile() {
        std::string error = reader_.error();
        if (!error.empty()) logger()->error("{}", error);
        if (error.empty() && pass_ + 1 < options_.loops) {
            auto reopened = capture::PcapFileReader::open(options_.input);
            if (reopened) {
                ++pass_;
                reader_ = std::move(reopened).value();
                if (!options_.filter.empty()) reader_.setFilter(options_.filter);
                pacer_.newPass();  // the timeline goes on after the last frame
                logger()->info("pass {} of {} over the capture", pass_ + 1, options_.loops);
                pump_->add(os::Duration(0));
                return;
            }
            error = reopened.error();
            logger()->error("{}", error);
        }
        sink_.onInputEnd(error);
    }

    // The next frame of the file, copied out of libpcap's buffer; one buffer reused for every
    // frame, so reading allocates nothing once it has grown to the largest frame.
    struct StoredFrame {
        std::chrono::nanoseconds timestamp{0};
        std::vector<std::byte> data;
    };

    const ReplayOptions& options_;
    os::EventBase& base_;
    const os::Clock& clock_;
    FrameSink& sink_;
    capture::PcapFileReader reader_;
    OfflinePacer pacer_;
    std::optional<os::Event> pump_;
    StoredFrame pending_;
    bool havePending_ = false;
    unsigned pass_ = 0;
    std::uintmax_t size_ = 0;
};

// A live capture (libpcap's LiveCapture or the PacketRingCapture): read when its descriptor is
// readable and on every tick.
template <class Capture>
class LiveSource final : public CaptureSource {
  public:
    LiveSource(os::EventBase& base, const os::Clock& clock, FrameSink& sink, Capture capture,
               std::string_view backend)
        : base_(base), clock_(clock), sink_(sink), capture_(std::move(capture)), backend_(backend) {}

    std::string start() override {
        auto ev = os::Event::fd(base_, capture_.fd(), EV_READ | EV_PERSIST, [this](short) { read(); });
        if (!ev) return ev.error();
        readable_.emplace(std::move(ev).value());
        readable_->add();
        return {};
    }
    void poll() override { read(); }
    bool finite() const override { return false; }
    std::string_view backend() const override { return backend_; }
    std::optional<capture::CaptureStats> stats() override { return capture_.stats(); }

  private:
    void read() {
        const int n = capture_.dispatch(kFramesPerTurn,
                                        [this](const capture::CapturedFrame& frame, net::LinkType link) {
                                            sink_.onFrame(link, frame.data, clock_.now(), frame.timestamp, 0);
                                        });
        if (n < 0) logger()->warn("capture: {}", capture_.error());  // only libpcap can fail here
    }

    os::EventBase& base_;
    const os::Clock& clock_;
    FrameSink& sink_;
    Capture capture_;
    std::string_view backend_;
    std::optional<os::Event> readable_;
};

// "proto and ((dst port P [and dst host A]) or ...)" for one protocol's -x rules.
std::string protocolFilter(std::string_view protocol, const std::vector<session::AddressRule>& rules) {
    std::string filter = std::string(protocol) + " and (";
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const auto& rule = rules[i];
        if (i) filter += " or ";
        filter += "(dst port " + std::to_string(rule.onlinePort.value());
        if (rule.onlineAddr) filter += " and dst host " + rule.onlineAddr->toString();
        filter += ")";
    }
    return filter + ")";
}

// IPv6 packets whose first next header is an extension header (hop-by-hop, routing, fragment,
// destination options, AH). libpcap's "tcp" and "port" match IPv6 TCP only right behind the fixed
// header (its "protochain" needs a backward jump the kernel refuses, so it would filter in user
// space): these pass whatever they carry, and the decoder (which skips extension headers) and the
// -x rules select, as the packet ring does.
constexpr std::string_view kIpv6ExtensionHeaders =
    "(ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 60 or ip6[6] == 51))";

// libpcap's filter for -i DEV without -F: TCP to the -x ports (and addresses) over IPv4 or IPv6,
// IPv6 packets with extension headers, UDP to the -x udp: ones.
std::string defaultLiveFilter(const ReplayOptions& options) {
    const bool tcp = !options.engine.rules.empty();
    const bool udp = !options.udpRules.empty();
    std::string filter;
    if (tcp)
        filter =
            "(" + protocolFilter("tcp", options.engine.rules) + ") or " + std::string(kIpv6ExtensionHeaders);
    if (udp) filter += (tcp ? " or (" : "(") + protocolFilter("udp", options.udpRules) + ")";
    return filter;
}

Source openFile(const ReplayOptions& options, os::EventBase& base, const os::Clock& clock, FrameSink& sink) {
    auto reader = capture::PcapFileReader::open(options.input);
    if (!reader) return Source::fail(reader.error());
    if (!options.filter.empty()) {
        if (auto err = reader.value().setFilter(options.filter); !err.empty()) return Source::fail(err);
    }
    logger()->info("input: capture file {} ({})", options.input,
                   net::linkTypeName(reader.value().linkType()));
    return Source::ok(std::make_unique<FileSource>(options, base, clock, sink, std::move(reader).value()));
}

Source openRing(const ReplayOptions& options, os::EventBase& base, const os::Clock& clock, FrameSink& sink) {
    // The ring must hold what arrives while the loop is busy elsewhere: a lost client packet
    // leaves a hole in its session. Only TCP to the -x ports enters it.
    capture::PacketRingOptions ring;
    ring.ringBytes = static_cast<std::size_t>(options.bufferMb) << 20;
    for (const auto& rule : options.engine.rules) ring.dstPorts.push_back(rule.onlinePort.value());
    for (const auto& rule : options.udpRules) ring.udpDstPorts.push_back(rule.onlinePort.value());
    ring.keepTcp = !options.engine.rules.empty();
    auto capture = capture::PacketRingCapture::open(ring);
    if (!capture) return Source::fail("cannot open the live capture: " + capture.error());
    logger()->info("input: live capture of incoming {} on every interface ({} MiB packet ring)",
                   ring.udpDstPorts.empty() ? "TCP" : (ring.keepTcp ? "TCP and UDP" : "UDP"),
                   capture.value().ringBytes() >> 20);
    return Source::ok(std::make_unique<LiveSource<capture::PacketRingCapture>>(
        base, clock, sink, std::move(capture).value(), "packet-ring"));
}

Source openDevices(const ReplayOptions& options, os::EventBase& base, const os::Clock& clock,
                   FrameSink& sink) {
    capture::LiveOptions live;
    live.device = options.input;
    live.filter = options.filter.empty() ? defaultLiveFilter(options) : options.filter;
    live.snaplen = options.snaplen;
    live.bufferBytes = static_cast<int>(std::size_t(options.bufferMb) << 20);  // -B <= 2047: fits
    live.direction = capture::Direction::In;
    // Not immediate mode: there libpcap uses TPACKET_V2, one snaplen-sized frame per packet
    // whatever its size once offloads are on (64 MiB held ~1,000 packets, and dropped 17% of
    // a 3.5k conn/s load in bench/live_io.sh). Without it, TPACKET_V3 packs packets into
    // blocks handed over when full or after this timeout: the most a packet waits.
    live.immediate = false;
    live.timeout = std::chrono::milliseconds(1);
    auto capture = capture::LiveCapture::open(live);
    if (!capture) return Source::fail(capture.error());
    logger()->info("input: live capture on device {} filter '{}'", options.input, live.filter);
    return Source::ok(std::make_unique<LiveSource<capture::LiveCapture>>(
        base, clock, sink, std::move(capture).value(), "libpcap"));
}

}  // namespace

bool isCaptureFile(const std::string& input) {
    std::error_code ec;
    return std::filesystem::is_regular_file(input, ec) || input.find('/') != std::string::npos ||
           input.ends_with(".pcap") || input.ends_with(".pcapng");
}

Source openCaptureSource(const ReplayOptions& options, os::EventBase& base, const os::Clock& clock,
                         FrameSink& sink) {
    if (isCaptureFile(options.input)) return openFile(options, base, clock, sink);
    if (options.input.empty()) return openRing(options, base, clock, sink);
    return openDevices(options, base, clock, sink);
}

}  // namespace tcpcopy::app
