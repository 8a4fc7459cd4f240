#pragma once
// ResponseCollector: one replayed session's requests paired with two answers each, the online
// server's (both directions of the captured connection) and the target's (the payload items
// intercept forwards), with the times that make their latencies.
//
//   captured client segments --+--> request framer ------+
//   captured server segments --+--> online answer framer +--> pairing by request index --> ExchangeSink
//   target's segments ---------+--> target answer framer +        (latency from the times)
//   replayed client segments: when each request went out to the target
//
// Feed it as things happen, each with its time: the captured segments in capture order with the
// capture's timestamps, the replayed and target segments with tcpcopy's clock. It reassembles
// each direction itself (StreamAssembler: retransmissions, reordering, truncated payloads), so
// the wiring passes every segment of the session as it sees it. Exchanges go to the sink as soon
// as both answers are in (or known to be missing), in request order; finish() settles the rest.
//
// The replayed client sends the captured client's bytes with the captured sequence numbers (the
// engine keeps the client's ISN), so the requests are framed once, from the capture, and the
// replayed segments only say when each request's bytes went out.
//
// Memory: three assemblers (StreamAssembler::Limits each), three framers (FramingLimits), at most
// maxPending requests waiting for answers (each with up to keepBytes + sampleBytes per message)
// and maxSendLog send times. Nothing grows with the session's length.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tcpcopy/diff/exchange.h"
#include "tcpcopy/diff/stream.h"

namespace tcpcopy::diff {

struct CollectorConfig {
    Protocol protocol = Protocol::Auto;  // Auto: detectProtocol on the client's first bytes
    FramingLimits framing;
    StreamAssembler::Limits assembler;
    std::size_t maxPending = 1024;      // requests waiting for their answers
    std::size_t maxSendLog = 4096;      // replayed sends not yet matched to a request
    std::size_t maxDetectBytes = 4096;  // first bytes held while the protocol is being detected
    std::uint64_t session = 0;          // copied into every Exchange, for the report's samples
};

struct CollectorStats {
    std::uint64_t exchanges = 0;          // given to the sink
    std::uint64_t unsolicited = 0;        // answers without a request
    std::uint64_t sendLogDropped = 0;     // send times forgotten (maxSendLog)
    std::uint64_t replayBeforeStart = 0;  // replayed data before the replayed SYN or the captured one
};

class ResponseCollector {
  public:
    // `sink` must outlive the collector.
    ResponseCollector(const CollectorConfig& config, ExchangeSink& sink);
    ~ResponseCollector();
    ResponseCollector(const ResponseCollector&) = delete;
    ResponseCollector& operator=(const ResponseCollector&) = delete;

    // The captured connection: the client's segments and the server's (capture order, capture
    // time). A SYN starts each direction; a direction whose data comes without it makes the
    // session "midstream", which is not compared.
    void onCapturedClient(const net::TcpSegment& segment, Time time);
    void onCapturedServer(const net::TcpSegment& segment, Time time);
    // A segment the replay sent to the target for this session (its SYN included); only seq,
    // flags and payloadLength are read.
    void onReplayed(const net::TcpSegment& segment, Time time);
    // A segment the target sent (its SYN-ACK included): `payload` holds the bytes intercept
    // forwarded (the first N), `payloadLength` the full length.
    void onTarget(const net::TcpSegment& segment, Time time);
    // The session is over: every request still waiting is settled and given to the sink, then
    // the sink's onSessionEnd. Nothing is accepted after it.
    void finish(Time time);

    // Auto until the first client bytes decided it.
    Protocol protocol() const { return protocol_; }
    bool finished() const { return finished_; }
    const CollectorStats& stats() const { return stats_; }

  private:
    class StreamHandler;
    class Sinks;
    struct Entry;
    enum class Stream : std::uint8_t { Client, Server, Target, Replay };

    void chunk(Stream stream, const Chunk& chunk);
    void streamEnd(Stream stream, Time time);
    void decide(Protocol protocol);
    void replayPending();
    void replayed(std::uint64_t end, Time time);
    Entry& entry(std::uint64_t index);
    void requestHead(std::uint64_t index, std::uint64_t begin, const RequestTraits& traits);
    void requestMessage(Message&& message);
    void answer(bool online, Message&& message);
    void resolveSends();
    void cutTarget(Time time);
    void emitReady(bool all);
    void emitFront(Skip forced);

    CollectorConfig config_;
    ExchangeSink& sink_;
    Protocol protocol_;
    std::unique_ptr<Sinks> sinks_;
    std::unique_ptr<StreamHandler> handlers_[3];
    StreamAssembler client_;
    StreamAssembler server_;
    StreamAssembler target_;
    std::unique_ptr<Framer> requests_;
    std::unique_ptr<Framer> online_;
    std::unique_ptr<Framer> answers_;  // the target's
    bool targetGeneric_ = false;

    // Events held while the protocol is not known yet.
    struct Held {
        Stream stream;
        std::uint64_t offset;
        std::string data;
        std::uint64_t length;  // 0 with `end`: the stream ended
        Time time;
        bool end;
    };
    std::vector<Held> held_;
    std::size_t heldBytes_ = 0;
    std::string detectBytes_;

    std::deque<Entry> pending_;
    std::uint64_t front_ = 0;  // index of pending_.front()
    std::uint64_t heads_ = 0;  // request heads known
    std::uint64_t requestsFramed_ = 0;
    std::uint64_t onlineAnswers_ = 0;
    std::uint64_t targetAnswers_ = 0;
    std::optional<std::uint64_t> pairingEndsAfter_;
    bool clientEnded_ = false;
    bool serverEnded_ = false;
    bool targetEnded_ = false;

    // When the replay sent its bytes: (end offset of newly sent data, time), oldest first.
    std::deque<std::pair<std::uint64_t, Time>> sendLog_;
    std::optional<net::SeqNum> replayIsn_;
    std::optional<net::SeqNum> capturedIsn_;
    std::uint64_t lastRequestEnd_ = 0;
    std::uint64_t sentHigh_ = 0;
    bool sentAny_ = false;

    Stream lastOnline_ = Stream::Replay;  // the direction of the last captured data (Replay: none yet)
    bool midstream_ = false;
    bool finished_ = false;
    CollectorStats stats_;
};

}  // namespace tcpcopy::diff
