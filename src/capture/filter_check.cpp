#include "tcpcopy/capture/filter_check.h"

#include <pcap/pcap.h>

#include <memory>

namespace tcpcopy::capture {

std::string checkFilter(std::string_view expression) {
    // A dead Ethernet handle: compiling needs a link type, not a device or privileges.
    std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, 65535), &pcap_close);
    if (!dead) return "pcap_open_dead failed";
    bpf_program program{};
    const std::string text(expression);
    if (pcap_compile(dead.get(), &program, text.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        return pcap_geterr(dead.get());
    }
    pcap_freecode(&program);
    return {};
}

}  // namespace tcpcopy::capture
