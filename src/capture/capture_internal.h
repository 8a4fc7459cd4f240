#pragma once
// Shared by the libpcap-based sources: pcap_pkthdr to CapturedFrame.

#include <pcap/pcap.h>

#include <chrono>

#include "tcpcopy/capture/captured_frame.h"

namespace tcpcopy::capture {

// `precision` is PCAP_TSTAMP_PRECISION_NANO when ts.tv_usec holds nanoseconds.
inline CapturedFrame frameFromPcap(const pcap_pkthdr& header, const u_char* data, int precision) {
    std::chrono::nanoseconds sub = precision == PCAP_TSTAMP_PRECISION_NANO
                                       ? std::chrono::nanoseconds(header.ts.tv_usec)
                                       : std::chrono::microseconds(header.ts.tv_usec);
    CapturedFrame frame;
    frame.timestamp = std::chrono::seconds(header.ts.tv_sec) + sub;
    frame.caplen = header.caplen;
    frame.wireLength = header.len;
    frame.data = net::Bytes(reinterpret_cast<const std::byte*>(data), header.caplen);
    return frame;
}

}  // namespace tcpcopy::capture
