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
#include <cstdlib>
#include <cstring>
#include <utility>

namespace tcpcopy::capture {
namespace {

std::string systemError(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

constexpr std::uint32_t kKeepWhole = 0xffffffffu;  // a filter's "accept the whole packet"
constexpr std::uint32_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint32_t kEtherTypeIpv6 = 0x86DD;
constexpr std::uint32_t kIpv6NextHeaderOffset = 6;
constexpr std::uint32_t kIpv6DstPortOffset = 40 + 2;  // the fixed header, then the TCP ports
// IPv6 extension headers the decoder walks (hop-by-hop, routing, fragment, destination options,
// AH): classic BPF has no loops to walk them, so such packets pass and the decoder and the -x
// rules decide.
constexpr std::uint32_t kIpv6ExtensionHeaders[] = {0, 43, 44, 60, 51};

// Classic BPF with labels: conditional jumps reach at most 255 instructions ahead, which every
// jump here stays within (each family's block ends with its own accept and reject; the ports of
// both protocols together are at most kMaxFilterPorts); unconditional ones reach anywhere.
class FilterProgram {
  public:
    using Label = std::size_t;
    static constexpr Label kNext = static_cast<Label>(-1);  // fall through

    Label label() {
        labels_.push_back(kNext);
        return labels_.size() - 1;
    }
    void place(Label label) { labels_[label] = code_.size(); }
    void load(std::uint16_t code, std::uint32_t k) { code_.push_back(sock_filter{code, 0, 0, k}); }
    void jumpIf(std::uint16_t op, std::uint32_t k, Label ifTrue, Label ifFalse) {
        fixups_.push_back({code_.size(), ifTrue, ifFalse});
        code_.push_back(sock_filter{static_cast<std::uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k});
    }
    void jump(Label to) {
        fixups_.push_back({code_.size(), to, kNext});
        code_.push_back(sock_filter{BPF_JMP | BPF_JA, 0, 0, 0});
    }
    void ret(std::uint32_t k) { load(BPF_RET | BPF_K, k); }

    std::vector<sock_filter> finish() {
        for (const Fixup& f : fixups_) {
            sock_filter& insn = code_[f.at];
            if (BPF_OP(insn.code) == BPF_JA) {
                insn.k = static_cast<std::uint32_t>(distance(f.at, f.ifTrue));
                continue;
            }
            const std::size_t jt = f.ifTrue == kNext ? 0 : distance(f.at, f.ifTrue);
            const std::size_t jf = f.ifFalse == kNext ? 0 : distance(f.at, f.ifFalse);
            if (jt > 255 || jf > 255) std::abort();  // kMaxFilterPorts keeps every block shorter
            insn.jt = static_cast<std::uint8_t>(jt);
            insn.jf = static_cast<std::uint8_t>(jf);
        }
        return std::move(code_);
    }

  private:
    struct Fixup {
        std::size_t at;
        Label ifTrue;
        Label ifFalse;
    };
    std::size_t distance(std::size_t from, Label to) const { return labels_[to] - from - 1; }

    std::vector<sock_filter> code_;
    std::vector<std::size_t> labels_;
    std::vector<Fixup> fixups_;
};

// Loads the destination port, the 16-bit word at `offset` (mode BPF_ABS) or at X + `offset`
// (BPF_IND), then accepts on one of `ports` and rejects otherwise. No ports: accepts.
void portBlock(FilterProgram& p, std::uint16_t mode, std::uint32_t offset,
               const std::vector<std::uint16_t>& ports, FilterProgram::Label accept,
               FilterProgram::Label reject) {
    if (ports.empty()) {
        p.jump(accept);
        return;
    }
    p.load(BPF_LD | BPF_H | mode, offset);
    for (std::uint16_t port : ports) p.jumpIf(BPF_JEQ, port, accept, FilterProgram::kNext);
    p.jump(reject);
}

// Classic BPF over a SOCK_DGRAM packet (offset 0 = the IP header), bound to every protocol:
//   pkttype == PACKET_HOST && (
//     (protocol == IPv4 && version == 4 &&
//       ((keepTcp && ip protocol == TCP && (later fragment || destination port in tcpPorts)) ||
//        (keepUdp && ip protocol == UDP && (later fragment || destination port in udpPorts)))) ||
//     (protocol == IPv6 && keepTcp &&
//       ((next header == TCP && destination port in tcpPorts) || next header is an extension header)))
// An empty port list stands for every port. IPv6 UDP is never kept: UDP copy is IPv4 only.
std::vector<sock_filter> inboundFilter(bool keepTcp, const std::vector<std::uint16_t>& tcpPorts, bool keepUdp,
                                       const std::vector<std::uint16_t>& udpPorts) {
    FilterProgram p;
    using L = FilterProgram::Label;
    constexpr L next = FilterProgram::kNext;
    const L reject = p.label(), ipv4 = p.label(), ipv6 = p.label(), toIpv6 = p.label();
    p.load(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_PKTTYPE));
    p.jumpIf(BPF_JEQ, PACKET_HOST, next, reject);
    p.load(BPF_LD | BPF_H | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
    p.jumpIf(BPF_JEQ, kEtherTypeIpv6, toIpv6, next);
    p.jumpIf(BPF_JEQ, kEtherTypeIpv4, ipv4, reject);
    p.place(reject);
    p.ret(0);
    p.place(toIpv6);
    p.jump(ipv6);  // past the IPv4 block, however long

    // IPv4: a later fragment passes (the decoder counts it); X = the header length.
    p.place(ipv4);
    const L accept4 = p.label(), reject4 = p.label(), udp4 = p.label();
    p.load(BPF_LD | BPF_B | BPF_ABS, 0);
    p.load(BPF_ALU | BPF_AND | BPF_K, 0xf0);
    p.jumpIf(BPF_JEQ, 0x40, next, reject4);
    auto ipv4Ports = [&](const std::vector<std::uint16_t>& ports) {
        p.load(BPF_LD | BPF_H | BPF_ABS, 6);
        p.jumpIf(BPF_JSET, 0x1fff, accept4, next);
        p.load(BPF_LDX | BPF_B | BPF_MSH, 0);
        portBlock(p, BPF_IND, 2, ports, accept4, reject4);
    };
    p.load(BPF_LD | BPF_B | BPF_ABS, 9);
    if (keepUdp) p.jumpIf(BPF_JEQ, IPPROTO_UDP, udp4, next);
    if (keepTcp) {
        p.jumpIf(BPF_JEQ, IPPROTO_TCP, next, reject4);
        ipv4Ports(tcpPorts);
    } else {
        p.jump(reject4);
    }
    p.place(udp4);
    if (keepUdp) ipv4Ports(udpPorts);
    p.place(accept4);
    p.ret(kKeepWhole);
    p.place(reject4);
    p.ret(0);

    p.place(ipv6);
    if (!keepTcp) {
        p.ret(0);
        return p.finish();
    }
    const L accept6 = p.label(), reject6 = p.label(), extension = p.label();
    p.load(BPF_LD | BPF_B | BPF_ABS, kIpv6NextHeaderOffset);
    p.jumpIf(BPF_JEQ, IPPROTO_TCP, next, extension);
    portBlock(p, BPF_ABS, kIpv6DstPortOffset, tcpPorts, accept6, reject6);
    p.place(extension);  // A still holds the next header
    for (std::uint32_t header : kIpv6ExtensionHeaders) p.jumpIf(BPF_JEQ, header, accept6, next);
    p.jump(reject6);
    p.place(accept6);
    p.ret(kKeepWhole);
    p.place(reject6);
    p.ret(0);
    return p.finish();
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
    addr.sll_protocol = htons(ETH_P_ALL);  // IPv4 and IPv6: the filter selects
    addr.sll_ifindex = 0;                  // every interface
    // Bound to every protocol, the socket would also be handed every outgoing packet, for the
    // filter to reject: the kernel skips them (Linux 4.20 on; older kernels run the filter).
    int ignoreOutgoing = 1;
    ::setsockopt(capture.fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &ignoreOutgoing, sizeof ignoreOutgoing);
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
