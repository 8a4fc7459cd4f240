#pragma once
// Injecting at the link layer (-o DEV, the original's --pcap-send build): each IP packet goes out
// of DEV as a whole Ethernet frame (ethertype 0x0800 for IPv4, 0x86DD for IPv6), through an
// AF_PACKET socket, without the kernel's routing, rp_filter or ip(6)tables on the tcpcopy host.
// The frame's MAC addresses come per target address: from the -x rule
// ("80@SRC_MAC-198.18.1.2:80@DST_MAC", as the original wrote them) or resolved at start-up
// (next_hop.h). The IPv4 header checksum is recomputed into the frame (the kernel does not fill
// it in on this path); an IPv6 header has none and goes out as given.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
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

// The frame addresses for packets to one destination IP (either family).
struct LinkPeer {
    net::IpAddr destination;
    MacAddress source{};
    MacAddress nextHop{};
};

class LinkInjector final : public Injector {
  public:
    // Opens an AF_PACKET socket bound to `device`. Packets to a destination not in `peers` are
    // refused and counted. Errors name the device: "-o eth9: no such device".
    static os::Result<std::unique_ptr<LinkInjector>> create(const std::string& device,
                                                            const std::vector<LinkPeer>& peers);

    bool send(net::Bytes ipPacket) override;
    // One sendmmsg per up to kMaxBatch frames, of either family.
    std::size_t sendBatch(std::span<const net::Bytes> packets) override;
    std::string lastError() const override;
    std::string_view kind() const override { return "link"; }

  private:
    // Ethernet header plus, for IPv4, the IP header with its checksum recomputed; the rest of the
    // packet is sent from the caller's bytes.
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
    std::unordered_map<net::IpAddr, LinkPeer, net::IpAddrHash> peers_;  // by destination
    std::vector<Frame> frames_;
    int lastErrno_ = 0;
    std::string lastProblem_;
    std::uint64_t loggedErrnos_[3] = {};
};

}  // namespace tcpcopy::inject
