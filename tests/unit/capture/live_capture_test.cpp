// Live sources need CAP_NET_ADMIN/CAP_NET_RAW. Each test that sends packets first moves this test
// process into a private, anonymous network namespace with only a loopback device, so nothing
// reaches the host's interfaces and nothing is left behind when the process exits.

#include "tcpcopy/capture/live_capture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "tcpcopy/capture/packet_ring_capture.h"
#include "tcpcopy/inject/injector.h"
#include "tcpcopy/net/builder.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/udp.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::capture {
namespace {

using ::testing::StartsWith;

// Enters a fresh network namespace and brings its loopback up. Returns "" or why it could not.
std::string enterPrivateNetns() {
    if (::unshare(CLONE_NEWNET) != 0) return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    os::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!sock || ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return "SIOCGIFFLAGS lo failed";
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return "SIOCSIFFLAGS lo failed";
    return {};
}

#define ENTER_PRIVATE_NETNS_OR_SKIP()                                           \
    do {                                                                        \
        if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private netns"; \
        std::string netnsError = enterPrivateNetns();                           \
        if (!netnsError.empty()) GTEST_SKIP() << netnsError;                    \
    } while (0)

// A listening socket on 127.0.0.1 and a non-blocking connect to it: a handshake on loopback.
struct LoopbackHandshake {
    os::UniqueFd listener;
    os::UniqueFd client;
    std::uint16_t port = 0;

    void start() {
        listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(listener);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ASSERT_EQ(::listen(listener.get(), 4), 0);
        socklen_t len = sizeof addr;
        ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
        port = ntohs(addr.sin_port);
        client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(client);
        int rc = ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    }
};

// Polls `fd` and dispatches until `done()` or two seconds pass.
template <class Source, class F, class Done>
void pumpUntil(Source& source, F&& onFrame, Done&& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        pollfd p{source.fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
        ASSERT_GE(source.dispatch(64, onFrame), 0) << source.error();
    }
}

TEST(DeviceList, SplitsCommaSeparatedNames) {
    auto list = parseDeviceList("eth0,eth1");
    ASSERT_TRUE(list) << list.error();
    EXPECT_EQ(list.value(), (std::vector<std::string>{"eth0", "eth1"}));
    auto spaced = parseDeviceList(" eth0 , veth-a1 ");
    ASSERT_TRUE(spaced);
    EXPECT_EQ(spaced.value(), (std::vector<std::string>{"eth0", "veth-a1"}));
    auto any = parseDeviceList("any");
    ASSERT_TRUE(any);
    EXPECT_EQ(any.value(), std::vector<std::string>{"any"});
    EXPECT_TRUE(isAnyDevice("any"));
    EXPECT_FALSE(isAnyDevice("eth0"));
}

TEST(DeviceList, RejectsMalformedLists) {
    EXPECT_EQ(parseDeviceList("").error(), "device list '' has an empty name");
    EXPECT_EQ(parseDeviceList("eth0,,eth1").error(), "device list 'eth0,,eth1' has an empty name");
    EXPECT_EQ(parseDeviceList("eth0,").error(), "device list 'eth0,' has an empty name");
    EXPECT_EQ(parseDeviceList("eth0,eth0").error(), "device list 'eth0,eth0' names eth0 twice");
    EXPECT_EQ(parseDeviceList("eth0,any").error(),
              "device list 'eth0,any': 'any' already covers every device");
}

TEST(LiveCapture, MissingDeviceErrorNamesDevice) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to reach the device check";
    auto capture = LiveCapture::open({.device = "tcpcopy-nodev9"});
    ASSERT_FALSE(capture);
    EXPECT_THAT(capture.error(), StartsWith("tcpcopy-nodev9: No such device exists"));
}

TEST(LiveCapture, EmptyDeviceNameIsRefused) {
    auto capture = LiveCapture::open({});
    ASSERT_FALSE(capture);
    EXPECT_EQ(capture.error(), "capture device name is empty");
}

TEST(LiveCapture, BadFilterNamesDeviceAndExpression) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = LiveCapture::open({.device = "lo", .filter = "tcp port eighty"});
    ASSERT_FALSE(capture);
    EXPECT_THAT(capture.error(), StartsWith("lo: filter 'tcp port eighty': "));
}

