#include "tcpcopy/inject/injector.h"

#include <fcntl.h>
#include <libnet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "log_once.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::inject {
namespace {

constexpr std::size_t kMaxIpv4Packet = 65535;
constexpr std::size_t kMaxIpv6Payload = 65535;
constexpr std::size_t kIpv6DestinationOffset = 24;

// The IP version of a packet checkIpPacket accepted: 4 or 6.
unsigned versionOf(net::Bytes packet) { return std::to_integer<unsigned>(packet[0]) >> 4; }

// Where sendto/sendmmsg sends a checked packet: its destination address, port 0, already in
// network order.
union Destination {
    sockaddr_in v4;
    sockaddr_in6 v6;
};

socklen_t destinationOf(net::Bytes packet, Destination& to) {
    if (versionOf(packet) == 6) {
        to.v6 = sockaddr_in6{};
        to.v6.sin6_family = AF_INET6;
        std::memcpy(&to.v6.sin6_addr, packet.data() + kIpv6DestinationOffset, 16);
        return sizeof(sockaddr_in6);
    }
    to.v4 = sockaddr_in{};
    to.v4.sin_family = AF_INET;
    std::memcpy(&to.v4.sin_addr.s_addr, packet.data() + 16, 4);
    return sizeof(sockaddr_in);
}

std::string trimmed(const char* text) {
    std::string out(text == nullptr ? "" : text);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

// What a batch send needs from its injector: a socket per family, and where each refusal and
// failed message is reported.
struct BatchSockets {
    // The socket for packets of IP version 4 or 6; -1 when there is none (IPv6 could not be
    // opened: the run's packets are counted as errors and noSocket() called).
    virtual int socketFor(unsigned version) = 0;
    virtual void noSocket() = 0;
    virtual void malformed(std::string_view reason) = 0;
    virtual void failed(int error) = 0;

  protected:
    ~BatchSockets() = default;
};

// Sends `packets` in order on raw sockets that take whole IP packets, one sendmmsg per up to
// kMaxBatch consecutive well-formed packets of one family (the socket differs per family).
// Malformed packets are skipped without ending a run; sendmmsg stops at the first failing
// message, which is counted before the rest of the chunk goes on. Allocates nothing.
std::size_t sendmmsgBatch(std::span<const net::Bytes> packets, InjectCounters& counters,
                          BatchSockets& sockets) {
    std::array<mmsghdr, kMaxBatch> msgs;
    std::array<iovec, kMaxBatch> iovs;
    std::array<Destination, kMaxBatch> addrs;
    std::size_t sent = 0;
    std::size_t next = 0;  // first packet not yet queued into a chunk
    while (next < packets.size()) {
        std::size_t count = 0;
        unsigned version = 0;
        for (; next < packets.size() && count < kMaxBatch; ++next) {
            const net::Bytes p = packets[next];
            if (const std::string_view reason = checkIpPacket(p); !reason.empty()) {
                ++counters.errors;
                ++counters.malformed;
                sockets.malformed(reason);
                continue;
            }
            if (count > 0 && versionOf(p) != version) break;  // the run of one family ends
            version = versionOf(p);
            msgs[count] = mmsghdr{};
            msgs[count].msg_hdr.msg_namelen = destinationOf(p, addrs[count]);
            msgs[count].msg_hdr.msg_name = &addrs[count];
            iovs[count] = iovec{const_cast<std::byte*>(p.data()), p.size()};
            msgs[count].msg_hdr.msg_iov = &iovs[count];
            msgs[count].msg_hdr.msg_iovlen = 1;
            ++count;
        }
        if (count == 0) continue;
        const int fd = sockets.socketFor(version);
        if (fd < 0) {
            counters.errors += count;
            sockets.noSocket();
            continue;
        }
        std::size_t done = 0;
        while (done < count) {
            const int r = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(count - done), 0);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                ++counters.errors;
                sockets.failed(errno);
                ++done;
                continue;
            }
            ++counters.calls;
            for (int i = 0; i < r; ++i) {
                const mmsghdr& m = msgs[done + static_cast<std::size_t>(i)];
                if (m.msg_len == m.msg_hdr.msg_iov->iov_len) {
                    ++counters.packets;
                    counters.bytes += m.msg_len;
                    ++sent;
                } else {
                    ++counters.errors;
                    sockets.failed(EMSGSIZE);
                }
            }
            done += static_cast<std::size_t>(r);
        }
    }
    return sent;
}

