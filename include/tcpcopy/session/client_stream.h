#pragma once
// The captured client side of one replayed session: the client's bytes reassembled into one
// stream (duplicates, overlaps and reordering resolved) and the marks that say what must happen
// before a given byte goes out (wait for the target's response, change the advertised window,
// FIN, RST). Offsets count client data bytes from 0, the first byte of the replayed stream, in
// 64 bits, so nothing wraps in a long session.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

struct EngineStats;

// A point in the client byte stream where something must happen before the byte at `offset`
// goes out.
struct Mark {
    std::uint64_t offset = 0;
    // Server bytes the captured client had received before sending this byte; -1: no wait.
    std::int64_t requiredServerBytes = -1;
    std::optional<std::uint16_t> window;  // the captured advertised window from here on
    bool fin = false;
    bool rst = false;
    bool request = false;  // data follows a response: one request
    // Sending stops here for more than a window change: a pacing gate, a request, a FIN or RST.
    bool stopsSending() const { return requiredServerBytes >= 0 || request || fin || rst; }
    // Set when the mark first blocks sending.
    std::optional<Time> waitingSince;
    std::uint64_t targetBytesAtWait = 0;
};

// Drops the bytes before `acked` from `bytes`, whose first byte is at offset `base` (moved up
// with them): in chunks, so that a stream acknowledged a segment at a time is not shifted for each,
// giving back the capacity of a large buffer once it is empty.
void releaseFront(std::vector<std::byte>& bytes, std::uint64_t& base, std::uint64_t acked);

// The marks of a session, oldest first. A vector with a moving head rather than a std::deque:
// libstdc++'s deque allocates a 512-byte block and its map as soon as it is constructed, which
// was half of an idle session's memory. Emptied, it starts again at the front of its storage.
class MarkQueue {
  public:
    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }
    Mark& front() { return items_[head_]; }
    const Mark& front() const { return items_[head_]; }
    const Mark& operator[](std::size_t i) const { return items_[head_ + i]; }
    void push_back(const Mark& m);
    void pop_front();

  private:
    std::vector<Mark> items_;
    std::uint32_t head_ = 0;
};

// What ClientStream::add did with a captured segment.
enum class AddResult : std::uint8_t {
    Ignored,     // nothing new: a duplicate, a SYN, or bytes before the replayed stream starts
    Appended,    // the stream or its marks grew: there may be more to send
    OutOfOrder,  // kept until the hole before it fills
};

class ClientStream {
  public:
    // Most out-of-order segments one session keeps; later ones are dropped (and the hole then
    // ends the session, see Session).
    static constexpr std::size_t kMaxOutOfOrder = 1024;

    // The stream starts after the captured SYN (`isn`).
    void startAfterSyn(net::SeqNum isn) { captureBase_ = isn + 1; }
    // The stream of a session captured mid-stream starts at `first`; unless `atRequestStart`,
    // only at the next request boundary (once the client acknowledges new server data).
    void startMidstream(const net::TcpSegment& first, bool atRequestStart);

    // A captured client segment of this connection (not a SYN).
    AddResult add(const net::TcpSegment& seg, Time now, EngineStats& stats);

    // Releases the bytes before `acked` (acknowledged by the target) from memory.
    void release(std::uint64_t acked);

    // Stream bytes [offset, offset + len) as a view; offset >= base().
    net::Bytes bytes(std::uint64_t offset, std::uint32_t len) const;
    std::uint64_t base() const { return streamBase_; }  // oldest byte still held
    std::uint64_t end() const { return next_; }         // one past the last in-order byte
    // Where sending must stop now: the stream's end or the first mark, whichever is first.
    std::uint64_t sendLimit() const {
        return marks_.empty() ? next_ : std::min(next_, marks_.front().offset);
    }
    MarkQueue& marks() { return marks_; }
    const MarkQueue& marks() const { return marks_; }
    bool hasHole() const { return ooo_ != nullptr && !ooo_->empty(); }
    Time holeSince() const { return holeSince_; }
    Time lastActivity() const { return lastActivity_; }
    // The latest captured window, or 0 before any was seen.
    std::uint16_t lastWindow() const { return lastWindow_; }
    // Bytes held now: data not yet released plus out-of-order segments.
    std::size_t heldBytes() const { return static_cast<std::size_t>(next_ - streamBase_) + oooBytes_; }
    // Heap bytes allocated for this stream (capacity, marks, out-of-order nodes).
    std::size_t footprint() const;

  private:
    struct PendingSegment {
        std::vector<std::byte> data;
        std::int64_t relAck = -1;
        std::uint16_t window = 0;
        bool fin = false;
        bool rst = false;
    };
    using OutOfOrder = std::map<std::uint64_t, PendingSegment>;

    // Server bytes acknowledged by a captured segment's ack, unwrapped to 64 bits; -1 when the
    // server's ISN is not known yet.
    std::int64_t serverBytesAcked(const net::TcpSegment& seg);
    void append(std::uint64_t offset, net::Bytes data, std::int64_t relAck, std::uint16_t window, bool fin,
                bool rst, EngineStats& stats);
    void drainOutOfOrder(EngineStats& stats);
    void noteWindow(std::uint16_t window);

    net::SeqNum captureBase_;  // captured sequence number of stream offset 0
    // The captured server side: its first data byte's sequence number (ISN + 1) and the highest
    // ack seen, unwrapped against it.
    net::SeqNum serverStart_;
    net::SeqNum highestAck_;
    std::uint64_t highestAckOffset_ = 0;
    net::SeqNum firstSeenAck_;
    std::uint64_t streamBase_ = 0;
    std::uint64_t next_ = 0;
    std::vector<std::byte> data_;  // bytes [streamBase_, next_)
    MarkQueue marks_;
    std::unique_ptr<OutOfOrder> ooo_;  // allocated on first use: most sessions never need it
    std::uint32_t oooBytes_ = 0;       // payload capacity held in ooo_
    std::int64_t lastMarkAck_ = -1;
    Time lastActivity_{0};
    Time holeSince_{0};  // when the oldest open hole appeared
    std::uint16_t lastWindow_ = 0;
    bool haveServerStart_ = false;
    bool skipUntilNewAck_ = false;  // mid-stream: inside the request the capture began in
    bool sawData_ = false;
    bool finQueued_ = false;
    bool rstQueued_ = false;
};

}  // namespace tcpcopy::session
