#pragma once
// Tunnel protocol v2 between tcpcopy and intercept: frames, messages, encoder and an incremental
// decoder. The byte layout is documented byte by byte in docs/tunnel-protocol.md; every
// multi-byte integer on the wire is big-endian, and no struct is ever copied onto the wire.
// Nothing here throws on input: malformed bytes yield an error value, never a read past the end.
//
// Versions: the handshake (CHALLENGE, HELLO, HELLO_ACK and a REJECT sent before HELLO_ACK)
// travels in frames whose header says version 1 (kHandshakeFrameVersion), which every release
// reads, and HELLO's protocol_version field negotiates the rest: from HELLO_ACK on, every frame
// says kVersion. A peer of another release is thus told, in a frame it can read, which version
// this one speaks.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tcpcopy/net/types.h"

namespace tcpcopy::tunnel {

using Buffer = std::vector<std::byte>;

inline constexpr std::uint16_t kMagic = 0x5443;            // "TC"
inline constexpr std::uint8_t kVersion = 2;                // the protocol this build speaks
inline constexpr std::uint8_t kHandshakeFrameVersion = 1;  // header version of handshake frames
inline constexpr std::size_t kHeaderSize = 10;
inline constexpr std::uint32_t kMaxPayload = 1u << 20;  // 1 MiB; larger frames are an error
// Until the handshake is over a frame may carry at most this much (the largest HELLO is 322
// bytes): an unauthenticated peer never makes the other side buffer more than one small frame.
inline constexpr std::uint32_t kMaxHandshakePayload = 512;
inline constexpr std::uint16_t kDefaultPort = 36524;
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::size_t kMacSize = 32;  // HMAC-SHA256
inline constexpr std::size_t kMaxInstanceIdSize = 255;
// The most response payload bytes per item a peer may ask for and intercept may send
// (intercept --payload, tcpcopy --response-payload): HELLO's and HELLO_ACK's 16-bit flags.
inline constexpr std::uint32_t kMaxPayloadPerResponse = 0xFFFF;

enum class MessageType : std::uint8_t {
    Challenge = 1,  // intercept -> tcpcopy, first frame on every connection
    Hello = 2,      // tcpcopy -> intercept, answers the challenge
    HelloAck = 3,   // intercept -> tcpcopy, handshake accepted
    Reject = 4,     // either way, followed by close
    RouteAdd = 5,   // tcpcopy -> intercept
    RouteDel = 6,   // tcpcopy -> intercept
    Responses = 7,  // intercept -> tcpcopy, batched IP+TCP headers
    Heartbeat = 8,  // either way
    // intercept -> tcpcopy, only to a peer whose HELLO asked for payloads and whose HELLO_ACK
    // granted them: headers plus up to the granted bytes of each response's payload.
    ResponsePayloads = 9,
};
std::string_view messageTypeName(MessageType type);

enum class RejectReason : std::uint8_t {
    BadVersion = 1,
    AuthFailed = 2,
    NotAllowed = 3,
    Malformed = 4,
    Protocol = 5,            // a message not valid in the current state
    TooManyConnections = 6,  // intercept is at its --max-connections
};
std::string_view rejectReasonName(RejectReason reason);

using Nonce = std::array<std::byte, kNonceSize>;
using Mac = std::array<std::byte, kMacSize>;

struct Challenge {
    bool authRequired = false;
    Nonce nonce{};  // intercept's nonce
    std::uint8_t maxVersion =
        kVersion;  // frame flags, low byte: the newest protocol intercept speaks (0 reads as 1)
};
// A HELLO whose version is not kVersion decodes with only `version` set: the rest of its layout
// belongs to another release.
struct Hello {
    std::uint8_t version = kVersion;
    std::string instanceId;  // at most kMaxInstanceIdSize bytes (longer ids are truncated)
    Nonce nonce{};           // tcpcopy's nonce: intercept's proof in HELLO_ACK covers it
    std::optional<Mac> mac;  // computeHelloMac(secret, ...) when the challenge asked for it
    // Frame flags: payload bytes per response tcpcopy asks for (0: headers only, what a tcpcopy
    // without --response-payload and every older release writes).
    std::uint16_t payloadBytes = 0;
};
struct HelloAck {
    std::uint32_t peerId = 0;  // the id intercept uses for this connection in its logs
    std::optional<Mac> mac;    // computeAckMac(secret, ...) when the challenge asked for a secret
    // Frame flags: payload bytes per response intercept will send on this connection, at most
    // what HELLO asked for (0: headers only; an older intercept writes 0).
    std::uint16_t payloadBytes = 0;
};
struct Reject {
    RejectReason reason = RejectReason::Protocol;
    std::string text;  // at most 65535 bytes
};
struct RouteAdd {
    net::FlowKey flow;  // client = replay client ip:port, server = target ip:port
};
struct RouteDel {
    net::FlowKey flow;
};
// Each item is the IP header (IPv4 with its options, or IPv6 with its extension headers) plus the
// TCP header (options included) of a packet the target sent, with the IP length field (IPv4 total
// length, IPv6 payload length) as captured, so the payload length stays known. When decoded, the
// items are views into the decoder's buffer (valid until the next FrameDecoder::feed()).
struct Responses {
    std::vector<net::Bytes> items;
};
struct Heartbeat {};
// One response with its payload: the header as in RESPONSES, the TCP payload length the target
// sent (`payloadLength`) and the first `captured.size()` bytes of that payload (at most the
// granted bytes, at most payloadLength). Views into the decoder's buffer when decoded.
struct PayloadItem {
    net::Bytes header;
    std::uint32_t payloadLength = 0;
    net::Bytes captured;
};
struct ResponsePayloads {
    std::vector<PayloadItem> items;
};

using Message = std::variant<Challenge, Hello, HelloAck, Reject, RouteAdd, RouteDel, Responses, Heartbeat,
                             ResponsePayloads>;

// The part of a captured TCP packet that travels as one RESPONSES item: the IP header (IPv4 with
// its options, or IPv6 with its extension headers) and the TCP header (options included), cut
// before the payload. The IP length field is not touched, so it still tells the payload length.
// Returns an empty span when `ipPacket` is not IPv4 or IPv6 TCP, is a fragment, or is shorter
// than the header lengths it states.
net::Bytes responseHeaderBytes(net::Bytes ipPacket);
// The headers as responseHeaderBytes() and then at most `payloadLimit` bytes of the captured TCP
// payload (what intercept keeps of a response when --payload is above 0; with 0, exactly
// responseHeaderBytes()). Empty under the same conditions.
net::Bytes responsePrefix(net::Bytes ipPacket, std::size_t payloadLimit);
// What intercept forwards of a UDP answer to a replayed client (docs/tunnel-protocol.md,
// RESPONSES): the IPv4 header and the 8-byte UDP header, the IP total length as captured. Empty
// unless `ipPacket` is IPv4/UDP, not a later fragment, with the whole UDP header present.
net::Bytes udpResponseHeader(net::Bytes ipPacket);
// A response prefix split up: its header (IP + TCP, options and IPv6 extension headers included;
// or IPv4 + the UDP header when the IP protocol is UDP), the payload length its IP length (TCP)
// or UDP length states (0 when that is below the headers: a GSO super-packet's 0) and the payload
// bytes present. Empty header when the bytes are not an IPv4/TCP, IPv6/TCP or IPv4/UDP header.
struct ResponseParts {
    net::Bytes header;
    std::uint32_t payloadLength = 0;
    net::Bytes payload;
};
ResponseParts splitResponse(net::Bytes prefix);

// Encoders append one complete frame to `out`, whose header carries `frameVersion` (handshake
// messages default to kHandshakeFrameVersion, the others to kVersion).
void encode(Buffer& out, const Challenge& message, std::uint8_t frameVersion = kHandshakeFrameVersion);
void encode(Buffer& out, const Hello& message, std::uint8_t frameVersion = kHandshakeFrameVersion);
void encode(Buffer& out, const HelloAck& message, std::uint8_t frameVersion = kHandshakeFrameVersion);
void encode(Buffer& out, const Reject& message, std::uint8_t frameVersion = kVersion);
void encode(Buffer& out, const RouteAdd& message, std::uint8_t frameVersion = kVersion);
void encode(Buffer& out, const RouteDel& message, std::uint8_t frameVersion = kVersion);
// Items longer than 65535 bytes cannot be encoded and are skipped; returns the number written.
// Callers keep a batch under kMaxPayload (ResponseBatch does).
std::size_t encode(Buffer& out, const Responses& message, std::uint8_t frameVersion = kVersion);
void encode(Buffer& out, const Heartbeat& message, std::uint8_t frameVersion = kVersion);
// Items that cannot be encoded (empty header, header or captured bytes above 65535, captured
// bytes beyond payloadLength) are skipped; returns the number written.
std::size_t encode(Buffer& out, const ResponsePayloads& message, std::uint8_t frameVersion = kVersion);
// Every message with the same header version.
void encode(Buffer& out, const Message& message, std::uint8_t frameVersion);

// Builds one RESPONSES frame (or, withPayloads, one RESPONSE_PAYLOADS frame) item by item,
// without copying the items twice.
class ResponseBatch {
  public:
    explicit ResponseBatch(bool withPayloads = false);
    // Appends one header; false (and nothing added) when it is empty, longer than 65535 bytes, or
    // would push the frame past kMaxPayload or 65535 items: flush first, then add again.
    // Precondition: a batch without payloads.
    bool add(net::Bytes item);
    // Appends one payload item, under the same conditions (and captured <= payloadLength).
    // Precondition: a batch with payloads.
    bool add(net::Bytes header, std::uint32_t payloadLength, net::Bytes captured);
    bool withPayloads() const { return withPayloads_; }
    std::size_t count() const { return count_; }
    bool empty() const { return count_ == 0; }
    // Size of the frame finish() would produce.
    std::size_t frameSize() const { return frame_.size(); }
    // Completes the frame and hands it over; the batch is empty afterwards.
    Buffer finish();

