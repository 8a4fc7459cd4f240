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

// The destination address of a checked packet, already in network order as sendto wants it.
sockaddr_in destinationOf(net::Bytes packet) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr.s_addr, packet.data() + 16, 4);
    return sin;
}

// What a batch send reports back to its injector: every refusal and failed message.
struct BatchFailures {
    virtual void malformed(std::string_view reason) = 0;
    virtual void failed(int error) = 0;

  protected:
    ~BatchFailures() = default;
};

// Sends `packets` in order on a raw IPv4 socket with IP_HDRINCL, one sendmmsg per up to kMaxBatch
// well-formed packets. Malformed packets are skipped; sendmmsg stops at the first failing
// message, which is counted before the rest of the chunk goes on. Allocates nothing.
std::size_t sendmmsgBatch(int fd, std::span<const net::Bytes> packets, InjectCounters& counters,
                          BatchFailures& failures) {
    std::array<mmsghdr, kMaxBatch> msgs;
    std::array<iovec, kMaxBatch> iovs;
    std::array<sockaddr_in, kMaxBatch> addrs;
    std::size_t sent = 0;
    std::size_t next = 0;  // first packet not yet queued into a chunk
    while (next < packets.size()) {
        std::size_t count = 0;
        while (next < packets.size() && count < kMaxBatch) {
            const net::Bytes p = packets[next++];
            if (const std::string_view reason = checkIpv4Packet(p); !reason.empty()) {
                ++counters.errors;
                ++counters.malformed;
                failures.malformed(reason);
                continue;
            }
            addrs[count] = destinationOf(p);
            iovs[count] = iovec{const_cast<std::byte*>(p.data()), p.size()};
            msgs[count] = mmsghdr{};
            msgs[count].msg_hdr.msg_name = &addrs[count];
            msgs[count].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            msgs[count].msg_hdr.msg_iov = &iovs[count];
            msgs[count].msg_hdr.msg_iovlen = 1;
            ++count;
        }
        std::size_t done = 0;
        while (done < count) {
            const int r = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(count - done), 0);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                ++counters.errors;
                failures.failed(errno);
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
                    failures.failed(EMSGSIZE);
                }
            }
            done += static_cast<std::size_t>(r);
        }
    }
    return sent;
}

}  // namespace

std::string_view checkIpv4Packet(net::Bytes packet) {
    if (packet.size() < net::kIpv4HeaderLen) return "shorter than an IPv4 header";
    if (packet.size() > kMaxIpv4Packet) return "longer than 65535 bytes";
    const net::IpLayer ip = net::parseIpLayer(packet);
    if (ip.version != 4) return "IP version is not 4";
    if (ip.headerLength < net::kIpv4HeaderLen || ip.headerLength > packet.size()) {
        return "IPv4 header length is impossible";
    }
    if (ip.status != net::DecodeStatus::Ok || ip.headerLength + ip.payloadLength != packet.size()) {
        return "IPv4 total length differs from the packet size";
    }
    return {};
}

bool Injector::admit(net::Bytes packet) {
    const std::string_view reason = checkIpv4Packet(packet);
    if (reason.empty()) return true;
    ++counters_.errors;
    ++counters_.malformed;
    noteMalformed(reason);
    return false;
}

void Injector::noteMalformed(std::string_view reason) {
    lastMalformed_ = reason;
    if (malformedLogged_) return;
    malformedLogged_ = true;
    log::component("inject")->warn(
        "{}: refusing a packet that is not injectable IPv4: {} (further ones are only counted)", kind(),
        reason);
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

os::Result<std::unique_ptr<LibnetInjector>> LibnetInjector::create() {
    char errbuf[LIBNET_ERRBUF_SIZE] = {};
    libnet_t* l = libnet_init(LIBNET_RAW4_ADV, nullptr, errbuf);
    if (l == nullptr) {
        std::string text(errbuf);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
            text.pop_back();
        }
        return os::Result<std::unique_ptr<LibnetInjector>>::fail(text.empty() ? "libnet_init failed" : text);
    }
    return os::Result<std::unique_ptr<LibnetInjector>>::ok(
        std::unique_ptr<LibnetInjector>(new LibnetInjector(l)));
}

int LibnetInjector::fd() const { return libnet_getfd(libnet_.get()); }

bool LibnetInjector::send(net::Bytes ipv4Packet) {
    if (!admit(ipv4Packet)) return false;
    const auto size = static_cast<std::uint32_t>(ipv4Packet.size());
    const int written = libnet_adv_write_raw_ipv4(
        libnet_.get(), reinterpret_cast<const std::uint8_t*>(ipv4Packet.data()), size);
    if (written < 0 || static_cast<std::uint32_t>(written) != size) {
        const int error = errno;
        ++counters_.errors;
        failed_ = true;
        lastErrno_ = 0;
        lastMalformed_ = {};
        if (firstTime(loggedErrnos_, error)) {  // formats (and allocates) only the first time
            log::component("inject")->error(
                "{}: send failed: {} (further errors of this kind are only counted)", kind(), lastError());
        }
        return false;
    }
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += size;
    return true;
}

