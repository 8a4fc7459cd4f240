#pragma once

// MySQL/MariaDB client/server packet framing and the wire primitives (little-endian integers,
// length-encoded integers and strings) that the handshake and command parsers share.
//
// A wire packet is a 4-byte header (payload length as a 3-byte little-endian integer, then the
// sequence id) and its payload. A payload of 0xFFFFFF bytes or more is cut into 0xFFFFFF-byte
// packets followed by a shorter one (possibly empty): a logical message ends at the first packet
// shorter than 0xFFFFFF.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpcopy::protocol::mysql {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;

inline constexpr std::size_t kHeaderSize = 4;
inline constexpr std::size_t kMaxPacketPayload = 0xFFFFFF;

Bytes toBytes(std::string_view text);
std::string toString(ByteView bytes);

// One wire packet. `continuation` is true when the previous packet of the same stream had the
// maximal length, so this one carries the rest of a >16 MiB message (not a new command).
struct Packet {
    std::uint8_t seq = 0;
    Bytes payload;
    bool continuation = false;
};

// Cuts an in-order byte stream that arrives in arbitrary pieces into wire packets. Holds at most
// one incomplete packet.
class PacketAssembler {
  public:
    void feed(ByteView bytes);
    // The next complete packet, or nothing until more bytes arrive.
    std::optional<Packet> next();
    std::size_t buffered() const { return buffer_.size() - offset_; }

  private:
    Bytes buffer_;
    std::size_t offset_ = 0;
    bool lastWasMax_ = false;
};

// Appends `payload` as one logical message starting at sequence id `seq`, cut into 0xFFFFFF-byte
// packets when needed. Returns the sequence id the next packet would carry.
std::uint8_t appendMessage(Bytes& out, std::uint8_t seq, ByteView payload);
// Appends one wire packet header.
void appendHeader(Bytes& out, std::size_t payloadLength, std::uint8_t seq);

// Bounds-checked little-endian reader over a payload. A read past the end sets failed() and
// returns zero/empty; callers check failed() once after a sequence of reads.
class Reader {
  public:
    explicit Reader(ByteView data) : data_(data) {}
    std::uint8_t u8();
    std::uint16_t u16();
    std::uint32_t u24();
    std::uint32_t u32();
    std::uint64_t lenenc();
    ByteView fixed(std::size_t n);
    ByteView lenencBytes();
    // Up to the next NUL (consumed, not returned); fails when there is none.
    ByteView nulTerminated();
    ByteView rest();
    std::size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
    std::size_t position() const { return pos_; }
    bool failed() const { return failed_; }
    void fail() { failed_ = true; }

  private:
    ByteView data_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

// Little-endian writers.
void putU8(Bytes& out, std::uint8_t v);
void putU16(Bytes& out, std::uint16_t v);
void putU24(Bytes& out, std::uint32_t v);
void putU32(Bytes& out, std::uint32_t v);
void putLenenc(Bytes& out, std::uint64_t v);
void putBytes(Bytes& out, ByteView bytes);
void putLenencBytes(Bytes& out, ByteView bytes);
void putNulTerminated(Bytes& out, ByteView bytes);

}  // namespace tcpcopy::protocol::mysql
