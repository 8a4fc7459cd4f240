#pragma once
// PcapFileReader: frames from a pcap or pcapng file, in file order, with nanosecond timestamps.
// Every error text names the file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/capture/pcap_handle.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/result.h"

namespace tcpcopy::capture {

class PcapFileReader {
  public:
    using Result = os::Result<PcapFileReader>;

    // Opens `path` (pcap, either byte order and either timestamp precision, or pcapng whose
    // interfaces share one link type). Fails with "<path>: <problem>" when the file cannot be
    // read, is not a capture file, or has a link type net::decodeFrame cannot strip.
    static Result open(const std::string& path);

    PcapFileReader(PcapFileReader&&) noexcept = default;
    PcapFileReader& operator=(PcapFileReader&&) noexcept = default;

    // Installs a BPF filter: next() then skips frames it rejects. Returns "" on success, or
    // "<path>: filter '<expr>': <libpcap's text>".
    std::string setFilter(std::string_view expression);

    // The next frame, or nullopt at the end of the file or on an error (see error()). The frame's
    // data is valid until the next call to next() or the reader's destruction.
    std::optional<CapturedFrame> next();

    // After next() returned nullopt: "" when the file ended cleanly, otherwise the reason naming
    // the file (a truncated record gives "<path>: truncated dump file; ...").
    const std::string& error() const { return error_; }

    net::LinkType linkType() const { return linkType_; }
    int dlt() const { return pcap_datalink(handle_.get()); }
    const std::string& path() const { return path_; }
    std::uint64_t framesRead() const { return framesRead_; }
    // The file offset reached so far (for progress: compare with the file's size).
    std::uint64_t bytesRead() const;

  private:
    PcapFileReader(PcapHandle handle, net::LinkType linkType, std::string path)
        : handle_(std::move(handle)), linkType_(linkType), path_(std::move(path)) {}

    PcapHandle handle_;
    net::LinkType linkType_;
    std::string path_;
    std::string error_;
    std::uint64_t framesRead_ = 0;
};

}  // namespace tcpcopy::capture