std::string_view checkIpv4(net::Bytes packet) {
    if (packet.size() < net::kIpv4HeaderLen) return "shorter than an IPv4 header";
    if (packet.size() > kMaxIpv4Packet) return "longer than 65535 bytes";
    const net::IpLayer ip = net::parseIpLayer(packet);
    if (ip.headerLength < net::kIpv4HeaderLen || ip.headerLength > packet.size()) {
        return "IPv4 header length is impossible";
    }
    if (ip.status != net::DecodeStatus::Ok || ip.headerLength + ip.payloadLength != packet.size()) {
        return "IPv4 total length differs from the packet size";
    }
    return {};
}

std::string_view checkIpv6(net::Bytes packet) {
    if (packet.size() < net::kIpv6HeaderLen) return "shorter than an IPv6 header";
    if (packet.size() > net::kIpv6HeaderLen + kMaxIpv6Payload)
        return "longer than an IPv6 header and 65535 bytes";
    const std::size_t payloadLength =
        (std::to_integer<std::size_t>(packet[4]) << 8) | std::to_integer<std::size_t>(packet[5]);
    if (net::kIpv6HeaderLen + payloadLength != packet.size()) {
        return "IPv6 payload length differs from the packet size";
    }
    return {};
}

}  // namespace

std::string_view checkIpPacket(net::Bytes packet) {
    if (packet.empty()) return "an empty packet";
    switch (versionOf(packet)) {
        case 4:
            return checkIpv4(packet);
        case 6:
            return checkIpv6(packet);
        default:
            return "IP version is neither 4 nor 6";
    }
}

bool Injector::admit(net::Bytes packet) {
    const std::string_view reason = checkIpPacket(packet);
    if (reason.empty()) return true;
    ++counters_.errors;
    ++counters_.malformed;
    noteMalformed(reason);
    return false;
}

void Injector::noteMalformed(std::string_view reason) {
    lastMalformed_ = reason;
    lastNoIpv6_ = {};
    if (malformedLogged_) return;
    malformedLogged_ = true;
    log::component("inject")->warn(
        "{}: refusing a packet that is not an injectable IP packet: {} (further ones are only counted)",
        kind(), reason);
}

void Injector::noteNoIpv6(std::string_view why) {
    lastMalformed_ = {};
    lastNoIpv6_ = why;
    if (noIpv6Logged_) return;
    noIpv6Logged_ = true;
    log::component("inject")->error(
        "{}: cannot send IPv6 packets: {} (each IPv6 packet is counted as an error; IPv4 goes on)", kind(),
        why);
}

std::size_t Injector::sendBatch(std::span<const net::Bytes> packets) {
    std::size_t sent = 0;
    for (const net::Bytes packet : packets) {
        sent += send(packet) ? 1 : 0;
    }
    return sent;
}

// ---- libnet ------------------------------------------------------------------------------

void LibnetInjector::Deleter::operator()(libnet_context* l) const { libnet_destroy(l); }

LibnetInjector::LibnetInjector(libnet_context* l) : libnet_(l) {}

LibnetInjector::~LibnetInjector() = default;

os::Result<std::unique_ptr<LibnetInjector>> LibnetInjector::create(Ipv6Socket ipv6) {
    char errbuf[LIBNET_ERRBUF_SIZE] = {};
    libnet_t* l = libnet_init(LIBNET_RAW4_ADV, nullptr, errbuf);
    if (l == nullptr) {
        const std::string text = trimmed(errbuf);
        return os::Result<std::unique_ptr<LibnetInjector>>::fail(text.empty() ? "libnet_init failed" : text);
    }
    std::unique_ptr<LibnetInjector> injector(new LibnetInjector(l));
    if (ipv6 == Ipv6Socket::AtCreate) injector->ipv6();
    return os::Result<std::unique_ptr<LibnetInjector>>::ok(std::move(injector));
}

