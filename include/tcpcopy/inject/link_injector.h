#pragma once
// Injecting at the link layer (-o DEV, the original's --pcap-send build): each IPv4 packet goes
// out of DEV as a whole Ethernet frame, through an AF_PACKET socket, without the kernel's
// routing, rp_filter or iptables on the tcpcopy host. The frame's MAC addresses come per target
// address: from the -x rule ("80@SRC_MAC-198.18.1.2:80@DST_MAC", as the original wrote them) or
// resolved at start-up (next_hop.h). The IP header checksum is recomputed into the frame (the
// kernel does not fill it in on this path).

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tcpcopy/inject/injector.h"

namespace tcpcopy::inject {

using MacAddress = std::array<std::uint8_t, 6>;

// "00:11:22:33:44:55" (also '-' separated, either case); nullopt otherwise.
std::optional<MacAddress> parseMac(std::string_view text);
std::string formatMac(const MacAddress& mac);

// The frame addresses for packets to one destination IP.
struct LinkPeer {
    net::Ipv4Addr destination;
    MacAddress source{};
    MacAddress nextHop{};
};

class LinkInjector final : public Injector {
  public:
    // Opens an AF_PACKET socket bound to `device`. Packets to a destination not in `peers` are
    // refused and counted. Errors name the device: "-o eth9: no such device".
    static os::Result<std::unique_ptr<LinkInjector>> create(const std::string& device,
                                                            const std::vector<LinkPeer>& peers);

    bool send(net::Bytes ipv4Packet) override;
    // One sendmmsg per up to kMaxBatch frames.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "link"; }

  private:
    // Ethernet header plus the IPv4 header with its checksum recomputed; the rest of the packet
    // is sent from the caller's bytes.
    static constexpr std::size_t kHeadRoom = 14 + 60;
    struct Frame {
        std::array<std::uint8_t, kHeadRoom> head;
        std::size_t headLength = 0;
    };

    LinkInjector(os::UniqueFd fd, int ifindex, std::string device);
    // Fills `frame` for `packet`; false (counted, noted) when the packet cannot go out.
    bool prepare(net::Bytes packet, Frame& frame);
    void noteErrno(int error);

    os::UniqueFd fd_;
    int ifindex_;
    std::string device_;
    std::unordered_map<std::uint32_t, LinkPeer> peers_;  // by destination (host order)
    std::vector<Frame> frames_;
    int lastErrno_ = 0;
    std::string lastProblem_;
    std::uint64_t loggedErrnos_[3] = {};
};

}  // namespace tcpcopy::inject
