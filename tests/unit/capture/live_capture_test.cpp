// Live sources need CAP_NET_ADMIN/CAP_NET_RAW. Each test that sends packets first moves this test
// process into a private, anonymous network namespace with only a loopback device, so nothing
// reaches the host's interfaces and nothing is left behind when the process exits.

#include "tcpcopy/capture/live_capture.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
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

#include "tcpcopy/capture/raw_socket_capture.h"
#include "tcpcopy/net/decode.h"
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

TEST(RawSocketCapture, ReceivesIncomingTcpWithIpHeader) {
    ENTER_PRIVATE_NETNS_OR_SKIP();
    auto capture = RawSocketCapture::open({.receiveBufferBytes = 1 << 20});
    ASSERT_TRUE(capture) << capture.error();
    RawSocketCapture& raw = capture.value();
    EXPECT_EQ(raw.linkType(), net::LinkType::RawIp);
    EXPECT_EQ(raw.dispatch(10, [](const CapturedFrame&, net::LinkType) { FAIL() << "nothing was sent yet"; }),
              0);
    LoopbackHandshake hs;
    hs.start();
    auto before = std::chrono::system_clock::now().time_since_epoch();
    bool sawSyn = false;
    pumpUntil(
        raw,
        [&](const CapturedFrame& frame, net::LinkType link) {
            EXPECT_EQ(link, net::LinkType::RawIp);
            EXPECT_EQ(frame.caplen, frame.wireLength);
            EXPECT_LT(std::chrono::abs(frame.timestamp - before), std::chrono::seconds(30));
            net::DecodeResult r = net::decodeFrame(link, frame.data);
            ASSERT_EQ(r.status, net::DecodeStatus::Ok) << net::decodeStatusName(r.status);
            if (r.segment.flags == net::tcpflag::kSyn && r.segment.dport == net::Port(hs.port)) sawSyn = true;
        },
        [&] { return sawSyn; });
    EXPECT_TRUE(sawSyn);
    EXPECT_GE(raw.stats().received, 1u);
    EXPECT_EQ(raw.stats().kernelDropped, 0u);
}

}  // namespace
}  // namespace tcpcopy::capture