libnet_context* LibnetInjector::ipv6() {
    if (!ipv6Tried_) {
        ipv6Tried_ = true;
        char errbuf[LIBNET_ERRBUF_SIZE] = {};
        libnet6_.reset(libnet_init(LIBNET_RAW6_ADV, nullptr, errbuf));
        if (!libnet6_) {
            const std::string text = trimmed(errbuf);
            ipv6Error_ = text.empty() ? "libnet_init(LIBNET_RAW6_ADV) failed" : text;
        }
    }
    return libnet6_.get();
}

int LibnetInjector::fd() const { return libnet_getfd(libnet_.get()); }

int LibnetInjector::fd6() const { return libnet6_ ? libnet_getfd(libnet6_.get()) : -1; }

void LibnetInjector::noteErrno(int error) {
    failed_ = nullptr;
    lastErrno_ = error;
    clearNoted();
    if (firstTime(loggedErrnos_, error)) {
        log::component("inject")->error("{}: send failed: {} (further errors of this kind are only counted)",
                                        kind(), std::strerror(error));
    }
}

void LibnetInjector::noteLibnetFailure(libnet_context* context, int error) {
    failed_ = context;
    lastErrno_ = 0;
    clearNoted();
    if (firstTime(loggedErrnos_, error)) {  // formats (and allocates) only the first time
        log::component("inject")->error("{}: send failed: {} (further errors of this kind are only counted)",
                                        kind(), lastError());
    }
}

bool LibnetInjector::send(net::Bytes ipPacket) {
    if (!admit(ipPacket)) return false;
    const auto size = static_cast<std::uint32_t>(ipPacket.size());
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(ipPacket.data());
    libnet_context* context = libnet_.get();
    int written = 0;
    if (versionOf(ipPacket) == 6) {
        context = ipv6();
        if (context == nullptr) {
            ++counters_.errors;
            noteNoIpv6(ipv6Error_);
            return false;
        }
        // libnet 1.1.6 has no libnet_adv_write_raw_ipv6; this is what it wraps in later versions.
        written = libnet_write_raw_ipv6(context, bytes, size);
    } else {
        written = libnet_adv_write_raw_ipv4(context, bytes, size);
    }
    if (written < 0 || static_cast<std::uint32_t>(written) != size) {
        const int error = errno;
        ++counters_.errors;
        noteLibnetFailure(context, error);
        return false;
    }
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += size;
    return true;
}

std::size_t LibnetInjector::sendBatch(std::span<const net::Bytes> packets) {
    struct Sockets final : BatchSockets {
        LibnetInjector& self;
        explicit Sockets(LibnetInjector& s) : self(s) {}
        int socketFor(unsigned version) override {
            if (version == 4) return self.fd();
            libnet_context* context = self.ipv6();
            return context == nullptr ? -1 : libnet_getfd(context);
        }
        void noSocket() override { self.noteNoIpv6(self.ipv6Error_); }
        void malformed(std::string_view reason) override { self.noteMalformed(reason); }
        void failed(int error) override { self.noteErrno(error); }
    } sockets(*this);
    return sendmmsgBatch(packets, counters_, sockets);
}

std::string LibnetInjector::lastError() const {
    if (!lastNoted().empty()) {
        return std::string(lastNoted());
    }
    if (lastErrno_ != 0) {
        return std::strerror(lastErrno_);
    }
    return failed_ == nullptr ? std::string() : trimmed(libnet_geterror(failed_));
}

// ---- raw socket ---------------------------------------------------------------------------

namespace {

// A raw socket of `family` that takes whole IP packets, with the options asked for; the error
// names the socket: "raw socket: Operation not permitted", "raw IPv6 socket: ...".
os::Result<os::UniqueFd> openRawSocket(int family, const RawSocketOptions& options) {
    using R = os::Result<os::UniqueFd>;
    const std::string what = family == AF_INET6 ? "raw IPv6 socket" : "raw socket";
    const int type = SOCK_RAW | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
    os::UniqueFd fd(::socket(family, type, IPPROTO_RAW));
    if (!fd) {
        return R::fail(what + ": " + std::strerror(errno));
    }
    const int on = 1;
    if (family == AF_INET) {
        if (::setsockopt(fd.get(), IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0) {
            return R::fail(what + ": IP_HDRINCL: " + std::strerror(errno));
        }
    } else {
        // Linux includes the header on every IPPROTO_RAW socket of AF_INET6 already; IPV6_HDRINCL
        // (Linux 4.5) says so explicitly, and an older kernel's ENOPROTOOPT changes nothing.
#ifdef IPV6_HDRINCL
        if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_HDRINCL, &on, sizeof on) != 0 && errno != ENOPROTOOPT) {
            return R::fail(what + ": IPV6_HDRINCL: " + std::strerror(errno));
        }
#endif
    }
    if (options.sendBufferBytes > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options.sendBufferBytes,
                                                    sizeof options.sendBufferBytes) != 0) {
        return R::fail(what + ": SO_SNDBUF: " + std::strerror(errno));
    }
    return R::ok(std::move(fd));
}

}  // namespace

