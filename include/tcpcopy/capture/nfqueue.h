#pragma once
// NfQueue: packets that a netfilter rule queued (`-j NFQUEUE --queue-num N`), read from the
// kernel through libnetfilter_queue, each waiting in the kernel for our verdict.
//
// intercept's on-target mode: an OUTPUT rule queues the target's responses; intercept takes the
// headers of those that answer replayed clients and drops them (they never leave the host), and
// accepts everything else. A verdict may be given during dispatch() or later (a response that
// arrives before its route waits for it): the kernel keeps the packet until then, counted against
// the queue's maximum length.
//
//     auto queue = capture::NfQueue::open({.queue = 7});
//     queue.value()->dispatch(256, [&](std::uint32_t id, net::Bytes ipPacket) {
//         queue.value()->verdict(id, ours(ipPacket) ? Verdict::Drop : Verdict::Accept);
//     });

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

struct nfq_handle;
struct nfq_q_handle;
struct nfq_data;
struct nfgenmsg;

namespace tcpcopy::capture {

enum class Verdict : std::uint8_t { Accept, Drop };

struct NfQueueOptions {
    std::uint16_t queue = 0;         // the rule's --queue-num
    std::uint32_t maxLength = 4096;  // packets the kernel keeps waiting for a verdict (nfq_set_queue_maxlen)
    // The kernel accepts packets instead of dropping them when the queue is full
    // (NFQA_CFG_F_FAIL_OPEN). When no program reads the queue, the rule's --queue-bypass decides.
    bool failOpen = false;
    std::uint32_t copyBytes = 256;             // bytes of each packet copied to us: IP + TCP headers
    int receiveBufferBytes = 8 * 1024 * 1024;  // the netlink socket's receive buffer
};

// Counters since open. `received`: packets handed to dispatch()'s callback; `accepted`/`dropped`:
// verdicts given; `socketOverruns`: times the netlink socket's buffer overflowed (ENOBUFS: the
// kernel lost messages to us); `queueDropped`/`userDropped`: the kernel's own counts for this
// queue (/proc/net/netfilter/nfnetlink_queue: queue full / could not be sent to us).
struct NfQueueStats {
    std::uint64_t received = 0;
    std::uint64_t accepted = 0;
    std::uint64_t dropped = 0;
    std::uint64_t socketOverruns = 0;
    std::uint64_t queueDropped = 0;
    std::uint64_t userDropped = 0;
};

using QueuedPacketFn = void (*)(void* context, std::uint32_t id, net::Bytes ipPacket);

class NfQueue {
  public:
    // Binds queue `options.queue` in this network namespace. The error names the queue: "NFQUEUE
    // 7: cannot bind: ... (another program holds it?)".
    static os::Result<std::unique_ptr<NfQueue>> open(const NfQueueOptions& options);
    ~NfQueue();
    NfQueue(const NfQueue&) = delete;
    NfQueue& operator=(const NfQueue&) = delete;

    // Non-blocking; polls readable when packets are queued.
    int fd() const { return fd_; }
    std::uint16_t queue() const { return queue_; }

    // Hands up to `maxPackets` queued packets to `onPacket(std::uint32_t id, net::Bytes ipPacket)`
    // (the packet from its IP header, at most copyBytes; valid during the call only). Every packet
    // needs a verdict(id, ...), now or later. Returns the number handed over, or -1 on an error
    // whose text error() then holds.
    template <class F>
    int dispatch(int maxPackets, F&& onPacket) {
        using Fn = std::remove_reference_t<F>;
        return dispatchRaw(
            maxPackets, [](void* c, std::uint32_t id, net::Bytes p) { (*static_cast<Fn*>(c))(id, p); },
            &onPacket);
    }
    int dispatchRaw(int maxPackets, QueuedPacketFn fn, void* context);

    // Gives the kernel the verdict on packet `id`; false (error() set) if it refused.
    bool verdict(std::uint32_t id, Verdict verdict);

    NfQueueStats stats() const;
    const std::string& error() const { return error_; }

  private:
    NfQueue() = default;
    static int onMessage(nfq_q_handle* queue, nfgenmsg* message, nfq_data* attributes, void* self);

    nfq_handle* handle_ = nullptr;
    nfq_q_handle* queueHandle_ = nullptr;
    int fd_ = -1;
    std::uint16_t queue_ = 0;
    std::uint32_t copyBytes_ = 0;
    QueuedPacketFn fn_ = nullptr;
    void* context_ = nullptr;
    int delivered_ = 0;
    std::string error_;
    NfQueueStats stats_;
};

// The kernel's counters for `queue` in this network namespace, from
// /proc/net/netfilter/nfnetlink_queue (nullopt when the queue is not bound or the file is absent).
struct KernelQueueCounters {
    std::uint64_t waiting = 0;  // queue_total: packets waiting for a verdict now
    std::uint64_t queueDropped = 0;
    std::uint64_t userDropped = 0;
};
std::optional<KernelQueueCounters> readKernelQueueCounters(std::uint16_t queue);

}  // namespace tcpcopy::capture
