#pragma once
// Shared by the libpcap-based sources: pcap_pkthdr to CapturedFrame.

#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "tcpcopy/capture/captured_frame.h"

namespace tcpcopy::capture {

// `precision` is PCAP_TSTAMP_PRECISION_NANO when ts.tv_usec holds nanoseconds.
// Seconds are clamped to what nanoseconds in 64 bits can hold (years 1678..2262): a pcapng file
// can state any 64-bit timestamp, and the conversion must not overflow.
inline CapturedFrame frameFromPcap(const pcap_pkthdr& header, const u_char* data, int precision) {
    constexpr std::int64_t kMaxSeconds = std::chrono::nanoseconds::max().count() / 1'000'000'000 - 1;
    std::int64_t seconds = std::clamp<std::int64_t>(header.ts.tv_sec, -kMaxSeconds, kMaxSeconds);
    std::chrono::nanoseconds sub = precision == PCAP_TSTAMP_PRECISION_NANO
                                       ? std::chrono::nanoseconds(header.ts.tv_usec)
                                       : std::chrono::microseconds(header.ts.tv_usec);
    CapturedFrame frame;
    frame.timestamp = std::chrono::seconds(seconds) + sub;
    frame.caplen = header.caplen;
    frame.wireLength = header.len;
    frame.data = net::Bytes(reinterpret_cast<const std::byte*>(data), header.caplen);
    return frame;
}

}  // namespace tcpcopy::capture
