#pragma once
// Move-only RAII owners for libpcap's resources: PcapHandle (pcap_t) and BpfProgram
// (a compiled filter), plus the link-type and filter helpers the capture sources share.

#include <pcap/pcap.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tcpcopy/net/decode.h"

namespace tcpcopy::capture {

class PcapHandle {
  public:
    PcapHandle() = default;
    explicit PcapHandle(pcap_t* handle) : handle_(handle) {}  // takes ownership
    PcapHandle(const PcapHandle&) = delete;
    PcapHandle& operator=(const PcapHandle&) = delete;
    PcapHandle(PcapHandle&& other) noexcept : handle_(other.release()) {}
    PcapHandle& operator=(PcapHandle&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    ~PcapHandle() { reset(); }

    pcap_t* get() const { return handle_; }
    explicit operator bool() const { return handle_ != nullptr; }
    [[nodiscard]] pcap_t* release() { return std::exchange(handle_, nullptr); }
    void reset(pcap_t* handle = nullptr) {
        pcap_t* old = std::exchange(handle_, handle);
        if (old != nullptr) pcap_close(old);
    }

  private:
    pcap_t* handle_ = nullptr;
};

// A compiled BPF program; pcap_freecode on destruction. Empty until compile() succeeds.
class BpfProgram {
  public:
    BpfProgram() = default;
    BpfProgram(const BpfProgram&) = delete;
    BpfProgram& operator=(const BpfProgram&) = delete;
    BpfProgram(BpfProgram&& other) noexcept : program_(std::exchange(other.program_, bpf_program{})) {}
    BpfProgram& operator=(BpfProgram&& other) noexcept {
        if (this != &other) {
            reset();
            program_ = std::exchange(other.program_, bpf_program{});
        }
        return *this;
    }
    ~BpfProgram() { reset(); }

    // Compiles `expression` for `handle` (optimised, netmask unknown). Returns an empty string on
    // success, otherwise "filter 'EXPR': <libpcap's text>".
    std::string compile(pcap_t* handle, std::string_view expression);
    bpf_program* get() { return &program_; }
    explicit operator bool() const { return program_.bf_insns != nullptr; }
    void reset() {
        if (program_.bf_insns != nullptr) pcap_freecode(&program_);
        program_ = bpf_program{};
    }

  private:
    bpf_program program_{};
};

// Compiles `expression` and installs it on `handle`. Returns "" or an error naming the expression.
std::string applyFilter(pcap_t* handle, std::string_view expression);

// The LinkType for `handle`'s datalink, or the error "unsupported link type DLT 147 (USER0)".
struct LinkTypeLookup {
    std::optional<net::LinkType> type;
    std::string error;
};
LinkTypeLookup linkTypeOf(pcap_t* handle);

}  // namespace tcpcopy::capture
