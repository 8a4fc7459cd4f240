#include "tcpcopy/capture/pcap_handle.h"

namespace tcpcopy::capture {

std::string BpfProgram::compile(pcap_t* handle, std::string_view expression) {
    reset();
    std::string text(expression);
    if (pcap_compile(handle, &program_, text.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        program_ = bpf_program{};
        return "filter '" + text + "': " + pcap_geterr(handle);
    }
    return {};
}

std::string applyFilter(pcap_t* handle, std::string_view expression) {
    BpfProgram program;
    if (std::string error = program.compile(handle, expression); !error.empty()) return error;
    // libpcap copies the program (into the kernel or its own buffer): ours can be freed after.
    if (pcap_setfilter(handle, program.get()) != 0) {
        return "filter '" + std::string(expression) + "': " + pcap_geterr(handle);
    }
    return {};
}

LinkTypeLookup linkTypeOf(pcap_t* handle) {
    int dlt = pcap_datalink(handle);
    if (auto type = net::linkTypeFromDlt(dlt)) return {type, {}};
    std::string name;
    if (const char* known = pcap_datalink_val_to_name(dlt)) {
        name = known;
    } else if (dlt >= DLT_USER0 && dlt <= DLT_USER15) {
        name = "USER" + std::to_string(dlt - DLT_USER0);  // private use: absent from libpcap's table
    } else {
        name = "unknown";
    }
    return {std::nullopt, "unsupported link type DLT " + std::to_string(dlt) + " (" + name + ")"};
}

}  // namespace tcpcopy::capture
