#pragma once
// The regression diff's vocabulary: a stream piece (Chunk), a framed request or response
// (Message) and the framer interface that turns one direction of a TCP stream into messages.
//
// Everything in tcpcopy::diff is pure logic: bytes and times go in, results come out; nothing
// reads a clock, touches a socket or throws on input. Malformed bytes stop the framing of that
// stream ("framing lost", with a reason) and are never read past their end.
//
// Streams may have gaps: intercept --payload N forwards only the first N bytes of each response
// segment's payload with the segment's full length, and a capture's snaplen may cut segments. A
// gap is a run of bytes whose length is known and whose content is not. Framers step over gaps
// where the framing allows it (inside a body of known length) and lose the stream where it does
// not (inside a header line).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"

namespace tcpcopy::diff {

// Monotonic nanoseconds supplied by the caller (the capture's timestamps for the online
// conversation, tcpcopy's clock for the replayed one).
using Time = std::chrono::nanoseconds;

enum class Protocol : std::uint8_t {
    Auto,     // chosen from the first client bytes (detectProtocol)
    Http,     // HTTP/1.0 and HTTP/1.1
    Resp,     // Redis RESP2 (and the simple RESP3 types), inline commands
    Generic,  // a message is the bytes between two changes of direction
};
std::string_view protocolName(Protocol protocol);  // "auto", "http", "resp", "generic"
std::optional<Protocol> parseProtocol(std::string_view name);

// A run of one direction's stream, in order. The first data.size() bytes are known; the rest of
// `length` (length >= data.size()) is a gap. `data` is a view valid during the call only.
struct Chunk {
    std::uint64_t offset = 0;  // stream offset of the first byte (0 = the byte after the SYN)
    net::Bytes data;
    std::uint64_t length = 0;
    Time time{0};  // when the segment carrying these bytes arrived
};

// Bounds of the framers. Every buffer a framer keeps is bounded by one of these, so a session's
// framing memory does not grow with what its peer sends.
struct FramingLimits {
    std::size_t maxLine = 8192;              // start line, header line, chunk-size line, RESP line
    std::size_t maxHeaderBytes = 65536;      // one HTTP header block (and trailers)
    std::size_t maxHeaders = 64;             // response headers kept for comparison (more are counted)
    std::size_t maxHeaderValue = 256;        // a longer value is kept as its start plus a digest
    std::size_t keepBytes = 4096;            // body bytes kept per message, to find where bodies differ
    std::size_t sampleBytes = 1024;          // raw bytes kept per message, for the report's samples
    std::size_t maxRespDepth = 32;           // nesting of RESP aggregates
    std::uint64_t maxRespBulk = 512u << 20;  // redis-server's proto-max-bulk-len default
};

struct Header {
    std::string name;   // lower case
    std::string value;  // trimmed; see FramingLimits::maxHeaderValue
};

// One framed request or response.
struct Message {
    std::uint64_t index = 0;  // 0-based, in the order of its stream
    std::uint64_t begin = 0;  // stream offsets [begin, end)
    std::uint64_t end = 0;
    Time first{0};  // arrival of its first and last byte
    Time last{0};
    bool gaps = false;  // some of its bytes are unknown (payload truncated)
    bool cut = false;   // the stream ended, or its framing was lost, before the message did
    bool lost = false;  // cut because its framing was lost inside it (not comparable): then
                        // `end` and the body fields say how far the framer had read when it gave
                        // up, which depends on how the stream was split; `begin` does not

    // Requests. HTTP: method and request target as sent. RESP: the command in upper case, with the
    // subcommand of container commands ("CONFIG GET"), as `method`. Generic: both empty.
    std::string method;
    std::string target;

    // Responses. `status` is the HTTP status code (0 otherwise); `kind` names what the response
    // is for the distribution and the type comparison: "200"; RESP "simple", "error ERR",
    // "integer", "bulk", "null", "array", ...; generic "data".
    int status = 0;
    std::string kind;
    std::vector<Header> headers;  // HTTP responses: the first maxHeaders, in order
    std::uint64_t headersDropped = 0;

    // The body: HTTP after removing the chunked framing (HEAD/204/304: none); RESP the whole
    // reply as on the wire (type markers and lengths included); generic every byte.
    std::uint64_t bodySize = 0;
    std::uint64_t bodyDigest = 0;  // StreamDigest of the body, meaningful when bodyKnown
    bool bodyKnown = true;         // every body byte was seen
    std::string bodyPrefix;        // the body's first bytes up to the first gap, <= keepBytes

    // The message's first bytes as on the wire, up to sampleBytes or the first gap.
    std::string sample;
    bool sampleGap = false;  // the sample stops at a gap

    std::uint64_t size() const { return end - begin; }
};

// What a request asks of its response, known as soon as the request's head is read.
struct RequestTraits {
    bool head = false;         // HTTP HEAD: the response has no body
    bool connect = false;      // HTTP CONNECT: a 2xx response turns the stream into a tunnel
    bool endsPairing = false;  // RESP SUBSCRIBE, MONITOR, CLIENT REPLY OFF|SKIP: replies no longer 1:1
};

// Where a framer's results go. Implemented by the ResponseCollector (and by tests).
class MessageSink {
  public:
    virtual ~MessageSink() = default;
    virtual void onMessage(Message&& message) = 0;
    // Request framers: request `index` starts at stream offset `begin` and asks for `traits`.
    virtual void onRequestHead(std::uint64_t /*index*/, std::uint64_t /*begin*/,
                               const RequestTraits& /*traits*/) {}
    // Response framers ask what request `index` asked for; nullopt when it is not known yet (the
    // response is then framed as the answer to a plain request).
    virtual std::optional<RequestTraits> requestTraits(std::uint64_t /*index*/) const { return std::nullopt; }
};

enum class Role : std::uint8_t { Requests, Responses };

// One direction of one connection. Feed it the stream in order, without holes (a hole is a gap).
class Framer {
  public:
    virtual ~Framer() = default;
    // The next run of the stream; chunk.offset must be where the previous one ended.
    virtual void feed(const Chunk& chunk) = 0;
    // The other direction sent data at `time`. Generic framing ends a message here; the others
    // know where their messages end and ignore it.
    virtual void turn(Time /*time*/) {}
    // The stream ended (FIN, RST or the session's end): a body read until close ends here, a
    // message cut short is emitted with `cut`. Nothing is framed after it.
    virtual void finish(Time time) = 0;
    // Why framing stopped ("" while it runs). After a loss, nothing more is emitted.
    virtual std::string_view lost() const = 0;
    // Messages emitted so far.
    virtual std::uint64_t emitted() const = 0;
};

// A framer for `protocol` (not Auto) and `role`, reporting to `sink`, which must outlive it.
std::unique_ptr<Framer> makeFramer(Protocol protocol, Role role, const FramingLimits& limits,
                                   MessageSink& sink);

// The protocol of a connection from the first bytes of its client stream: Http for an HTTP/1.x
// request line, Resp for a RESP array ("*<digits>\r\n"), Generic otherwise; nullopt while more
// bytes could change the answer (at most maxLine bytes, or fewer when `final`).
std::optional<Protocol> detectProtocol(std::string_view firstClientBytes, bool final,
                                       std::size_t maxLine = 8192);

}  // namespace tcpcopy::diff
