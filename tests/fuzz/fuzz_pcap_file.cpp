// Fuzzes PcapFileReader: the input is written to a temporary file (libpcap reads only files),
// opened, optionally filtered, and read to the end; every frame is decoded.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tcpcopy/capture/pcap_file_reader.h"
#include "tcpcopy/net/decode.h"

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

// One path per process, written for each input and removed after it (libFuzzer may end the
// process without running static destructors).
const std::string& scratchPath() {
    static const std::string path = "/tmp/fuzz_pcap_file-" + std::to_string(::getpid()) + ".pcap";
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = scratchPath();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    require(f != nullptr);
    if (size > 0) require(std::fwrite(data, 1, size, f) == size);
    std::fclose(f);

    auto opened = tcpcopy::capture::PcapFileReader::open(path);
    std::remove(path.c_str());  // libpcap holds the open descriptor
    if (!opened) {
        require(opened.error().rfind(path + ": ", 0) == 0);  // every error names the file
        return 0;
    }
    tcpcopy::capture::PcapFileReader& reader = opened.value();
    if (size % 2 == 1) require(reader.setFilter("tcp").empty());
    while (auto frame = reader.next()) {
        require(frame->caplen == frame->data.size());
        tcpcopy::net::DecodeResult r = tcpcopy::net::decodeFrame(reader.linkType(), frame->data);
        (void)r;
    }
    require(reader.error().empty() || reader.error().rfind(path + ": ", 0) == 0);
    return 0;
}
