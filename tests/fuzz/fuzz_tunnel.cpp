// libFuzzer target for the tunnel protocol's decoding side: FrameDecoder fed the input in chunks
// whose sizes the input chooses, and decodeMessage on every frame it yields.
// Properties: nothing crashes or reads out of bounds; the decoder never holds more than one
// maximum frame plus one chunk; after an error it stays in error; a message that decodes,
// encoded again and decoded again, encodes to the same bytes (the encoder and the decoder agree
// on the layout); a frame re-encoded from a decoded RESPONSES keeps every item.
// In handshake mode the stream is what an unauthenticated peer sends: the decoder starts with the
// handshake's rules (version 1 frames of at most kMaxHandshakePayload bytes) and, like a
// Connection, decodes only the handshake's message types (another type ends the stream) until a
// HELLO_ACK, after which the session's rules apply; until then it never holds more than one small
// frame plus one chunk.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "tcpcopy/tunnel/codec.h"

namespace {

namespace tunnel = tcpcopy::tunnel;
using tcpcopy::net::Bytes;

void require(bool condition) {
    if (!condition) std::abort();
}

// Decodes the one frame in `bytes` (which must hold exactly one) into `out`, whose views point
// into `decoder`'s buffer.
tunnel::MessageError decodeSingle(tunnel::FrameDecoder& decoder, const tunnel::Buffer& bytes,
                                  tunnel::Message& out) {
    decoder.feed(Bytes(bytes));
    tunnel::Frame frame;
    require(decoder.next(frame) == tunnel::FrameDecoder::Status::Frame);
    require(decoder.buffered() == 0);
    return tunnel::decodeMessage(frame, out);
}

void checkRoundTrip(const tunnel::Message& message, std::uint8_t version) {
    tunnel::Buffer first;
    tunnel::encode(first, message, version);
    tunnel::FrameDecoder decoder(tunnel::kMaxPayload, version);
    tunnel::Message again;
    require(decodeSingle(decoder, first, again) == tunnel::MessageError::None);
    require(again.index() == message.index());
    tunnel::Buffer second;
    tunnel::encode(second, again, version);
    require(first == second);
    if (const auto* r = std::get_if<tunnel::Responses>(&message)) {
        require(std::get<tunnel::Responses>(again).items.size() == r->items.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte picks the mode (bit 7: an unauthenticated peer's handshake; bit 6: a 64-byte
    // session limit, to reach Oversize) and the chunking of the rest of the stream.
    const unsigned control = data[0];
    bool handshake = (control & 0x80) != 0;
    std::uint32_t maxPayload =
        handshake ? tunnel::kMaxHandshakePayload : ((control & 0x40) ? 64u : tunnel::kMaxPayload);
    std::uint8_t version = handshake ? tunnel::kHandshakeFrameVersion : tunnel::kVersion;
    const std::size_t chunk = 1 + (control & 0x3F);
    const Bytes stream = std::as_bytes(std::span(data + 1, size - 1));

    tunnel::FrameDecoder decoder(maxPayload, version);
    bool failed = false;
    bool closed = false;  // a Connection would have closed on a type the handshake does not allow
    for (std::size_t pos = 0; pos < stream.size() && !closed; pos += chunk) {
        const Bytes piece = stream.subspan(pos, std::min(chunk, stream.size() - pos));
        decoder.feed(piece);
        require(decoder.buffered() <= tunnel::kHeaderSize + maxPayload + chunk);
        for (;;) {
            tunnel::Frame frame;
            const auto status = decoder.next(frame);
            if (status == tunnel::FrameDecoder::Status::NeedMore) break;
            if (status == tunnel::FrameDecoder::Status::Error) {
                require(decoder.error() != tunnel::FrameError::None);
                require(!tunnel::frameErrorName(decoder.error()).empty());
                if (decoder.error() == tunnel::FrameError::BadVersion) {
                    require(decoder.receivedVersion() != decoder.expectedVersion());
                }
                failed = true;
                break;
            }
            require(!failed);
            require(frame.payload.size() <= maxPayload);
            if (handshake && frame.type != tunnel::MessageType::Challenge &&
                frame.type != tunnel::MessageType::Hello && frame.type != tunnel::MessageType::HelloAck &&
                frame.type != tunnel::MessageType::Reject && frame.type != tunnel::MessageType::Heartbeat) {
                closed = true;  // never decoded before the handshake is over
                break;
            }
            tunnel::Message message;
            const tunnel::MessageError error = tunnel::decodeMessage(frame, message);
            require(!tunnel::messageErrorName(error).empty());
            if (error == tunnel::MessageError::None) checkRoundTrip(message, version);
            if (handshake && error == tunnel::MessageError::None &&
                std::holds_alternative<tunnel::HelloAck>(message)) {
                // The peer is authenticated: the session's rules from the next frame on.
                handshake = false;
                maxPayload = tunnel::kMaxPayload;
                version = tunnel::kVersion;
                decoder.expect(version, maxPayload);
            }
        }
        if (failed) {
            tunnel::Frame frame;
            require(decoder.next(frame) == tunnel::FrameDecoder::Status::Error);
            break;
        }
    }
    return 0;
}
