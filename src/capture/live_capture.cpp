#include "tcpcopy/capture/live_capture.h"

#include <algorithm>

#include "capture_internal.h"

namespace tcpcopy::capture {
namespace {

std::string deviceError(const std::string& device, int status, pcap_t* handle) {
    std::string text = device + ": " + pcap_statustostr(status);
    std::string detail = handle != nullptr ? pcap_geterr(handle) : "";
    if (!detail.empty() && detail != pcap_statustostr(status)) text += " (" + detail + ")";
    return text;
}

struct DispatchContext {
    FrameFn fn;
    void* context;
    net::LinkType link;
    int precision;
};

void onPcapFrame(u_char* user, const pcap_pkthdr* header, const u_char* data) {
    auto* ctx = reinterpret_cast<DispatchContext*>(user);
    ctx->fn(ctx->context, frameFromPcap(*header, data, ctx->precision), ctx->link);
}

pcap_direction_t toPcap(Direction direction) {
    switch (direction) {
        case Direction::In:
            return PCAP_D_IN;
        case Direction::Out:
            return PCAP_D_OUT;
        case Direction::InOut:
            break;
    }
    return PCAP_D_INOUT;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

}  // namespace

LiveCapture::Result LiveCapture::open(const LiveOptions& options) {
    const std::string& device = options.device;
    if (device.empty()) return Result::fail("capture device name is empty");
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapHandle handle(pcap_create(device.c_str(), errbuf));
    if (!handle) return Result::fail(device + ": " + errbuf);
    pcap_t* p = handle.get();
    // Settings on an unactivated handle fail only for out-of-range values.
    if (pcap_set_snaplen(p, options.snaplen) != 0 || pcap_set_promisc(p, options.promiscuous ? 1 : 0) != 0 ||
        pcap_set_timeout(p, static_cast<int>(options.timeout.count())) != 0 ||
        pcap_set_immediate_mode(p, options.immediate ? 1 : 0) != 0 ||
        (options.bufferBytes > 0 && pcap_set_buffer_size(p, options.bufferBytes) != 0)) {
        return Result::fail(device + ": cannot configure capture: " + pcap_geterr(p));
    }
    // Nanosecond timestamps where the platform has them; microseconds otherwise.
    (void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int status = pcap_activate(p);
    if (status < 0) return Result::fail(deviceError(device, status, p));
    std::string warning = status > 0 ? deviceError(device, status, p) : "";

    LinkTypeLookup link = linkTypeOf(p);
    if (!link.type) return Result::fail(device + ": " + link.error);
    if (options.direction != Direction::InOut && pcap_setdirection(p, toPcap(options.direction)) != 0) {
        return Result::fail(device + ": cannot set capture direction: " + pcap_geterr(p));
    }
    if (!options.filter.empty()) {
        if (std::string error = applyFilter(p, options.filter); !error.empty()) {
            return Result::fail(device + ": " + error);
        }
    }
    if (pcap_setnonblock(p, 1, errbuf) != 0) return Result::fail(device + ": " + errbuf);
    int fd = pcap_get_selectable_fd(p);
    if (fd < 0) return Result::fail(device + ": capture has no selectable descriptor");
    int precision = pcap_get_tstamp_precision(p);
    return Result::ok(LiveCapture(std::move(handle), *link.type, device, precision, fd, std::move(warning)));
}

int LiveCapture::dispatchRaw(int maxPackets, FrameFn fn, void* context) {
    DispatchContext ctx{fn, context, linkType_, precision_};
    int n = pcap_dispatch(handle_.get(), maxPackets, onPcapFrame, reinterpret_cast<u_char*>(&ctx));
    if (n == PCAP_ERROR) {
        error_ = device_ + ": " + pcap_geterr(handle_.get());
        return -1;
    }
    n = std::max(n, 0);  // PCAP_ERROR_BREAK: nobody calls pcap_breakloop; treat as nothing
    delivered_ += static_cast<std::uint64_t>(n);
    return n;
}

std::optional<CaptureStats> LiveCapture::stats() {
    pcap_stat s{};
    if (pcap_stats(handle_.get(), &s) != 0) {
        error_ = device_ + ": " + pcap_geterr(handle_.get());
        return std::nullopt;
    }
    // ps_recv counts what passed the kernel filter, drops included on Linux: report what was
    // handed over instead, as PacketRingCapture does, so received + kernelDropped is what arrived.
    return CaptureStats{delivered_, s.ps_drop, s.ps_ifdrop, 0};
}

os::Result<std::vector<std::string>> parseDeviceList(std::string_view list) {
    using R = os::Result<std::vector<std::string>>;
    std::vector<std::string> devices;
    std::string_view rest = list;
    for (;;) {
        std::size_t comma = rest.find(',');
        std::string_view name = trim(rest.substr(0, comma));
        if (name.empty()) return R::fail("device list '" + std::string(list) + "' has an empty name");
        if (std::find(devices.begin(), devices.end(), name) != devices.end()) {
            return R::fail("device list '" + std::string(list) + "' names " + std::string(name) + " twice");
        }
        devices.emplace_back(name);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (devices.size() > 1 &&
        std::any_of(devices.begin(), devices.end(), [](const std::string& d) { return isAnyDevice(d); })) {
        return R::fail("device list '" + std::string(list) + "': 'any' already covers every device");
    }
    return R::ok(std::move(devices));
}

}  // namespace tcpcopy::capture