TEST(LiveCapture, CapturesLoopbackHandshakeThroughSelectableFd) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    LoopbackHandshake hs;
    auto capture = LiveCapture::open({.device = "lo", .filter = "tcp"});
    ASSERT_TRUE(capture) << capture.error();
    LiveCapture& live = capture.value();
    EXPECT_GE(live.fd(), 0);
    EXPECT_EQ(live.linkType(), net::LinkType::Ethernet);
    EXPECT_EQ(live.device(), "lo");
    EXPECT_EQ(
        live.dispatch(10, [](const CapturedFrame&, net::LinkType) { FAIL() << "nothing was sent yet"; }), 0);

    hs.start();
    auto before = std::chrono::system_clock::now().time_since_epoch();
    bool sawSyn = false;
    bool sawSynAck = false;
    pumpUntil(
        live,
        [&](const CapturedFrame& frame, net::LinkType link) {
            EXPECT_EQ(frame.caplen, frame.data.size());
            EXPECT_GE(frame.wireLength, frame.caplen);
            EXPECT_LT(std::chrono::abs(frame.timestamp - before), std::chrono::seconds(30));
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::Ok) << net::decodeStatusName(r.status);
            EXPECT_EQ(r.segment.src, net::Ipv4Addr::fromOctets(127, 0, 0, 1));
            if (r.segment.flags == net::tcpflag::kSyn && r.segment.dport == net::Port(hs.port)) {
                sawSyn = true;
                EXPECT_TRUE(r.segment.options.mss);
            }
            if (r.segment.flags == (net::tcpflag::kSyn | net::tcpflag::kAck) &&
                r.segment.sport == net::Port(hs.port)) {
                sawSynAck = true;
            }
        },
        [&] { return sawSyn && sawSynAck; });
    EXPECT_TRUE(sawSyn);
    EXPECT_TRUE(sawSynAck);
    auto stats = live.stats();
    ASSERT_TRUE(stats) << live.error();
    EXPECT_GE(stats->received, 2u);
    EXPECT_EQ(stats->kernelDropped, 0u);
}

TEST(LiveCapture, FilterExcludesOtherTraffic) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = LiveCapture::open({.device = "lo", .filter = "udp"});
    ASSERT_TRUE(capture) << capture.error();
    LoopbackHandshake hs;
    hs.start();
    int frames = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{capture.value().fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
        capture.value().dispatch(64, [&](const CapturedFrame&, net::LinkType) { ++frames; });
    }
    EXPECT_EQ(frames, 0);
}

TEST(LiveCapture, AnyDeviceUsesLinuxCookedHeader) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = LiveCapture::open({.device = "any", .filter = "tcp"});
    ASSERT_TRUE(capture) << capture.error();
    EXPECT_TRUE(capture.value().linkType() == net::LinkType::LinuxSll ||
                capture.value().linkType() == net::LinkType::LinuxSll2);
    LoopbackHandshake hs;
    hs.start();
    bool sawSyn = false;
    pumpUntil(
        capture.value(),
        [&](const CapturedFrame& frame, net::LinkType link) {
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            if (r.status == net::DecodeStatus::Ok && r.segment.flags == net::tcpflag::kSyn) sawSyn = true;
        },
        [&] { return sawSyn; });
    EXPECT_TRUE(sawSyn);
}

