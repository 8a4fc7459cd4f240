#pragma once
// Injecting complete IPv4 packets at the IP layer, toward the target server.
//
// Injector is the interface the session engine's wiring hands packets to. Implementations:
//   LibnetInjector    libnet in LIBNET_RAW4_ADV mode (libnet_adv_write_raw_ipv4), as the
//                     original TCPCopy does; batches go out with sendmmsg on libnet's own raw
//                     socket (libnet has no batch call; its write is one sendto on that socket);
//   RawSocketInjector socket(AF_INET, SOCK_RAW, IPPROTO_RAW) with IP_HDRINCL and sendto /
//                     sendmmsg, needing no library;
//   RecordingInjector keeps copies of what it was given, for tests.
// The kernel routes each packet by its destination address; on Linux it fills in the IP total
// length and header checksum, the TCP checksum must already be right (net::buildIpTcp
// computes both). Both real injectors need CAP_NET_RAW (see os::hasCapability).
//
// The data path: send() and sendBatch() allocate nothing and never throw. A packet that is not a
// plausible IPv4 packet (shorter than its header, version not 4, header length impossible,
// longer than 65535) is refused before any system call and counted as malformed. A failed
// system call is counted; its errno is logged once per distinct errno per injector.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"
#include "tcpcopy/os/unique_fd.h"

struct libnet_context;

namespace tcpcopy::inject {

struct InjectCounters {
    std::uint64_t packets = 0;    // packets handed to the kernel
    std::uint64_t bytes = 0;      // their IP bytes
    std::uint64_t errors = 0;     // packets not sent, malformed ones included
    std::uint64_t malformed = 0;  // refused before any system call
    std::uint64_t calls = 0;      // system calls that sent packets (sendto, or sendmmsg per chunk)
};

// Why a byte span is not an injectable IPv4 packet, or an empty view when it is.
std::string_view checkIpv4Packet(net::Bytes packet);

class Injector {
  public:
    virtual ~Injector() = default;

    // Sends one complete IPv4 packet (header onwards). The bytes are read during the call only.
    // Returns false when the packet was refused or the system call failed (counted, see above).
    virtual bool send(net::Bytes ipv4Packet) = 0;
    // Sends packets in order; returns how many were sent. A failed packet does not stop the
    // rest. The default calls send() for each.
    virtual std::size_t sendBatch(std::span<const net::Bytes> packets);

    const InjectCounters& counters() const { return counters_; }
    // Text of the most recent failure (the library's or strerror's), or "" when none happened.
    virtual std::string lastError() const = 0;
    // "libnet", "raw-socket" or "recording": for logs and --help.
    virtual std::string_view kind() const = 0;

  protected:
    Injector() = default;
    Injector(const Injector&) = default;
    Injector& operator=(const Injector&) = default;

    // The check every send() starts with: a packet checkIpv4Packet refuses is counted (errors,
    // malformed) and handed to noteMalformed(). False for such a packet.
    bool admit(net::Bytes packet);
    // Keeps the reason a packet was refused for lastError() and logs the first one.
    void noteMalformed(std::string_view reason);

    InjectCounters counters_;
    std::string_view lastMalformed_;  // a checkIpv4Packet reason (static text), or empty

  private:
    bool malformedLogged_ = false;
};

// ---- libnet ------------------------------------------------------------------------------

class LibnetInjector final : public Injector {
  public:
    // Opens libnet's raw IPv4 socket. The error is libnet's text, e.g.
    // "libnet_open_raw4(): SOCK_RAW allocation failed: Operation not permitted".
    static os::Result<std::unique_ptr<LibnetInjector>> create();

    ~LibnetInjector() override;
    LibnetInjector(const LibnetInjector&) = delete;
    LibnetInjector& operator=(const LibnetInjector&) = delete;

    bool send(net::Bytes ipv4Packet) override;
    // sendmmsg on libnet's socket, as RawSocketInjector::sendBatch: the same socket and
    // destination address libnet_adv_write_raw_ipv4 would use, up to kMaxBatch per system call.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "libnet"; }
    // libnet's socket, for tests and socket options.
    int fd() const;

  private:
    struct Deleter {
        void operator()(libnet_context* l) const;
    };
    explicit LibnetInjector(libnet_context* l);

    std::unique_ptr<libnet_context, Deleter> libnet_;
    bool failed_ = false;                 // the last failure is libnet's (libnet_geterror)
    int lastErrno_ = 0;                   // the last failure is a sendmmsg errno
    std::uint64_t loggedErrnos_[3] = {};  // bit per errno below 192, logged once each
};

// ---- raw socket ---------------------------------------------------------------------------

struct RawSocketOptions {
    bool nonBlocking = false;  // EAGAIN then counts as an error instead of waiting for room
    int sendBufferBytes = 0;   // SO_SNDBUF; 0 keeps the system default
};

// Largest number of packets one sendmmsg call carries; longer batches are split.
inline constexpr std::size_t kMaxBatch = 64;

class RawSocketInjector final : public Injector {
  public:
    static constexpr std::size_t kMaxBatch = inject::kMaxBatch;

    // Errors carry the system's text: "raw socket: Operation not permitted".
    static os::Result<std::unique_ptr<RawSocketInjector>> create(const RawSocketOptions& options = {});

    bool send(net::Bytes ipv4Packet) override;
    // One sendmmsg per up to kMaxBatch packets; malformed packets are skipped and counted.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "raw-socket"; }
    int fd() const { return fd_.get(); }

  private:
    explicit RawSocketInjector(os::UniqueFd fd) : fd_(std::move(fd)) {}
    void recordErrno(int error);  // counts the error, then noteErrno
    void noteErrno(int error);    // remembers and logs (once per errno) a failure already counted

    os::UniqueFd fd_;
    int lastErrno_ = 0;
    std::uint64_t loggedErrnos_[3] = {};  // bit per errno below 192, logged once each
};

// ---- recording (tests) --------------------------------------------------------------------

class RecordingInjector final : public Injector {
  public:
    RecordingInjector() = default;

    // Copies the packet (checked like the real injectors) unless a failure is scheduled.
    bool send(net::Bytes ipv4Packet) override;
    // Records the batch's size in batches(), then sends each packet as send() does.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override {
        return lastMalformed_.empty() ? lastError_ : std::string(lastMalformed_);
    }
    std::string_view kind() const override { return "recording"; }

    // The next `count` well-formed packets fail as if the kernel refused them (errno text "injected
    // failure").
    void failNext(std::size_t count) { failNext_ = count; }
    const std::vector<std::vector<std::byte>>& packets() const { return packets_; }
    // The size of every sendBatch() call, in order.
    const std::vector<std::size_t>& batches() const { return batches_; }
    void clear() {
        packets_.clear();
        batches_.clear();
    }

  private:
    std::vector<std::vector<std::byte>> packets_;
    std::vector<std::size_t> batches_;
    std::size_t failNext_ = 0;
    std::string lastError_;
};

}  // namespace tcpcopy::inject