  private:
    void begin();
    Buffer frame_;
    std::size_t count_ = 0;
    bool withPayloads_ = false;
};

struct Frame {
    MessageType type = MessageType::Heartbeat;  // raw value; may be a type this version lacks
    std::uint16_t flags = 0;                    // CHALLENGE: low byte = intercept's newest version
    net::Bytes payload;                         // view into the decoder's buffer
};

enum class FrameError : std::uint8_t {
    None,
    BadMagic,    // the first two bytes are not "TC": not our protocol or a desynchronised stream
    BadVersion,  // a header version other than the one the decoder expects now
    Oversize,    // payload length above the decoder's maximum
};
std::string_view frameErrorName(FrameError error);

// Reassembles frames from a byte stream cut at arbitrary boundaries.
class FrameDecoder {
  public:
    enum class Status : std::uint8_t { NeedMore, Frame, Error };

    explicit FrameDecoder(std::uint32_t maxPayload = kMaxPayload, std::uint8_t version = kVersion)
        : maxPayload_(maxPayload), version_(version) {}

    // From the next frame on, expect header `version` and payloads of at most `maxPayload` bytes
    // (the handshake's rules, then the session's).
    void expect(std::uint8_t version, std::uint32_t maxPayload) {
        version_ = version;
        maxPayload_ = maxPayload;
    }
    // Appends received bytes. Invalidates the payload views of frames returned before.
    void feed(net::Bytes chunk);
    // Extracts the next complete frame. After Error the decoder stays in error: the stream cannot
    // be resynchronised and the connection should be closed.
    Status next(Frame& out);
    FrameError error() const { return error_; }
    // After BadVersion: the version byte that arrived, and the one expected.
    std::uint8_t receivedVersion() const { return receivedVersion_; }
    std::uint8_t expectedVersion() const { return version_; }
    // Bytes received but not yet returned as frames.
    std::size_t buffered() const { return buffer_.size() - consumed_; }