// Injects `count` RSTs from 127.0.0.1:40000 to 127.0.0.1:`port` (a closed port: the kernel answers
// nothing) through a raw IP socket. Returns "" or why it could not.
std::string injectResets(std::uint16_t port, std::size_t count) {
    auto injector = inject::RawSocketInjector::create();
    if (!injector) return injector.error();
    net::TcpSegment seg;
    seg.src = net::Ipv4Addr::fromOctets(127, 0, 0, 1);
    seg.dst = seg.src;
    seg.sport = net::Port(40000);
    seg.dport = net::Port(port);
    seg.flags = net::tcpflag::kRst;
    seg.ttl = 64;
    std::vector<std::vector<std::byte>> packets(count, std::vector<std::byte>(net::kMaxHeadersLen));
    std::vector<net::Bytes> views;
    for (std::size_t i = 0; i < count; ++i) {
        seg.seq = net::SeqNum(static_cast<std::uint32_t>(i));
        packets[i].resize(net::buildIpTcp(seg, packets[i]));
        views.emplace_back(packets[i]);
    }
    const std::size_t sent = injector.value()->sendBatch(views);
    return sent == count ? "" : "sent " + std::to_string(sent) + " of " + std::to_string(count);
}

struct Handshake {
    int syns = 0;
    int synAcks = 0;
    bool finalAck = false;
    void see(const net::TcpSegment& s, std::uint16_t port) {
        if (s.flags == net::tcpflag::kSyn && s.dport == net::Port(port)) ++syns;
        if (s.flags == (net::tcpflag::kSyn | net::tcpflag::kAck) && s.sport == net::Port(port)) ++synAcks;
        if (s.flags == net::tcpflag::kAck && s.dport == net::Port(port)) finalAck = true;
    }
};

TEST(PacketRingCapture, ReceivesIncomingTcpWithIpHeader) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20});
    ASSERT_TRUE(capture) << capture.error();
    PacketRingCapture& ring = capture.value();
    EXPECT_EQ(ring.linkType(), net::LinkType::RawIp);
    EXPECT_EQ(ring.ringBytes(), std::size_t{1} << 20);
    EXPECT_EQ(ring.blockCount(), 8u);
    EXPECT_EQ(
        ring.dispatch(10, [](const CapturedFrame&, net::LinkType) { FAIL() << "nothing was sent yet"; }), 0);
    LoopbackHandshake hs;
    hs.start();
    auto before = std::chrono::system_clock::now().time_since_epoch();
    bool sawSyn = false;
    pumpUntil(
        ring,
        [&](const CapturedFrame& frame, net::LinkType link) {
            EXPECT_EQ(link, net::LinkType::RawIp);
            EXPECT_EQ(frame.caplen, frame.wireLength);
            EXPECT_EQ(frame.caplen, frame.data.size());
            EXPECT_LT(std::chrono::abs(frame.timestamp - before), std::chrono::seconds(30));
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::Ok) << net::decodeStatusName(r.status);
            if (r.segment.flags == net::tcpflag::kSyn && r.segment.dport == net::Port(hs.port)) sawSyn = true;
        },
        [&] { return sawSyn; });
    EXPECT_TRUE(sawSyn);
    const CaptureStats stats = ring.stats();
    EXPECT_GE(stats.received, 1u);
    EXPECT_EQ(stats.kernelDropped, 0u);
    EXPECT_EQ(stats.queueFreezes, 0u);
}

// On lo a packet is sent and received by the same host: the ring must hold it once (as it
// arrives), never also as the outgoing copy.
TEST(PacketRingCapture, SeesALoopbackPacketOnce) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20});
    ASSERT_TRUE(capture) << capture.error();
    LoopbackHandshake hs;
    hs.start();
    Handshake seen;
    pumpUntil(
        capture.value(),
        [&](const CapturedFrame& frame, net::LinkType link) {
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            if (r.status == net::DecodeStatus::Ok) seen.see(r.segment, hs.port);
        },
        [&] { return seen.finalAck; });
    EXPECT_TRUE(seen.finalAck);
    EXPECT_EQ(seen.syns, 1);
    EXPECT_EQ(seen.synAcks, 1);
}

