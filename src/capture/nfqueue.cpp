#include "tcpcopy/capture/nfqueue.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace tcpcopy::capture {
namespace {

std::string queueName(std::uint16_t queue) { return "NFQUEUE " + std::to_string(queue); }

// Every netlink message carries its headers around the copied bytes; this is ample for them.
constexpr std::size_t kMessageOverhead = 4096;

thread_local std::vector<char> receiveBuffer;

}  // namespace

os::Result<std::unique_ptr<NfQueue>> NfQueue::open(const NfQueueOptions& options) {
    using R = os::Result<std::unique_ptr<NfQueue>>;
    const std::string name = queueName(options.queue);
    std::unique_ptr<NfQueue> q(new NfQueue());
    q->queue_ = options.queue;
    q->copyBytes_ = std::max<std::uint32_t>(options.copyBytes, 60);
    q->handle_ = nfq_open();
    if (q->handle_ == nullptr)
        return R::fail(name + ": cannot open a netfilter netlink socket: " + std::strerror(errno));
    q->queueHandle_ = nfq_create_queue(q->handle_, options.queue, &NfQueue::onMessage, q.get());
    if (q->queueHandle_ == nullptr) {
        const int e = errno;
        return R::fail(name + ": cannot bind the queue: " + std::strerror(e) +
                       (e == EPERM ? " (needs CAP_NET_ADMIN)" : " (does another program hold it?)"));
    }
    if (nfq_set_mode(q->queueHandle_, NFQNL_COPY_PACKET, q->copyBytes_) < 0) {
        return R::fail(name + ": cannot set the copy mode: " + std::strerror(errno));
    }
    if (nfq_set_queue_maxlen(q->queueHandle_, options.maxLength) < 0) {
        return R::fail(name + ": cannot set the queue's maximum length to " +
                       std::to_string(options.maxLength) + ": " + std::strerror(errno));
    }
    if (options.failOpen &&
        nfq_set_queue_flags(q->queueHandle_, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
        return R::fail(name +
                       ": the kernel refused fail-open (NFQA_CFG_F_FAIL_OPEN): " + std::strerror(errno));
    }
    q->fd_ = nfq_fd(q->handle_);
    const int size = options.receiveBufferBytes;
    if (setsockopt(q->fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
        setsockopt(q->fd_, SOL_SOCKET, SO_RCVBUF, &size,
                   sizeof size);  // without CAP_NET_ADMIN: up to rmem_max
    }
    const int flags = fcntl(q->fd_, F_GETFL);
    if (flags < 0 || fcntl(q->fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
        return R::fail(name + ": cannot make the socket non-blocking: " + std::strerror(errno));
    }
    return R::ok(std::move(q));
}

NfQueue::~NfQueue() {
    // Unbinding hands the packets still waiting back to the kernel's default (the rule's bypass
    // or a drop); intercept accepts its held ones before it gets here.
    if (queueHandle_ != nullptr) nfq_destroy_queue(queueHandle_);
    if (handle_ != nullptr) nfq_close(handle_);
}

int NfQueue::onMessage(nfq_q_handle*, nfgenmsg*, nfq_data* attributes, void* self) {
    auto* q = static_cast<NfQueue*>(self);
    const nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(attributes);
    if (header == nullptr) return 0;
    const std::uint32_t id = ntohl(header->packet_id);
    unsigned char* data = nullptr;
    const int length = nfq_get_payload(attributes, &data);
    ++q->stats_.received;
    ++q->delivered_;
    net::Bytes packet;
    if (length > 0)
        packet = net::Bytes(reinterpret_cast<const std::byte*>(data), static_cast<std::size_t>(length));
    q->fn_(q->context_, id, packet);
    return 0;
}

int NfQueue::dispatchRaw(int maxPackets, QueuedPacketFn fn, void* context) {
    fn_ = fn;
    context_ = context;
    delivered_ = 0;
    receiveBuffer.resize(copyBytes_ + kMessageOverhead);
    while (maxPackets <= 0 || delivered_ < maxPackets) {
        const ssize_t n = recv(fd_, receiveBuffer.data(), receiveBuffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ENOBUFS) {  // the kernel could not queue messages to us: counted, keep reading
                ++stats_.socketOverruns;
                continue;
            }
            error_ = queueName(queue_) + ": cannot read: " + std::strerror(errno);
            return -1;
        }
        if (n == 0) break;
        nfq_handle_packet(handle_, receiveBuffer.data(), static_cast<int>(n));
    }
    return delivered_;
}

bool NfQueue::verdict(std::uint32_t id, Verdict verdict) {
    const unsigned v = verdict == Verdict::Drop ? NF_DROP : NF_ACCEPT;
    if (nfq_set_verdict(queueHandle_, id, v, 0, nullptr) < 0) {
        error_ = queueName(queue_) + ": verdict on packet " + std::to_string(id) +
                 " refused: " + std::strerror(errno);
        return false;
    }
    ++(verdict == Verdict::Drop ? stats_.dropped : stats_.accepted);
    return true;
}

NfQueueStats NfQueue::stats() const {
    NfQueueStats s = stats_;
    if (auto kernel = readKernelQueueCounters(queue_)) {
        s.queueDropped = kernel->queueDropped;
        s.userDropped = kernel->userDropped;
    }
    return s;
}

std::optional<KernelQueueCounters> readKernelQueueCounters(std::uint16_t queue) {
    std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
    std::string line;
    while (std::getline(in, line)) {
        // queue_number peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
        std::istringstream fields(line);
        std::uint64_t number = 0, portid = 0, total = 0, mode = 0, range = 0, queueDropped = 0,
                      userDropped = 0;
        if (!(fields >> number >> portid >> total >> mode >> range >> queueDropped >> userDropped)) continue;
        if (number != queue) continue;
        return KernelQueueCounters{total, queueDropped, userDropped};
    }
    return std::nullopt;
}

}  // namespace tcpcopy::capture