os::Result<std::unique_ptr<RawSocketInjector>> RawSocketInjector::create(const RawSocketOptions& options) {
    using R = os::Result<std::unique_ptr<RawSocketInjector>>;
    auto fd = openRawSocket(AF_INET, options);
    if (!fd) return R::fail(fd.error());
    std::unique_ptr<RawSocketInjector> injector(new RawSocketInjector(std::move(fd).value(), options));
    if (options.ipv6 == Ipv6Socket::AtCreate) injector->ipv6();
    return R::ok(std::move(injector));
}

int RawSocketInjector::ipv6() {
    if (!ipv6Tried_) {
        ipv6Tried_ = true;
        auto fd = openRawSocket(AF_INET6, options_);
        if (fd) {
            fd6_ = std::move(fd).value();
        } else {
            ipv6Error_ = fd.error();
        }
    }
    return fd6_.get();
}

void RawSocketInjector::recordErrno(int error) {
    ++counters_.errors;
    noteErrno(error);
}

void RawSocketInjector::noteErrno(int error) {
    lastErrno_ = error;
    clearNoted();
    if (firstTime(loggedErrnos_, error)) {
        log::component("inject")->error("{}: send failed: {} (further errors of this kind are only counted)",
                                        kind(), std::strerror(error));
    }
}

bool RawSocketInjector::send(net::Bytes ipPacket) {
    if (!admit(ipPacket)) return false;
    int fd = fd_.get();
    if (versionOf(ipPacket) == 6) {
        fd = ipv6();
        if (fd < 0) {
            ++counters_.errors;
            noteNoIpv6(ipv6Error_);
            return false;
        }
    }
    Destination to;
    const socklen_t toLength = destinationOf(ipPacket, to);
    ssize_t n = 0;
    do {
        n = ::sendto(fd, ipPacket.data(), ipPacket.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     toLength);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || static_cast<std::size_t>(n) != ipPacket.size()) {
        recordErrno(n < 0 ? errno : EMSGSIZE);
        return false;
    }
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += ipPacket.size();
    return true;
}

std::size_t RawSocketInjector::sendBatch(std::span<const net::Bytes> packets) {
    struct Sockets final : BatchSockets {
        RawSocketInjector& self;
        explicit Sockets(RawSocketInjector& s) : self(s) {}
        int socketFor(unsigned version) override { return version == 4 ? self.fd_.get() : self.ipv6(); }
        void noSocket() override { self.noteNoIpv6(self.ipv6Error_); }
        void malformed(std::string_view reason) override { self.noteMalformed(reason); }
        void failed(int error) override { self.noteErrno(error); }
    } sockets(*this);
    return sendmmsgBatch(packets, counters_, sockets);
}

std::string RawSocketInjector::lastError() const {
    if (!lastNoted().empty()) {
        return std::string(lastNoted());
    }
    return lastErrno_ == 0 ? std::string() : std::string(std::strerror(lastErrno_));
}

// ---- recording ----------------------------------------------------------------------------

std::size_t RecordingInjector::sendBatch(std::span<const net::Bytes> packets) {
    batches_.push_back(packets.size());
    return Injector::sendBatch(packets);
}

bool RecordingInjector::send(net::Bytes ipPacket) {
    if (!admit(ipPacket)) return false;
    if (failNext_ > 0) {
        --failNext_;
        ++counters_.errors;
        clearNoted();
        lastError_ = "injected failure";
        return false;
    }
    packets_.emplace_back(ipPacket.begin(), ipPacket.end());
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += ipPacket.size();
    return true;
}

}  // namespace tcpcopy::inject
