#pragma once
// PacketRingCapture: tcpcopy's default live capture (no -i). Every IPv4 and IPv6 TCP packet this
// host receives, on every interface, read in batches from a memory-mapped ring.
//
// An AF_PACKET socket (SOCK_DGRAM, bound to every protocol on all interfaces, outgoing packets
// ignored) with a TPACKET_V3 RX ring (PACKET_RX_RING): the kernel writes packets, network header
// first (frames are LinkType::RawIp), into blocks of the ring shared with this process, and hands
// a block over when it is full or `blockTimeout` after its first packet. A classic BPF filter in
// the kernel keeps only packets addressed to this host at the link layer (pkttype PACKET_HOST)
// that are IPv4 TCP (to `dstPorts` when given; fragments after the first are kept too, so the
// decoder counts them), IPv4 UDP to `udpDstPorts` (-x udp: rules) when given, and IPv6 TCP (to
// `dstPorts` when given). An IPv6 packet whose first next header is an extension header
// (hop-by-hop, routing, fragment, destination options, AH) is kept whatever it carries: classic
// BPF cannot walk the chain, the decoder does, and the -x rules select. What it therefore sees,
// like the raw IP socket it replaced:
//   - incoming packets only: the host's own outgoing packets (tcpcopy's injected ones, the
//     online server's answers) are never seen, and a packet on `lo` is seen once, as it arrives;
//   - broadcast, multicast and other hosts' packets (promiscuous mode) are not kept.
// Unlike an IPPROTO_TCP raw socket, it sees packets before netfilter and IP reassembly: a
// packet the firewall drops, or one routed through the host, is seen when its link-layer
// destination is this host.
//
// Loss is counted by the kernel: PACKET_STATISTICS gives the packets dropped because every
// block was full (kernelDropped) and how often that happened (queueFreezes). Needs CAP_NET_RAW.
// Same non-blocking fd()/dispatch()/stats() shape as LiveCapture.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tcpcopy/capture/captured_frame.h"
#include "tcpcopy/net/decode.h"
#include "tcpcopy/os/result.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::capture {

struct PacketRingOptions {
    // Ring size in bytes (-B MiB), rounded down to whole blocks; at least two blocks.
    std::size_t ringBytes = std::size_t{64} << 20;
    // One block holds a 64 KiB GRO packet with its headers; a power of two pages.
    std::size_t blockBytes = std::size_t{128} << 10;
    // A block holding packets is handed over at the latest this long after it was opened (the
    // kernel's tp_retire_blk_tov, in whole milliseconds, at least 1): the most a packet waits in
    // the kernel when traffic is light. It also bounds what the ring holds: below about 150,000
    // packets/s a block is handed over by the timeout, part full, so the ring holds blocks x
    // timeout of traffic (64 MiB, 512 blocks: 2 s at 4 ms, 0.5 s at 1 ms).
    std::chrono::milliseconds blockTimeout{4};
    // Keep only TCP to these destination ports (plus IPv4 non-first fragments and IPv6 packets
    // with extension headers); empty: all TCP, IPv4 and IPv6.
    std::vector<std::uint16_t> dstPorts{};
    // False: no TCP at all (tcpcopy with only UDP rules).
    bool keepTcp = true;
    // Keep IPv4 UDP to these destination ports too (plus non-first fragments); empty: no UDP.
    std::vector<std::uint16_t> udpDstPorts{};
};

class PacketRingCapture {
  public:
    using Result = os::Result<PacketRingCapture>;

    // Creates the socket, the filter and the ring, maps it and binds to every interface.
    // Errors name the step and carry the system's text ("packet socket: Operation not permitted",
    // "packet ring of 64 MiB: PACKET_RX_RING: Cannot allocate memory").
    static Result open(const PacketRingOptions& options = {});

    PacketRingCapture(PacketRingCapture&&) noexcept = default;
    PacketRingCapture& operator=(PacketRingCapture&&) noexcept = default;

    // Polls readable when a block has been handed over and not read yet.
    int fd() const { return fd_.get(); }
    net::LinkType linkType() const { return net::LinkType::RawIp; }
    std::size_t ringBytes() const { return blockBytes_ * blockCount_; }
    std::size_t blockCount() const { return blockCount_; }

    // Hands up to `maxPackets` waiting packets (maxPackets <= 0: every one handed over) to
    // `onFrame(const CapturedFrame&, net::LinkType)`, block after block, returning each block to
    // the kernel once all its packets are handled. A frame is valid during its call only. Never
    // blocks, never fails (the ring has no error path): returns the number handled.
    template <class F>
    int dispatch(int maxPackets, F&& onFrame) {
        return dispatchRaw(maxPackets, &invokeFrameHandler<std::remove_reference_t<F>>, &onFrame);
    }
    int dispatchRaw(int maxPackets, FrameFn fn, void* context);

    // received: packets handed to dispatch()'s callback; kernelDropped: packets lost because the
    // ring was full; queueFreezes: how often it filled. Reads (and adds up) PACKET_STATISTICS.
    CaptureStats stats();
    // Empty: the ring cannot fail once open. Kept for the LiveCapture-shaped interface.
    const std::string& error() const { return error_; }

  private:
    // The ring's mapping: unmapped when destroyed, moved by handing the address over.
    class Mapping {
      public:
        Mapping(std::byte* addr, std::size_t size) : addr_(addr), size_(size) {}
        Mapping(Mapping&& other) noexcept;
        Mapping& operator=(Mapping&& other) noexcept;
        Mapping(const Mapping&) = delete;
        Mapping& operator=(const Mapping&) = delete;
        ~Mapping();
        std::byte* get() const { return addr_; }

      private:
        std::byte* addr_ = nullptr;
        std::size_t size_ = 0;
    };

    PacketRingCapture(os::UniqueFd fd, Mapping ring, std::size_t blockBytes, std::size_t blockCount);
    void readKernelStats();

    // fd_ is declared first so that it is closed after the mapping is gone.
    os::UniqueFd fd_;
    Mapping ring_;  // blockBytes_ * blockCount_ bytes shared with the kernel
    std::size_t blockBytes_ = 0;
    std::size_t blockCount_ = 0;
    std::size_t block_ = 0;         // the block read next
    std::uint32_t nextPacket_ = 0;  // index of the next unread packet in block_
    std::size_t nextOffset_ = 0;    // its offset in the block
    std::uint64_t received_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t freezes_ = 0;
    std::string error_;
};

}  // namespace tcpcopy::capture
