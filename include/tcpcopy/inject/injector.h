#pragma once
// Injecting complete IP packets (IPv4 or IPv6) at the IP layer, toward the target server.
//
// Injector is the interface the session engine's wiring hands packets to. Implementations:
//   LibnetInjector    libnet in LIBNET_RAW4_ADV mode (libnet_adv_write_raw_ipv4), as the
//                     original TCPCopy does, and in LIBNET_RAW6_ADV mode for IPv6
//                     (libnet_write_raw_ipv6: Debian's libnet 1.1.6 has no
//                     libnet_adv_write_raw_ipv6, and its RAW6 socket takes whole packets); batches
//                     go out with sendmmsg on libnet's own raw sockets (libnet has no batch call;
//                     its write is one sendto on that socket);
//   RawSocketInjector socket(AF_INET, SOCK_RAW, IPPROTO_RAW) with IP_HDRINCL, and
//                     socket(AF_INET6, SOCK_RAW, IPPROTO_RAW) with IPV6_HDRINCL, sendto /
//                     sendmmsg, needing no library;
//   RecordingInjector keeps copies of what it was given, for tests.
// The kernel routes each packet by its destination address (IPv6: from the sockaddr_in6 given
// with it, port 0, no scope: link-local targets are not reachable this way). On Linux it fills in
// the IPv4 total length and header checksum; IPv6 headers go out exactly as given. The TCP
// checksum must already be right (net::buildIpTcp computes it for both families). Both real
// injectors need CAP_NET_RAW (see os::hasCapability).
//
// IPv6 is opened apart from IPv4 (Ipv6Socket): a host without IPv6 still replays IPv4, and
// only an IPv6 packet reports, once and naming IPv6, why it cannot be sent.
//
// The data path: send() and sendBatch() allocate nothing and never throw. A packet that is not a
// plausible IP packet (checkIpPacket) is refused before any system call and counted as
// malformed. A failed system call is counted; its errno is logged once per distinct errno per
// injector.

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

// Why a byte span is not an injectable IP packet, or an empty view when it is. IPv4: at least its
// header, IHL possible, total length the span's size, at most 65535 bytes. IPv6: at least the
// 40-byte header, 40 + payload length the span's size (no jumbograms: at most 40 + 65535).
std::string_view checkIpPacket(net::Bytes packet);

// When an injector opens its IPv6 socket. Either way a failure (a host without IPv6, no
// CAP_NET_RAW any more) does not fail create(): every IPv6 packet then counts as an error, the
// reason is logged once naming IPv6, and IPv4 goes on.
enum class Ipv6Socket {
    OnFirstPacket,  // when the first IPv6 packet is sent: a replay of IPv4 alone never opens one
    AtCreate,       // in create(), while the process still holds CAP_NET_RAW (before -u drops it)
};

class Injector {
  public:
    virtual ~Injector() = default;

    // Sends one complete IPv4 or IPv6 packet (header onwards). The bytes are read during the call only.
    // Returns false when the packet was refused or the system call failed (counted, see above).
    virtual bool send(net::Bytes ipPacket) = 0;
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

    // The check every send() starts with: a packet checkIpPacket refuses is counted (errors,
    // malformed) and handed to noteMalformed(). False for such a packet.
    bool admit(net::Bytes packet);
    // Keeps the reason a packet was refused for lastError() and logs the first one.
    void noteMalformed(std::string_view reason);
    // Keeps why IPv6 packets (already counted as errors) cannot be sent, for lastError(), and logs
    // it the first time: the IPv6 socket could not be opened (`why`, text the derived injector
    // keeps for its lifetime).
    void noteNoIpv6(std::string_view why);
    // The text lastError() reports for the failures noted here, or "" when the last failure was
    // the derived injector's own (a system call's errno).
    std::string_view lastNoted() const { return !lastMalformed_.empty() ? lastMalformed_ : lastNoIpv6_; }
    // Forgets the failures noted here: the derived injector's own failure is the latest.
    void clearNoted() {
        lastMalformed_ = {};
        lastNoIpv6_ = {};
    }

    InjectCounters counters_;

  private:
    std::string_view lastMalformed_;  // a checkIpPacket reason (static text), or empty
    std::string_view lastNoIpv6_;     // why IPv6 cannot be sent (the derived injector's text), or empty
    bool malformedLogged_ = false;
    bool noIpv6Logged_ = false;
};

// ---- libnet ------------------------------------------------------------------------------

