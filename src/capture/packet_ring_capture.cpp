#include "tcpcopy/capture/packet_ring_capture.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace tcpcopy::capture {
namespace {

std::string systemError(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

constexpr std::uint32_t kKeepWhole = 0xffffffffu;  // a filter's "accept the whole packet"

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    return sock_filter{code, jt, jf, k};
}

// Classic BPF over a SOCK_DGRAM packet (offset 0 = the IPv4 header):
//   pkttype == PACKET_HOST && version == 4 &&
//   ((keepTcp && protocol == TCP && (later fragment || no tcpPorts || destination port in tcpPorts)) ||
//    (keepUdp && protocol == UDP && (later fragment || no udpPorts || destination port in udpPorts)))
// The ports together are at most kMaxFilterPorts, so that every jump reaches its target.
std::vector<sock_filter> inboundFilter(bool keepTcp, const std::vector<std::uint16_t>& tcpPorts, bool keepUdp,
                                       const std::vector<std::uint16_t>& udpPorts) {
    std::vector<sock_filter> prog;
    // Each `reject` / `accept` / `udp` placeholder is patched once the program's length is known.
    std::vector<std::size_t> toReject;
    std::vector<std::size_t> toAccept;
    std::vector<std::size_t> toUdp;
    auto jeqElseReject = [&](std::uint32_t k) {
        toReject.push_back(prog.size());
        prog.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0));
    };
    // Accepts later fragments and the destination ports given, rejects the rest.
    auto portBlock = [&](const std::vector<std::uint16_t>& ports) {
        prog.push_back(stmt(BPF_LD | BPF_H | BPF_ABS, 6));
        toAccept.push_back(prog.size());
        prog.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 0, 0));  // a later fragment
        prog.push_back(stmt(BPF_LDX | BPF_B | BPF_MSH, 0));              // X = IP header length
        prog.push_back(stmt(BPF_LD | BPF_H | BPF_IND, 2));               // TCP/UDP destination port
        for (std::uint16_t port : ports) {
            toAccept.push_back(prog.size());
            prog.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 0));
        }
        toReject.push_back(prog.size());
        prog.push_back(stmt(BPF_JMP | BPF_JA, 0));
    };
    prog.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_PKTTYPE)));
    jeqElseReject(PACKET_HOST);
    prog.push_back(stmt(BPF_LD | BPF_B | BPF_ABS, 0));
    prog.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0));
    jeqElseReject(0x40);
    prog.push_back(stmt(BPF_LD | BPF_B | BPF_ABS, 9));
    if (keepUdp) {
        toUdp.push_back(prog.size());
        prog.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 0));
    }
    if (keepTcp) {
        jeqElseReject(IPPROTO_TCP);
        if (tcpPorts.empty()) {
            toAccept.push_back(prog.size());
            prog.push_back(stmt(BPF_JMP | BPF_JA, 0));
        } else {
            portBlock(tcpPorts);
        }
    } else {
        toReject.push_back(prog.size());
        prog.push_back(stmt(BPF_JMP | BPF_JA, 0));
    }
    const std::size_t udp = prog.size();
    if (keepUdp && udpPorts.empty()) {
        toAccept.push_back(prog.size());
        prog.push_back(stmt(BPF_JMP | BPF_JA, 0));
    } else if (keepUdp) {
        portBlock(udpPorts);
    }
    const std::size_t accept = prog.size();
    prog.push_back(stmt(BPF_RET | BPF_K, kKeepWhole));
    const std::size_t reject = prog.size();
    prog.push_back(stmt(BPF_RET | BPF_K, 0));
    auto patch = [&prog](std::size_t i, std::size_t to, bool whenTrue) {
        const std::size_t distance = to - i - 1;
        if (BPF_OP(prog[i].code) == BPF_JA) {
            prog[i].k = static_cast<std::uint32_t>(distance);
        } else if (whenTrue) {
            prog[i].jt = static_cast<std::uint8_t>(distance);
        } else {
            prog[i].jf = static_cast<std::uint8_t>(distance);
        }
    };
    for (std::size_t i : toAccept) patch(i, accept, true);
    for (std::size_t i : toUdp) patch(i, udp, true);
    for (std::size_t i : toReject) patch(i, reject, false);
    return prog;
}

std::vector<std::uint16_t> sortedUnique(std::vector<std::uint16_t> ports) {
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    return ports;
}

tpacket_block_desc* blockAt(std::byte* ring, std::size_t blockBytes, std::size_t index) {
    return reinterpret_cast<tpacket_block_desc*>(ring + index * blockBytes);
}

