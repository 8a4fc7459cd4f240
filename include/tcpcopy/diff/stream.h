#pragma once
// StreamAssembler: one direction of a TCP connection put back in order, as Chunks (known bytes,
// then a gap where the payload was not captured). Duplicates and the parts of retransmissions
// already delivered are dropped (the first copy of a byte wins); out-of-order segments are held
// until the hole before them fills, within bounds: past them, the hole is given up and delivered
// as a gap, so a lost segment costs its bytes, not the rest of the stream. Offsets are 64-bit:
// nothing wraps in a long connection.

#include <cstdint>
#include <map>
#include <vector>

#include "tcpcopy/diff/message.h"
#include "tcpcopy/net/tcp_segment.h"

namespace tcpcopy::diff {

class ChunkSink {
  public:
    virtual ~ChunkSink() = default;
    virtual void onChunk(const Chunk& chunk) = 0;
    // The direction ended (its FIN reached in order, or a RST) at `time`.
    virtual void onEnd(Time time) = 0;
};

struct AssemblerStats {
    std::uint64_t segments = 0;        // segments with data, FIN or RST offered after the start
    std::uint64_t duplicateBytes = 0;  // already delivered
    std::uint64_t outOfOrder = 0;      // segments held for a while
    std::uint64_t holeBytes = 0;       // given up and delivered as gaps
    std::uint64_t beforeStart = 0;     // segments offered before the stream's start was known
};

class StreamAssembler {
  public:
    struct Limits {
        std::size_t maxHeldBytes = 256 * 1024;  // known bytes of out-of-order segments
        std::size_t maxHeldSegments = 256;
    };

    StreamAssembler() = default;
    explicit StreamAssembler(Limits limits) : limits_(limits) {}

    // Offset 0 is the byte after the SYN whose sequence number is `isn`. A SYN given to add()
    // does this too.
    void start(net::SeqNum isn);
    bool started() const { return started_; }

    // A segment of this direction: seq, flags, payload (the bytes present) and payloadLength
    // (the full length). Chunks that become in-order go to `sink`, which may not call back.
    void add(const net::TcpSegment& segment, Time time, ChunkSink& sink);
    // Gives up every hole and delivers what is held (the session is over).
    void flush(Time time, ChunkSink& sink);

    std::uint64_t next() const { return next_; }  // the next offset expected
    bool ended() const { return ended_; }
    const AssemblerStats& stats() const { return stats_; }
    std::size_t heldBytes() const { return heldBytes_; }

  private:
    struct Held {
        std::vector<std::byte> data;
        std::uint64_t length = 0;
        Time time{0};
        bool fin = false;
    };

    void deliver(std::uint64_t offset, net::Bytes data, std::uint64_t length, bool fin, Time time,
                 ChunkSink& sink);
    void drain(Time now, ChunkSink& sink);
    void skipHole(Time time, ChunkSink& sink);
    void end(Time time, ChunkSink& sink);

    Limits limits_;
    net::SeqNum base_;  // sequence number of offset 0
    std::uint64_t next_ = 0;
    std::map<std::uint64_t, Held> held_;
    std::size_t heldBytes_ = 0;
    AssemblerStats stats_;
    bool started_ = false;
    bool ended_ = false;
};

}  // namespace tcpcopy::diff