// Reads the ring until the final ACK of a loopback handshake to `port` arrives: every packet read
// goes to `port` in the family asked (the filter took nothing else), the SYN once, no SYN-ACK.
void expectOnlyTheHandshakeTo(PacketRingCapture& ring, std::uint16_t port, bool ipv6) {
    Handshake seen;
    pumpUntil(
        ring,
        [&](const CapturedFrame& frame, net::LinkType link) {
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::Ok) << net::decodeStatusName(r.status);
            EXPECT_EQ(r.segment.src.isV6(), ipv6);
            EXPECT_EQ(r.segment.dport, net::Port(port)) << "a packet to another port passed the filter";
            seen.see(r.segment, port);
        },
        [&] { return seen.finalAck; });
    EXPECT_TRUE(seen.finalAck);
    EXPECT_EQ(seen.syns, 1);
    EXPECT_EQ(seen.synAcks, 0);  // addressed to the client's port
}

TEST(PacketRingCapture, KeepsOnlyTcpToTheGivenPorts) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    LoopbackHandshake hs;
    hs.start();  // binds the listener: its port is the filter's
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20, .dstPorts = {hs.port}});
    ASSERT_TRUE(capture) << capture.error();
    // The handshake may have gone before the ring opened: a second connection to the same port.
    LoopbackHandshake second;
    second.listener = std::move(hs.listener);
    second.port = hs.port;
    second.client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(hs.port);
    ::connect(second.client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    expectOnlyTheHandshakeTo(capture.value(), hs.port, false);
}

// tcpcopy with only -x udp: rules: UDP to the rules' ports passes, TCP does not; a datagram to
// `other` passes only when `otherPasses` (more ports than the filter holds: every UDP packet).
void expectUdpFilter(const std::vector<std::uint16_t>& udpPorts, std::uint16_t wanted, std::uint16_t other,
                     bool otherPasses) {
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20, .keepTcp = false, .udpDstPorts = udpPorts});
    ASSERT_TRUE(capture) << capture.error();
    LoopbackHandshake hs;
    hs.start();  // TCP: not kept
    const os::UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(udp);
    auto sendTo = [&udp](std::uint16_t port, const char* text) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        ASSERT_GT(
            ::sendto(udp.get(), text, std::strlen(text), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
            0);
    };
    sendTo(other, "another port");
    sendTo(wanted, "wanted");
    bool seen = false;
    bool otherSeen = false;
    pumpUntil(
        capture.value(),
        [&](const CapturedFrame& frame, net::LinkType link) {
            const net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::NotTcp) << "a TCP packet passed the filter";
            const net::IpLayer ip = net::parseIpLayer(r.ipPacket);
            ASSERT_EQ(ip.protocol, 17);
            const net::UdpParseResult datagram = net::parseUdp(ip.payload, ip.payloadLength);
            ASSERT_EQ(datagram.status, net::UdpStatus::Ok);
            if (datagram.datagram.dport == net::Port(other)) {
                EXPECT_TRUE(otherPasses) << "a datagram to another port passed";
                otherSeen = true;
            } else {
                EXPECT_EQ(datagram.datagram.dport, net::Port(wanted));
                seen = true;
            }
        },
        [&] { return seen; });
    EXPECT_TRUE(seen);
    EXPECT_EQ(otherSeen, otherPasses);
}

TEST(PacketRingCapture, KeepsUdpToTheUdpPortsAndNoTcpWhenAsked) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    expectUdpFilter({5353}, 5353, 5354, false);
}

TEST(PacketRingCapture, KeepsEveryUdpPacketBeyondThePortsTheFilterHolds) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    std::vector<std::uint16_t> ports;
    for (std::uint16_t port = 6000; port < 6201; ++port) ports.push_back(port);  // 201 ports
    expectUdpFilter(ports, 6100, 7000, true);
}

// Nothing reads while 400 packets arrive at a ring of two 4 KiB blocks: most are lost, and the
// kernel's count of them plus what was read is exactly what was sent.
TEST(PacketRingCapture, CountsEveryPacketAFullRingDropped) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    constexpr std::uint16_t kPort = 5555;
    constexpr std::size_t kSent = 400;
    auto capture = PacketRingCapture::open({.ringBytes = 8192, .blockBytes = 4096, .dstPorts = {kPort}});
    ASSERT_TRUE(capture) << capture.error();
    PacketRingCapture& ring = capture.value();
    ASSERT_EQ(ring.blockCount(), 2u);
    ASSERT_EQ(injectResets(kPort, kSent), "");
    std::size_t read = 0;
    CaptureStats stats;
    pumpUntil(
        ring, [&](const CapturedFrame&, net::LinkType) { ++read; },
        [&] {
            stats = ring.stats();
            return read + stats.kernelDropped >= kSent;
        });
    EXPECT_EQ(stats.received, read);
    EXPECT_GT(stats.kernelDropped, 0u);
    EXPECT_GT(stats.queueFreezes, 0u);
    EXPECT_EQ(read + stats.kernelDropped, kSent);
}