bool ownedByUser(tpacket_block_desc* block) {
    return (__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

void returnToKernel(tpacket_block_desc* block) {
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

}  // namespace

PacketRingCapture::Result PacketRingCapture::open(const PacketRingOptions& options) {
    // Conditional jumps in classic BPF reach at most 255 instructions ahead: beyond 200 ports
    // the filter keeps every TCP (and, with UDP ports, every UDP) packet; the rules select later.
    std::vector<std::uint16_t> ports = sortedUnique(options.dstPorts);
    std::vector<std::uint16_t> udpPorts = sortedUnique(options.udpDstPorts);
    const bool keepUdp = !udpPorts.empty();
    constexpr std::size_t kMaxFilterPorts = 200;
    if (ports.size() + udpPorts.size() > kMaxFilterPorts) {
        ports.clear();
        udpPorts.clear();
    }
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::size_t blockBytes = options.blockBytes;
    if (page <= 0 || blockBytes < static_cast<std::size_t>(page) ||
        blockBytes % static_cast<std::size_t>(page) != 0) {
        return Result::fail("packet ring: block size " + std::to_string(blockBytes) +
                            " is not a multiple of the page size");
    }
    const std::size_t blockCount = std::max<std::size_t>(2, options.ringBytes / blockBytes);
    const std::string ringName = "packet ring of " + std::to_string(blockBytes * blockCount >> 20) + " MiB";

    // Protocol 0: nothing is queued before the filter and the ring are in place and bind() says
    // which packets to take.
    os::UniqueFd fd(::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Result::fail(systemError("packet socket"));
    int version = TPACKET_V3;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
        return Result::fail(systemError("packet socket: PACKET_VERSION TPACKET_V3"));
    }
    std::vector<sock_filter> code = inboundFilter(options.keepTcp, ports, keepUdp, udpPorts);
    sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
        return Result::fail(systemError("packet socket: SO_ATTACH_FILTER"));
    }
    tpacket_req3 req{};
    req.tp_block_size = static_cast<unsigned>(blockBytes);
    req.tp_block_nr = static_cast<unsigned>(blockCount);
    req.tp_frame_size = TPACKET_ALIGNMENT << 7;  // 2 KiB; V3 packs packets, this only sizes the request
    req.tp_frame_nr = static_cast<unsigned>(blockBytes / req.tp_frame_size * blockCount);
    req.tp_retire_blk_tov = static_cast<unsigned>(std::max<std::int64_t>(1, options.blockTimeout.count()));
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
        return Result::fail(systemError(ringName + ": PACKET_RX_RING"));
    }
    void* ring = ::mmap(nullptr, blockBytes * blockCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (ring == MAP_FAILED) return Result::fail(systemError(ringName + ": mmap"));
    PacketRingCapture capture(std::move(fd), Mapping(static_cast<std::byte*>(ring), blockBytes * blockCount),
                              blockBytes, blockCount);
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_IP);
    addr.sll_ifindex = 0;  // every interface
    if (::bind(capture.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        return Result::fail(systemError("packet socket: bind"));
    }
    return Result::ok(std::move(capture));
}

PacketRingCapture::Mapping::Mapping(Mapping&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PacketRingCapture::Mapping& PacketRingCapture::Mapping::operator=(Mapping&& other) noexcept {
    if (this != &other) {
        if (addr_ != nullptr) ::munmap(addr_, size_);
        addr_ = std::exchange(other.addr_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

PacketRingCapture::Mapping::~Mapping() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
}

PacketRingCapture::PacketRingCapture(os::UniqueFd fd, Mapping ring, std::size_t blockBytes,
                                     std::size_t blockCount)
    : fd_(std::move(fd)), ring_(std::move(ring)), blockBytes_(blockBytes), blockCount_(blockCount) {}

int PacketRingCapture::dispatchRaw(int maxPackets, FrameFn fn, void* context) {
    int handled = 0;
    while (maxPackets <= 0 || handled < maxPackets) {
        tpacket_block_desc* block = blockAt(ring_.get(), blockBytes_, block_);
        if (!ownedByUser(block)) break;
        const std::uint32_t count = block->hdr.bh1.num_pkts;
        if (nextPacket_ == 0) nextOffset_ = block->hdr.bh1.offset_to_first_pkt;
        while (nextPacket_ < count && (maxPackets <= 0 || handled < maxPackets)) {
            auto* packet = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<std::byte*>(block) + nextOffset_);
            CapturedFrame frame;
            frame.timestamp =
                std::chrono::seconds(packet->tp_sec) + std::chrono::nanoseconds(packet->tp_nsec);
            frame.caplen = packet->tp_snaplen;
            frame.wireLength = packet->tp_len;
            frame.data =
                net::Bytes(reinterpret_cast<const std::byte*>(packet) + packet->tp_net, packet->tp_snaplen);
            ++nextPacket_;
            nextOffset_ += packet->tp_next_offset;
            ++received_;
            ++handled;
            fn(context, frame, net::LinkType::RawIp);
        }
        if (nextPacket_ < count) break;  // maxPackets reached inside the block
        returnToKernel(block);
        nextPacket_ = 0;
        block_ = (block_ + 1) % blockCount_;
    }
    return handled;
}

void PacketRingCapture::readKernelStats() {
    tpacket_stats_v3 s{};
    socklen_t len = sizeof s;
    // Each read returns the counts since the previous one and resets them.
    if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &s, &len) != 0) return;
    dropped_ += s.tp_drops;
    freezes_ += s.tp_freeze_q_cnt;
}

CaptureStats PacketRingCapture::stats() {
    readKernelStats();
    return CaptureStats{received_, dropped_, 0, freezes_};
}

}  // namespace tcpcopy::capture
