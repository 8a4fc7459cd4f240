#include "injector_test_support.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/tcp_segment.h"

namespace {
std::atomic<std::size_t> allocationCount{0};
}  // namespace

// noinline: GCC otherwise inlines the pair and misreads malloc/free as a new/delete mismatch.
[[gnu::noinline]] void* operator new(std::size_t size) {
    allocationCount.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace tcpcopy::inject::testing {

std::size_t allocations() { return allocationCount.load(); }

std::vector<std::byte> buildSyn(std::uint16_t sport, std::uint16_t dport, std::size_t payloadLen,
                                net::IpAddr src, net::IpAddr dst) {
    std::vector<std::byte> payload(payloadLen, std::byte{'x'});
    net::TcpSegment seg;
    seg.src = src;
    seg.dst = dst;
    seg.sport = net::Port(sport);
    seg.dport = net::Port(dport);
    seg.seq = net::SeqNum(0x01020304);
    seg.flags = net::tcpflag::kSyn;
    seg.window = 65535;
    seg.ipId = 77;
    seg.ttl = 64;
    seg.payload = net::Bytes(payload);
    seg.payloadLength = static_cast<std::uint32_t>(payloadLen);
    std::vector<std::byte> out(net::kMaxHeadersLen + payloadLen);
    out.resize(net::buildIpTcp(seg, net::MutableBytes(out)));
    return out;
}

std::string runInPrivateNetns(ChildBody body) {
    int pipeFds[2];
    if (::pipe(pipeFds) != 0) {
        return "pipe failed";
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        return "fork failed";
    }
    if (pid == 0) {
        ::close(pipeFds[0]);
        std::string result;
        if (::unshare(CLONE_NEWNET) != 0) {
            result = "skip";
        } else {
            const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
            if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
                result = "cannot read lo flags";
            } else {
                ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
                result = ::ioctl(s, SIOCSIFFLAGS, &ifr) != 0 ? "cannot bring lo up" : body();
            }
        }
        const ssize_t ignored = ::write(pipeFds[1], result.data(), result.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(pipeFds[1]);
    std::string out;
    char buf[512];
    ssize_t n = 0;
    while ((n = ::read(pipeFds[0], buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return "child crashed";
    }
    return out;
}

namespace {

// Timeout and buffer room of a receiver: every SYN of a batch and the kernel's RST answers.
int prepareReceiver(int fd) {
    if (fd < 0) return fd;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const int bytes = 8 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    return fd;
}

}  // namespace

int openReceiver() { return prepareReceiver(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP)); }

int openReceiver6() {
    const int fd = prepareReceiver(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IPV6)));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_IPV6);
    at.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::vector<std::byte> receiveSyn(int fd, std::uint16_t sport) {
    for (int attempts = 0; attempts < 400; ++attempts) {
        std::vector<std::byte> buf(70000);
        sockaddr_storage from{};
        socklen_t fromLength = sizeof from;
        const ssize_t n =
            ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
        if (n < 0) {
            return {};
        }
        if (from.ss_family == AF_PACKET &&
            reinterpret_cast<const sockaddr_ll&>(from).sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        buf.resize(static_cast<std::size_t>(n));
        if (buf.size() < 40) {
            continue;
        }
        const auto at = [&](std::size_t i) { return std::to_integer<unsigned>(buf[i]); };
        const bool v6 = (at(0) >> 4) == 6;
        if (v6 && (buf.size() < 60 || at(6) != IPPROTO_TCP)) {
            continue;
        }
        const std::size_t tcp = v6 ? 40 : (at(0) & 0x0f) * 4;
        const unsigned gotSport = (at(tcp) << 8) | at(tcp + 1);
        const unsigned gotDport = (at(tcp + 2) << 8) | at(tcp + 3);
        if (gotSport == sport && gotDport == kProbePort && (at(tcp + 13) & net::tcpflag::kSyn) != 0) {
            return buf;
        }
    }
    return {};
}

void expectChildPassed(const std::string& result) {
    if (result == "skip") {
        GTEST_SKIP() << "cannot create a network namespace (needs CAP_SYS_ADMIN)";
    }
    EXPECT_EQ(result, "");
}

#if defined(__x86_64__) || defined(__aarch64__)
std::string refuseIpv6Sockets() {
#if defined(__x86_64__)
    constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#else
    constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#endif
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the family (low word)
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        return std::string("PR_SET_SECCOMP: ") + std::strerror(errno);
    }
    return {};
}
#else
std::string refuseIpv6Sockets() { return "no seccomp filter for this architecture"; }
#endif

}  // namespace tcpcopy::inject::testing