// A TUN device in the private namespace, up: what is written to its descriptor arrives on it as
// incoming IP packets, with no outgoing copy (unlike lo, where libpcap's socket gets both).
struct TunDevice {
    os::UniqueFd fd;
    std::string name = "tcpcopy-tun0";
    std::string open() {
        fd.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
        if (!fd) return std::string("/dev/net/tun: ") + std::strerror(errno);
        ifreq ifr{};
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return std::string("TUNSETIFF: ") + std::strerror(errno);
        os::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!sock || ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return "SIOCGIFFLAGS failed";
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return "SIOCSIFFLAGS failed";
        return {};
    }
    // Writes one IP packet (IPv4 or IPv6, by its first nibble); returns "" or why not.
    std::string write(net::Bytes packet) {
        if (::write(fd.get(), packet.data(), packet.size()) != static_cast<ssize_t>(packet.size())) {
            return std::strerror(errno);
        }
        return {};
    }
    // Writes `count` TCP RSTs to port `port`; returns "" or why not.
    std::string send(std::uint16_t port, std::size_t count) {
        net::TcpSegment seg;
        seg.src = net::Ipv4Addr::fromOctets(192, 0, 2, 1);
        seg.dst = net::Ipv4Addr::fromOctets(192, 0, 2, 2);
        seg.sport = net::Port(40000);
        seg.dport = net::Port(port);
        seg.flags = net::tcpflag::kRst;
        seg.ttl = 64;
        std::vector<std::byte> packet(net::kMaxHeadersLen);
        for (std::size_t i = 0; i < count; ++i) {
            seg.seq = net::SeqNum(static_cast<std::uint32_t>(i));
            const std::size_t n = net::buildIpTcp(seg, packet);
            if (::write(fd.get(), packet.data(), n) != static_cast<ssize_t>(n)) return std::strerror(errno);
        }
        return {};
    }
};

// The same for libpcap: 4000 packets arrive at a 64 KiB buffer nobody reads.
TEST(LiveCapture, CountsEveryPacketAFullBufferDropped) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    constexpr std::uint16_t kPort = 5556;
    constexpr std::size_t kSent = 4000;
    TunDevice tun;
    if (std::string error = tun.open(); !error.empty()) GTEST_SKIP() << "no TUN device: " << error;
    auto capture = LiveCapture::open({.device = tun.name,
                                      .snaplen = 128,
                                      .bufferBytes = 64 << 10,
                                      .direction = Direction::In,
                                      .filter = "tcp dst port " + std::to_string(kPort)});
    ASSERT_TRUE(capture) << capture.error();
    LiveCapture& live = capture.value();
    ASSERT_EQ(tun.send(kPort, kSent), "");
    std::size_t read = 0;
    std::optional<CaptureStats> stats;
    pumpUntil(
        live, [&](const CapturedFrame&, net::LinkType) { ++read; },
        [&] {
            stats = live.stats();
            return stats && read + stats->kernelDropped >= kSent;
        });
    ASSERT_TRUE(stats) << live.error();
    EXPECT_EQ(stats->received, read);
    EXPECT_GT(stats->kernelDropped, 0u);
    EXPECT_EQ(read + stats->kernelDropped, kSent) << "read " << read << ", dropped " << stats->kernelDropped;
}

// A listening socket on [::1] and a non-blocking connect to it: an IPv6 handshake on loopback.
struct Ipv6LoopbackHandshake {
    os::UniqueFd listener;
    os::UniqueFd client;
    std::uint16_t port = 0;
    sockaddr_in6 addr{};