std::size_t LibnetInjector::sendBatch(std::span<const net::Bytes> packets) {
    struct Failures final : BatchFailures {
        LibnetInjector& self;
        explicit Failures(LibnetInjector& s) : self(s) {}
        void malformed(std::string_view reason) override { self.noteMalformed(reason); }
        void failed(int error) override {
            self.failed_ = false;
            self.lastErrno_ = error;
            self.lastMalformed_ = {};
            if (firstTime(self.loggedErrnos_, error)) {
                log::component("inject")->error(
                    "{}: send failed: {} (further errors of this kind are only counted)", self.kind(),
                    std::strerror(error));
            }
        }
    } failures(*this);
    return sendmmsgBatch(fd(), packets, counters_, failures);
}

std::string LibnetInjector::lastError() const {
    if (!lastMalformed_.empty()) {
        return std::string(lastMalformed_);
    }
    if (lastErrno_ != 0) {
        return std::strerror(lastErrno_);
    }
    if (!failed_) {
        return {};
    }
    std::string text(libnet_geterror(libnet_.get()));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

// ---- raw socket ---------------------------------------------------------------------------

os::Result<std::unique_ptr<RawSocketInjector>> RawSocketInjector::create(const RawSocketOptions& options) {
    using R = os::Result<std::unique_ptr<RawSocketInjector>>;
    const int type = SOCK_RAW | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
    os::UniqueFd fd(::socket(AF_INET, type, IPPROTO_RAW));
    if (!fd) {
        return R::fail(std::string("raw socket: ") + std::strerror(errno));
    }
    const int on = 1;
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0) {
        return R::fail(std::string("raw socket: IP_HDRINCL: ") + std::strerror(errno));
    }
    if (options.sendBufferBytes > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options.sendBufferBytes,
                                                    sizeof options.sendBufferBytes) != 0) {
        return R::fail(std::string("raw socket: SO_SNDBUF: ") + std::strerror(errno));
    }
    return R::ok(std::unique_ptr<RawSocketInjector>(new RawSocketInjector(std::move(fd))));
}

void RawSocketInjector::recordErrno(int error) {
    ++counters_.errors;
    noteErrno(error);
}

void RawSocketInjector::noteErrno(int error) {
    lastErrno_ = error;
    lastMalformed_ = {};
    if (firstTime(loggedErrnos_, error)) {
        log::component("inject")->error("{}: send failed: {} (further errors of this kind are only counted)",
                                        kind(), std::strerror(error));
    }
}

bool RawSocketInjector::send(net::Bytes ipv4Packet) {
    if (!admit(ipv4Packet)) return false;
    const sockaddr_in to = destinationOf(ipv4Packet);
    ssize_t n = 0;
    do {
        n = ::sendto(fd_.get(), ipv4Packet.data(), ipv4Packet.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || static_cast<std::size_t>(n) != ipv4Packet.size()) {
        recordErrno(n < 0 ? errno : EMSGSIZE);
        return false;
    }
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += ipv4Packet.size();
    return true;
}

std::size_t RawSocketInjector::sendBatch(std::span<const net::Bytes> packets) {
    struct Failures final : BatchFailures {
        RawSocketInjector& self;
        explicit Failures(RawSocketInjector& s) : self(s) {}
        void malformed(std::string_view reason) override { self.noteMalformed(reason); }
        void failed(int error) override { self.noteErrno(error); }
    } failures(*this);
    return sendmmsgBatch(fd_.get(), packets, counters_, failures);
}

std::string RawSocketInjector::lastError() const {
    if (!lastMalformed_.empty()) {
        return std::string(lastMalformed_);
    }
    return lastErrno_ == 0 ? std::string() : std::string(std::strerror(lastErrno_));
}

// ---- recording ----------------------------------------------------------------------------

std::size_t RecordingInjector::sendBatch(std::span<const net::Bytes> packets) {
    batches_.push_back(packets.size());
    return Injector::sendBatch(packets);
}

bool RecordingInjector::send(net::Bytes ipv4Packet) {
    if (!admit(ipv4Packet)) return false;
    if (failNext_ > 0) {
        --failNext_;
        ++counters_.errors;
        lastMalformed_ = {};
        lastError_ = "injected failure";
        return false;
    }
    packets_.emplace_back(ipv4Packet.begin(), ipv4Packet.end());
    ++counters_.calls;
    ++counters_.packets;
    counters_.bytes += ipv4Packet.size();
    return true;
}

}  // namespace tcpcopy::inject