class LibnetInjector final : public Injector {
  public:
    // Opens libnet's raw IPv4 socket (and its IPv6 one, see Ipv6Socket). The error is libnet's
    // text, e.g. "libnet_open_raw4(): SOCK_RAW allocation failed: Operation not permitted".
    static os::Result<std::unique_ptr<LibnetInjector>> create(Ipv6Socket ipv6 = Ipv6Socket::OnFirstPacket);

    ~LibnetInjector() override;
    LibnetInjector(const LibnetInjector&) = delete;
    LibnetInjector& operator=(const LibnetInjector&) = delete;

    bool send(net::Bytes ipPacket) override;
    // sendmmsg on libnet's sockets, as RawSocketInjector::sendBatch: the same socket and
    // destination address libnet's write would use, up to kMaxBatch packets of one family per
    // system call.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "libnet"; }
    // libnet's IPv4 socket and its IPv6 one (-1 until opened), for tests and socket options.
    int fd() const;
    int fd6() const;

  private:
    struct Deleter {
        void operator()(libnet_context* l) const;
    };
    using Context = std::unique_ptr<libnet_context, Deleter>;
    explicit LibnetInjector(libnet_context* l);
    // The IPv6 context, opened on the first call; null (ipv6Error_ says why) when it cannot be.
    libnet_context* ipv6();
    void noteErrno(int error);
    void noteLibnetFailure(libnet_context* context, int error);

    Context libnet_;   // LIBNET_RAW4_ADV
    Context libnet6_;  // LIBNET_RAW6_ADV, once opened
    bool ipv6Tried_ = false;
    std::string ipv6Error_;               // why libnet6_ could not be opened
    libnet_context* failed_ = nullptr;    // the last failure is this context's (libnet_geterror)
    int lastErrno_ = 0;                   // the last failure is a sendmmsg errno
    std::uint64_t loggedErrnos_[3] = {};  // bit per errno below 192, logged once each
};

// ---- raw socket ---------------------------------------------------------------------------

struct RawSocketOptions {
    bool nonBlocking = false;  // EAGAIN then counts as an error instead of waiting for room
    int sendBufferBytes = 0;   // SO_SNDBUF (both families); 0 keeps the system default
    Ipv6Socket ipv6 = Ipv6Socket::OnFirstPacket;
};

// Largest number of packets one sendmmsg call carries; longer batches are split.
inline constexpr std::size_t kMaxBatch = 64;

class RawSocketInjector final : public Injector {
  public:
    static constexpr std::size_t kMaxBatch = inject::kMaxBatch;

    // Errors carry the system's text: "raw socket: Operation not permitted" (the IPv4 socket's;
    // the IPv6 one's are reported when IPv6 is sent, see Ipv6Socket).
    static os::Result<std::unique_ptr<RawSocketInjector>> create(const RawSocketOptions& options = {});

    bool send(net::Bytes ipPacket) override;
    // One sendmmsg per up to kMaxBatch consecutive packets of one family (a batch alternating
    // families takes a call per run); malformed packets are skipped and counted.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "raw-socket"; }
    int fd() const { return fd_.get(); }
    int fd6() const { return fd6_.get(); }  // -1 until opened

  private:
    RawSocketInjector(os::UniqueFd fd, const RawSocketOptions& options)
        : fd_(std::move(fd)), options_(options) {}
    // The IPv6 socket, opened on the first call; -1 (ipv6Error_ says why) when it cannot be.
    int ipv6();
    void recordErrno(int error);  // counts the error, then noteErrno
    void noteErrno(int error);    // remembers and logs (once per errno) a failure already counted

    os::UniqueFd fd_;   // AF_INET, IP_HDRINCL
    os::UniqueFd fd6_;  // AF_INET6, IPPROTO_RAW (header included), once opened
    RawSocketOptions options_;
    bool ipv6Tried_ = false;
    std::string ipv6Error_;  // why fd6_ could not be opened: "raw IPv6 socket: ..."
    int lastErrno_ = 0;
    std::uint64_t loggedErrnos_[3] = {};  // bit per errno below 192, logged once each
};

// ---- recording (tests) --------------------------------------------------------------------

class RecordingInjector final : public Injector {
  public:
    RecordingInjector() = default;

    // Copies the packet (checked like the real injectors) unless a failure is scheduled.
    bool send(net::Bytes ipPacket) override;
    // Records the batch's size in batches(), then sends each packet as send() does.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override {
        return lastNoted().empty() ? lastError_ : std::string(lastNoted());
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
