#include "tcpcopy/protocol/mysql_packet.h"

#include <algorithm>
#include <cstring>

namespace tcpcopy::protocol::mysql {

Bytes toBytes(std::string_view text) {
    Bytes out(text.size());
    if (!text.empty()) {
        std::memcpy(out.data(), text.data(), text.size());
    }
    return out;
}

std::string toString(ByteView bytes) {
    std::string out(bytes.size(), '\0');
    if (!bytes.empty()) {
        std::memcpy(out.data(), bytes.data(), bytes.size());
    }
    return out;
}

void PacketAssembler::feed(ByteView bytes) {
    if (offset_ > 0 && offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<Packet> PacketAssembler::next() {
    const std::size_t available = buffer_.size() - offset_;
    if (available < kHeaderSize) {
        return std::nullopt;
    }
    const auto* h = buffer_.data() + offset_;
    const std::size_t length = std::to_integer<std::size_t>(h[0]) | std::to_integer<std::size_t>(h[1]) << 8 |
                               std::to_integer<std::size_t>(h[2]) << 16;
    if (available < kHeaderSize + length) {
        return std::nullopt;
    }
    Packet packet;
    packet.seq = std::to_integer<std::uint8_t>(h[3]);
    packet.payload.assign(h + kHeaderSize, h + kHeaderSize + length);
    packet.continuation = lastWasMax_;
    lastWasMax_ = length == kMaxPacketPayload;
    offset_ += kHeaderSize + length;
    // Compact once the consumed prefix dominates, so a long stream keeps O(packet) memory.
    if (offset_ > 65536 && offset_ * 2 > buffer_.size()) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
        offset_ = 0;
    }
    return packet;
}

void appendHeader(Bytes& out, std::size_t payloadLength, std::uint8_t seq) {
    putU24(out, static_cast<std::uint32_t>(payloadLength));
    putU8(out, seq);
}

std::uint8_t appendMessage(Bytes& out, std::uint8_t seq, ByteView payload) {
    std::size_t offset = 0;
    while (true) {
        const std::size_t chunk = std::min(kMaxPacketPayload, payload.size() - offset);
        appendHeader(out, chunk, seq++);
        putBytes(out, payload.subspan(offset, chunk));
        offset += chunk;
        if (chunk < kMaxPacketPayload) {
            return seq;
        }
    }
}

std::uint8_t Reader::u8() {
    const ByteView b = fixed(1);
    return b.empty() ? 0 : std::to_integer<std::uint8_t>(b[0]);
}

std::uint16_t Reader::u16() {
    const ByteView b = fixed(2);
    if (b.empty()) {
        return 0;
    }
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[0]) | std::to_integer<unsigned>(b[1]) << 8);
}

std::uint32_t Reader::u24() {
    const ByteView b = fixed(3);
    if (b.empty()) {
        return 0;
    }
    return std::to_integer<std::uint32_t>(b[0]) | std::to_integer<std::uint32_t>(b[1]) << 8 |
           std::to_integer<std::uint32_t>(b[2]) << 16;
}

std::uint32_t Reader::u32() {
    const ByteView b = fixed(4);
    if (b.empty()) {
        return 0;
    }
    return std::to_integer<std::uint32_t>(b[0]) | std::to_integer<std::uint32_t>(b[1]) << 8 |
           std::to_integer<std::uint32_t>(b[2]) << 16 | std::to_integer<std::uint32_t>(b[3]) << 24;
}

std::uint64_t Reader::lenenc() {
    const std::uint8_t first = u8();
    switch (first) {
        case 0xFC:
            return u16();
        case 0xFD:
            return u24();
        case 0xFE: {
            const std::uint64_t low = u32();
            return low | static_cast<std::uint64_t>(u32()) << 32;
        }
        case 0xFB:  // NULL in a row, never a length
        case 0xFF:  // an ERR packet's marker, never a length
            fail();
            return 0;
        default:
            return first;
    }
}

ByteView Reader::fixed(std::size_t n) {
    if (failed_ || data_.size() - pos_ < n) {
        failed_ = true;
        return {};
    }
    const ByteView out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
}

ByteView Reader::lenencBytes() {
    const std::uint64_t n = lenenc();
    if (failed_ || n > data_.size() - pos_) {
        failed_ = true;
        return {};
    }
    return fixed(static_cast<std::size_t>(n));
}

ByteView Reader::nulTerminated() {
    if (failed_) {
        return {};
    }
    const auto begin = data_.begin() + static_cast<std::ptrdiff_t>(pos_);
    const auto nul = std::find(begin, data_.end(), std::byte{0});
    if (nul == data_.end()) {
        failed_ = true;
        return {};
    }
    const ByteView out = data_.subspan(pos_, static_cast<std::size_t>(nul - begin));
    pos_ += out.size() + 1;
    return out;
}

ByteView Reader::rest() {
    if (failed_) {
        return {};
    }
    const ByteView out = data_.subspan(pos_);
    pos_ = data_.size();
    return out;
}

void putU8(Bytes& out, std::uint8_t v) { out.push_back(std::byte{v}); }

void putU16(Bytes& out, std::uint16_t v) {
    putU8(out, static_cast<std::uint8_t>(v));
    putU8(out, static_cast<std::uint8_t>(v >> 8));
}

void putU24(Bytes& out, std::uint32_t v) {
    putU16(out, static_cast<std::uint16_t>(v));
    putU8(out, static_cast<std::uint8_t>(v >> 16));
}

void putU32(Bytes& out, std::uint32_t v) {
    putU16(out, static_cast<std::uint16_t>(v));
    putU16(out, static_cast<std::uint16_t>(v >> 16));
}

void putLenenc(Bytes& out, std::uint64_t v) {
    if (v < 0xFB) {
        putU8(out, static_cast<std::uint8_t>(v));
    } else if (v <= 0xFFFF) {
        putU8(out, 0xFC);
        putU16(out, static_cast<std::uint16_t>(v));
    } else if (v <= 0xFFFFFF) {
        putU8(out, 0xFD);
        putU24(out, static_cast<std::uint32_t>(v));
    } else {
        putU8(out, 0xFE);
        putU32(out, static_cast<std::uint32_t>(v));
        putU32(out, static_cast<std::uint32_t>(v >> 32));
    }
}

void putBytes(Bytes& out, ByteView bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void putLenencBytes(Bytes& out, ByteView bytes) {
    putLenenc(out, bytes.size());
    putBytes(out, bytes);
}

void putNulTerminated(Bytes& out, ByteView bytes) {
    putBytes(out, bytes);
    putU8(out, 0);
}

}  // namespace tcpcopy::protocol::mysql