  private:
    Buffer buffer_;
    std::size_t consumed_ = 0;
    std::uint32_t maxPayload_;
    std::uint8_t version_;
    std::uint8_t receivedVersion_ = 0;
    FrameError error_ = FrameError::None;
};

enum class MessageError : std::uint8_t {
    None,
    UnknownType,    // a message type this version does not know (callers may ignore it)
    Truncated,      // the payload ends inside a field
    TrailingBytes,  // bytes left after the last field
    BadValue,       // a field holds an impossible value (bad family, zero-length item, ...)
};
std::string_view messageErrorName(MessageError error);

// Parses a frame's payload according to its type. Views in `out` point into frame.payload.
MessageError decodeMessage(const Frame& frame, Message& out);

// Mutual authentication (docs/tunnel-protocol.md): tcpcopy proves the secret in HELLO with
// HMAC-SHA256(secret, "tcpcopy hello v2" | interceptNonce | tcpcopyNonce), intercept in
// HELLO_ACK with HMAC-SHA256(secret, "intercept ack v2" | tcpcopyNonce | interceptNonce); each
// side's nonce is fresh per connection, so neither proof can be replayed or reflected.
// nullopt when no MAC can be computed (HMAC() failed, or a secret longer than OpenSSL takes):
// the caller then refuses the handshake, never compares against a default value.
std::optional<Mac> computeHelloMac(std::string_view secret, const Nonce& interceptNonce,
                                   const Nonce& tcpcopyNonce);
std::optional<Mac> computeAckMac(std::string_view secret, const Nonce& interceptNonce,
                                 const Nonce& tcpcopyNonce);
// True only when both MACs exist and are equal (compared in constant time).
bool macMatches(const std::optional<Mac>& expected, const std::optional<Mac>& received);
// A nonce from the OpenSSL random generator.
Nonce randomNonce();

}  // namespace tcpcopy::tunnel
