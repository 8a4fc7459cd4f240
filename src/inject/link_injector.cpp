#include "tcpcopy/inject/link_injector.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "log_once.h"
#include "tcpcopy/log/log.h"
#include "tcpcopy/net/builder.h"

namespace tcpcopy::inject {
namespace {

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<MacAddress> parseMac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    MacAddress mac{};
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hexDigit(text[i * 3]);
        const int lo = hexDigit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
        mac[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return mac;
}

std::string formatMac(const MacAddress& mac) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                  mac[5]);
    return text;
}

os::Result<std::unique_ptr<LinkInjector>> LinkInjector::create(const std::string& device,
                                                               const std::vector<LinkPeer>& peers) {
    using R = os::Result<std::unique_ptr<LinkInjector>>;
    const unsigned ifindex = if_nametoindex(device.c_str());
    if (ifindex == 0) return R::fail("-o " + device + ": no such device");
    os::UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: sends, never receives
    if (!fd) return R::fail("-o " + device + ": packet socket: " + std::strerror(errno));
    std::unique_ptr<LinkInjector> injector(
        new LinkInjector(std::move(fd), static_cast<int>(ifindex), device));
    for (const LinkPeer& peer : peers) injector->peers_[peer.destination] = peer;
    return R::ok(std::move(injector));
}

LinkInjector::LinkInjector(os::UniqueFd fd, int ifindex, std::string device)
    : fd_(std::move(fd)), ifindex_(ifindex), device_(std::move(device)), frames_(kMaxBatch) {}

bool LinkInjector::prepare(net::Bytes packet, Frame& frame) {
    if (!admit(packet)) return false;
    const auto* ip = reinterpret_cast<const std::uint8_t*>(packet.data());
    const bool v6 = (ip[0] >> 4) == 6;
    const net::IpAddr destination =
        v6 ? net::IpAddr::fromWire(packet.data() + 24)
           : net::IpAddr(net::Ipv4Addr((std::uint32_t{ip[16]} << 24) | (std::uint32_t{ip[17]} << 16) |
                                       (std::uint32_t{ip[18]} << 8) | ip[19]));
    const auto peer = peers_.find(destination);
    if (peer == peers_.end()) {
        ++counters_.errors;
        if (lastProblem_.empty()) {
            log::component("inject")->error(
                "link: no MAC address for {} on {} (further ones are only counted)", destination.toString(),
                device_);
        }
        lastProblem_ = "no MAC address for " + destination.toString();
        clearNoted();
        return false;
    }
    std::uint8_t* head = frame.head.data();
    std::memcpy(head, peer->second.nextHop.data(), 6);
    std::memcpy(head + 6, peer->second.source.data(), 6);
    if (v6) {
        head[12] = 0x86;  // ETH_P_IPV6
        head[13] = 0xdd;
        frame.headLength = 14;  // no header checksum: the whole packet goes from the caller's bytes
        return true;
    }
    const std::size_t ipHeader = std::size_t{ip[0] & 0x0fu} * 4;
    head[12] = 0x08;  // ETH_P_IP
    head[13] = 0x00;
    std::memcpy(head + 14, ip, ipHeader);
    head[14 + 10] = 0;
    head[14 + 11] = 0;
    const std::uint16_t sum =
        net::internetChecksum(net::Bytes(reinterpret_cast<const std::byte*>(head + 14), ipHeader));
    head[14 + 10] = static_cast<std::uint8_t>(sum >> 8);
    head[14 + 11] = static_cast<std::uint8_t>(sum & 0xff);
    frame.headLength = 14 + ipHeader;
    return true;
}

bool LinkInjector::send(net::Bytes ipPacket) {
    return sendBatch(std::span<const net::Bytes>(&ipPacket, 1)) == 1;
}

std::size_t LinkInjector::sendBatch(std::span<const net::Bytes> packets) {
    // The frame's protocol, per family: the frame's own ethertype is in its header.
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_IP);
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    sockaddr_ll to6 = to;
    to6.sll_protocol = htons(ETH_P_IPV6);
    std::array<mmsghdr, kMaxBatch> messages{};
    std::array<std::array<iovec, 2>, kMaxBatch> iov{};
    std::array<std::size_t, kMaxBatch> sizes{};
    std::size_t sent = 0;
    std::size_t next = 0;
    while (next < packets.size()) {
        std::size_t count = 0;
        for (; next < packets.size() && count < kMaxBatch; ++next) {
            const net::Bytes packet = packets[next];
            Frame& frame = frames_[count];
            if (!prepare(packet, frame)) continue;
            const std::size_t copied = frame.headLength - 14;  // the IPv4 header in the head, if any
            iov[count][0] = {frame.head.data(), frame.headLength};
            iov[count][1] = {const_cast<std::byte*>(packet.data() + copied), packet.size() - copied};
            messages[count].msg_hdr = {};
            messages[count].msg_hdr.msg_name = frame.head[12] == 0x86 ? &to6 : &to;
            messages[count].msg_hdr.msg_namelen = sizeof to;
            messages[count].msg_hdr.msg_iov = iov[count].data();
            messages[count].msg_hdr.msg_iovlen = 2;
            sizes[count] = packet.size();
            ++count;
        }
        std::size_t done = 0;
        while (done < count) {
            const int n =
                ::sendmmsg(fd_.get(), messages.data() + done, static_cast<unsigned>(count - done), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                noteErrno(errno);
                ++counters_.errors;  // the first of the rest failed; try the others after it
                ++done;
                continue;
            }
            ++counters_.calls;
            for (int i = 0; i < n; ++i) {
                ++counters_.packets;
                counters_.bytes += sizes[done + static_cast<std::size_t>(i)];
            }
            sent += static_cast<std::size_t>(n);
            done += static_cast<std::size_t>(n);
        }
    }
    return sent;
}

void LinkInjector::noteErrno(int error) {
    lastErrno_ = error;
    lastProblem_.clear();
    clearNoted();
    if (firstTime(loggedErrnos_, error)) {
        log::component("inject")->error(
            "link: send on {} failed: {} (further errors of this kind are only counted)", device_,
            std::strerror(error));
    }
}

std::string LinkInjector::lastError() const {
    if (!lastNoted().empty()) return std::string(lastNoted());
    if (!lastProblem_.empty()) return lastProblem_;
    return lastErrno_ != 0 ? std::strerror(lastErrno_) : std::string();
}

}  // namespace tcpcopy::inject