    void listen() {
        listener.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(listener);
        addr.sin6_family = AF_INET6;
        addr.sin6_addr = in6addr_loopback;
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
            << std::strerror(errno);
        ASSERT_EQ(::listen(listener.get(), 4), 0);
        socklen_t len = sizeof addr;
        ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
        port = ntohs(addr.sin6_port);
    }
    void connect() {
        client.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(client);
        int rc = ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    }
};

// IPv6 on lo, like IPv4: the handshake to the filter's port is seen once, as it arrives (the ring
// is bound to every protocol, so it would also get the outgoing copies), and nothing else.
TEST(PacketRingCapture, KeepsIpv6TcpToTheGivenPortsOnce) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    Ipv6LoopbackHandshake hs;
    hs.listen();
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20, .dstPorts = {hs.port}});
    ASSERT_TRUE(capture) << capture.error();
    hs.connect();
    expectOnlyTheHandshakeTo(capture.value(), hs.port, true);
}

// An IPv6 TCP packet from 2001:db8::1:40000 to 2001:db8::2:`port`; with `destinationOptions`, an
// 8-byte destination options header (PadN) sits between the fixed header and TCP.
std::vector<std::byte> ipv6Packet(std::uint16_t port, bool destinationOptions, std::uint8_t protocol = 6) {
    net::TcpSegment seg;
    seg.src = *net::IpAddr::parse("2001:db8::1");
    seg.dst = *net::IpAddr::parse("2001:db8::2");
    seg.sport = net::Port(40000);
    seg.dport = net::Port(port);
    seg.flags = net::tcpflag::kRst;
    seg.ttl = 64;
    std::vector<std::byte> packet(net::kMaxHeadersLen);
    packet.resize(net::buildIpTcp(seg, packet));
    packet[6] = std::byte{protocol};
    if (destinationOptions) {
        const std::byte options[8] = {std::byte{protocol}, std::byte{0}, std::byte{1}, std::byte{4}};
        packet.insert(packet.begin() + 40, std::begin(options), std::end(options));
        packet[5] = std::byte{static_cast<std::uint8_t>(std::to_integer<int>(packet[5]) + 8)};
        packet[6] = std::byte{60};
    }
    return packet;
}

// Classic BPF cannot walk IPv6 extension headers: a packet that has them passes whatever port it
// goes to (the decoder walks them, the rules select); without them only the filter's ports pass.
// IPv6 UDP never does (UDP copy is IPv4 only).
TEST(PacketRingCapture, KeepsIpv6PacketsWithExtensionHeadersAndNoIpv6Udp) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    TunDevice tun;
    if (std::string error = tun.open(); !error.empty()) GTEST_SKIP() << "no TUN device: " << error;
    auto capture = PacketRingCapture::open({.ringBytes = 1 << 20, .dstPorts = {80}, .udpDstPorts = {53}});
    ASSERT_TRUE(capture) << capture.error();
    ASSERT_EQ(tun.write(ipv6Packet(81, false)), "");      // another port: not kept
    ASSERT_EQ(tun.write(ipv6Packet(53, false, 17)), "");  // IPv6 UDP: not kept
    ASSERT_EQ(tun.write(ipv6Packet(81, true)), "");       // extension header: kept
    ASSERT_EQ(tun.write(ipv6Packet(80, false)), "");      // the port: kept, and last
    std::vector<std::pair<std::uint16_t, bool>> kept;     // port, behind an extension header
    pumpUntil(
        capture.value(),
        [&](const CapturedFrame& frame, net::LinkType link) {
            const net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::Ok) << net::decodeStatusName(r.status);
            kept.emplace_back(r.segment.dport.value(), std::to_integer<int>(r.ipPacket[6]) == 60);
        },
        [&] { return kept.size() >= 2; });
    EXPECT_EQ(kept, (std::vector<std::pair<std::uint16_t, bool>>{{81, true}, {80, false}}));
}

}  // namespace
}  // namespace tcpcopy::capture
