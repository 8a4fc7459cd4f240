#include "tcpcopy/capture/pcap_file_reader.h"

#include <cstdio>
#include <filesystem>

#include "capture_internal.h"

namespace tcpcopy::capture {
namespace {

// libpcap names the file itself in some messages ("x.pcap: No such file or directory") and not
// in others ("unknown file format"): make every one start with the path exactly once.
std::string namingFile(const std::string& path, std::string_view text) {
    std::string prefix = path + ": ";
    if (text.substr(0, prefix.size()) == prefix) return std::string(text);
    return prefix + std::string(text);
}

}  // namespace

PcapFileReader::Result PcapFileReader::open(const std::string& path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapHandle handle(
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
    if (!handle) {
        std::string_view text = errbuf;
        // libpcap reports an empty file as a truncated header ("tried to read 4 ... only got 0").
        std::error_code ec;
        if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 && !ec) {
            text = "empty file, not a pcap or pcapng capture";
        } else if (text.empty()) {
            text = "cannot open capture file";
        }
        return Result::fail(namingFile(path, text));
    }
    LinkTypeLookup link = linkTypeOf(handle.get());
    if (!link.type) return Result::fail(namingFile(path, link.error));
    return Result::ok(PcapFileReader(std::move(handle), *link.type, path));
}

std::string PcapFileReader::setFilter(std::string_view expression) {
    std::string error = applyFilter(handle_.get(), expression);
    return error.empty() ? error : namingFile(path_, error);
}

std::optional<CapturedFrame> PcapFileReader::next() {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(handle_.get(), &header, &data);
    if (rc == 1) {
        ++framesRead_;
        return frameFromPcap(*header, data, PCAP_TSTAMP_PRECISION_NANO);
    }
    if (rc == PCAP_ERROR_BREAK) {
        error_.clear();  // end of file
    } else {
        error_ = namingFile(path_, pcap_geterr(handle_.get()));
    }
    return std::nullopt;
}

std::uint64_t PcapFileReader::bytesRead() const {
    std::FILE* file = pcap_file(handle_.get());
    if (file == nullptr) return 0;
    const long offset = std::ftell(file);
    return offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
}

}  // namespace tcpcopy::capture
