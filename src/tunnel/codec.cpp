#include "tcpcopy/tunnel/codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/udp.h"
#include "tcpcopy/net/wire.h"

namespace tcpcopy::tunnel {
namespace {

constexpr std::uint8_t kFamilyIpv4 = 4;
constexpr std::uint8_t kFamilyIpv6 = 6;
constexpr std::size_t kMaxItemSize = 0xFFFF;
constexpr std::size_t kMaxItems = 0xFFFF;
constexpr std::uint16_t kFragmentOffsetMask = 0x1FFF;

void putU8(Buffer& out, std::uint8_t v) { out.push_back(static_cast<std::byte>(v)); }
void putU16(Buffer& out, std::uint16_t v) {
    out.resize(out.size() + 2);
    net::wire::put16(out.data() + out.size() - 2, v);
}
void putU32(Buffer& out, std::uint32_t v) {
    out.resize(out.size() + 4);
    net::wire::put32(out.data() + out.size() - 4, v);
}
void putBytes(Buffer& out, net::Bytes bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }
void putText(Buffer& out, std::string_view text) {
    putBytes(out, std::as_bytes(std::span(text.data(), text.size())));
}
void patchU16(Buffer& out, std::size_t at, std::uint16_t v) { net::wire::put16(out.data() + at, v); }
void patchU32(Buffer& out, std::size_t at, std::uint32_t v) { net::wire::put32(out.data() + at, v); }

// Writes a header with a zero length and returns the offset of the frame, for patching.
std::size_t beginFrame(Buffer& out, MessageType type, std::uint8_t version = kVersion,
                       std::uint16_t flags = 0) {
    std::size_t start = out.size();
    putU16(out, kMagic);
    putU8(out, version);
    putU8(out, static_cast<std::uint8_t>(type));
    putU16(out, flags);  // CHALLENGE: the newest version spoken; HELLO, HELLO_ACK: payload bytes
    putU32(out, 0);      // payload length, patched by endFrame
    return start;
}
void endFrame(Buffer& out, std::size_t start) {
    patchU32(out, start + 6, static_cast<std::uint32_t>(out.size() - start - kHeaderSize));
}

void putAddr(Buffer& out, const net::IpAddr& addr) {
    if (addr.isV4()) {
        putU32(out, addr.v4().value());
        return;
    }
    out.resize(out.size() + 16);
    addr.toWire(out.data() + out.size() - 16);
}

// A flow's family is its server's; tcpcopy never mixes families within one flow.
void putRoute(Buffer& out, const net::FlowKey& flow) {
    putU8(out, flow.server.addr.isV4() ? kFamilyIpv4 : kFamilyIpv6);
    putAddr(out, flow.client.addr);
    putU16(out, flow.client.port.value());
    putAddr(out, flow.server.addr);
    putU16(out, flow.server.port.value());
}

// Bounds-checked big-endian reader over a payload. Every read fails once the data runs out.
class Reader {
  public:
    explicit Reader(net::Bytes data) : data_(data) {}
    bool u8(std::uint8_t& v) {
        if (!need(1)) return false;
        v = net::wire::u8(data_.data() + pos_);
        pos_ += 1;
        return true;
    }
    bool u16(std::uint16_t& v) {
        if (!need(2)) return false;
        v = net::wire::be16(data_.data() + pos_);
        pos_ += 2;
        return true;
    }
    bool u32(std::uint32_t& v) {
        if (!need(4)) return false;
        v = net::wire::be32(data_.data() + pos_);
        pos_ += 4;
        return true;
    }
    bool bytes(std::size_t n, net::Bytes& v) {
        if (!need(n)) return false;
        v = data_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    bool atEnd() const { return pos_ == data_.size(); }

  private:
    bool need(std::size_t n) const { return data_.size() - pos_ >= n; }
    net::Bytes data_;
    std::size_t pos_ = 0;
};

std::string toText(net::Bytes bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A mac_len byte (0 or kMacSize) and that many bytes.
MessageError readMac(Reader& r, std::optional<Mac>& out) {
    std::uint8_t len = 0;
    net::Bytes bytes;
    if (!r.u8(len)) return MessageError::Truncated;
    if (len != 0 && len != kMacSize) return MessageError::BadValue;
    if (!r.bytes(len, bytes)) return MessageError::Truncated;
    out.reset();
    if (len == kMacSize) {
        Mac value;
        std::copy(bytes.begin(), bytes.end(), value.begin());
        out = value;
    }
    return MessageError::None;
}

// HMAC-SHA256(secret, label | first | second), or nullopt when OpenSSL cannot compute it.
std::optional<Mac> hmacSha256(std::string_view secret, std::string_view label, const Nonce& first,
                              const Nonce& second) {
    if (secret.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;  // HMAC() takes an int
    Buffer data;
    data.reserve(label.size() + 2 * kNonceSize);
    putText(data, label);
    putBytes(data, first);
    putBytes(data, second);
    Mac mac{};
    unsigned int len = 0;
    const unsigned char* done = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                                     reinterpret_cast<unsigned char*>(mac.data()), &len);
    if (done == nullptr || len != kMacSize) return std::nullopt;
    return mac;
}

MessageError finish(Reader& r, bool ok) {
    if (!ok) return MessageError::Truncated;
    return r.atEnd() ? MessageError::None : MessageError::TrailingBytes;
}

MessageError readRoute(Reader& r, net::FlowKey& flow) {
    std::uint8_t family = 0;
    if (!r.u8(family)) return MessageError::Truncated;
    if (family == kFamilyIpv6) {
        net::Bytes ca, sa;
        std::uint16_t cp = 0, sp = 0;
        const bool ok = r.bytes(16, ca) && r.u16(cp) && r.bytes(16, sa) && r.u16(sp);
        if (ok) {
            flow = net::FlowKey{{net::IpAddr::fromWire(ca.data()), net::Port(cp)},
                                {net::IpAddr::fromWire(sa.data()), net::Port(sp)}};
            // An IPv4-mapped address in a family-6 route would alias an IPv4 flow.
            if (flow.client.addr.isV4() || flow.server.addr.isV4()) return MessageError::BadValue;
        }
        return finish(r, ok);
    }
    if (family != kFamilyIpv4) return MessageError::BadValue;
    std::uint32_t ca = 0, sa = 0;
    std::uint16_t cp = 0, sp = 0;
    bool ok = r.u32(ca) && r.u16(cp) && r.u32(sa) && r.u16(sp);
    flow = net::FlowKey{{net::Ipv4Addr(ca), net::Port(cp)}, {net::Ipv4Addr(sa), net::Port(sp)}};
    return finish(r, ok);
}

// The IP layer of a packet whose headers can travel as a RESPONSES item, and its TCP header's
// length: IPv4, or IPv6 with its extension headers, carrying TCP, not a fragment, the whole TCP
// header (options included) present. length 0 when the packet is none of that.
struct TcpHeaders {
    net::IpLayer ip;
    std::size_t length = 0;
};
TcpHeaders tcpHeaders(net::Bytes ipPacket) {
    TcpHeaders out{net::parseIpLayer(ipPacket), 0};
    if (out.ip.status == net::DecodeStatus::Ok && out.ip.protocol == net::kIpProtoTcp && !out.ip.fragment) {
        out.length = net::tcpHeaderLength(out.ip.payload);
    }
    return out;
}

}  // namespace

std::string_view messageTypeName(MessageType type) {
    switch (type) {
        case MessageType::Challenge:
            return "CHALLENGE";
        case MessageType::Hello:
            return "HELLO";
        case MessageType::HelloAck:
            return "HELLO_ACK";
        case MessageType::Reject:
            return "REJECT";
        case MessageType::RouteAdd:
            return "ROUTE_ADD";
        case MessageType::RouteDel:
            return "ROUTE_DEL";
        case MessageType::Responses:
            return "RESPONSES";
        case MessageType::Heartbeat:
            return "HEARTBEAT";
        case MessageType::ResponsePayloads:
            return "RESPONSE_PAYLOADS";
    }
    return "UNKNOWN";
}

std::string_view rejectReasonName(RejectReason reason) {
    switch (reason) {
        case RejectReason::BadVersion:
            return "unsupported protocol version";
        case RejectReason::AuthFailed:
            return "authentication failed";
        case RejectReason::NotAllowed:
            return "address not allowed";
        case RejectReason::Malformed:
            return "malformed frame";
        case RejectReason::Protocol:
            return "protocol violation";
        case RejectReason::TooManyConnections:
            return "too many connections";
    }
    return "unknown reason";
}

std::string_view frameErrorName(FrameError error) {
    switch (error) {
        case FrameError::None:
            return "none";
        case FrameError::BadMagic:
            return "bad magic";
        case FrameError::BadVersion:
            return "unsupported version";
        case FrameError::Oversize:
            return "frame too large";
    }
    return "unknown";
}

std::string_view messageErrorName(MessageError error) {
    switch (error) {
        case MessageError::None:
            return "none";
        case MessageError::UnknownType:
            return "unknown message type";
        case MessageError::Truncated:
            return "truncated message";
        case MessageError::TrailingBytes:
            return "trailing bytes after message";
        case MessageError::BadValue:
            return "invalid field value";
    }
    return "unknown";
}

net::Bytes responseHeaderBytes(net::Bytes ipPacket) { return responsePrefix(ipPacket, 0); }

net::Bytes responsePrefix(net::Bytes ipPacket, std::size_t payloadLimit) {
    const TcpHeaders tcp = tcpHeaders(ipPacket);
    if (tcp.length == 0) return {};
    const std::size_t present = tcp.ip.payload.size() - tcp.length;
    return tcp.ip.packet.first(tcp.ip.headerLength + tcp.length + std::min(present, payloadLimit));
}

net::Bytes udpResponseHeader(net::Bytes ipPacket) {
    const net::IpLayer ip = net::parseIpLayer(ipPacket);
    if (ip.status != net::DecodeStatus::Ok || ip.version != 4 || ip.protocol != net::kIpProtoUdp) return {};
    if ((net::wire::be16(ip.packet.data() + 6) & kFragmentOffsetMask) != 0) return {};  // no UDP header
    if (ip.payload.size() < net::kUdpHeaderLen) return {};
    return ip.packet.first(ip.headerLength + net::kUdpHeaderLen);
}

ResponseParts splitResponse(net::Bytes prefix) {
    ResponseParts parts;
    if (!prefix.empty() && (std::to_integer<std::uint8_t>(prefix[0]) >> 4) == 6) {
        // IPv6 (TCP only: UDP copy is IPv4): the header chain walked as the decoder does.
        const TcpHeaders tcp = tcpHeaders(prefix);
        if (tcp.length == 0) return parts;
        parts.header = tcp.ip.packet.first(tcp.ip.headerLength + tcp.length);
        parts.payload = tcp.ip.payload.subspan(tcp.length);
        // The header chain lies within the stated length (parseIpLayer checks): no underflow.
        parts.payloadLength = tcp.ip.payloadLength - static_cast<std::uint32_t>(tcp.length);
        return parts;
    }
    if (prefix.size() < 20 || (std::to_integer<std::uint8_t>(prefix[0]) >> 4) != 4) return parts;
    const std::size_t ipLength =
        static_cast<std::size_t>(std::to_integer<std::uint8_t>(prefix[0]) & 0x0Fu) * 4;
    if (ipLength >= 20 && std::to_integer<std::uint8_t>(prefix[9]) == net::kIpProtoUdp) {
        if (prefix.size() < ipLength + net::kUdpHeaderLen) return parts;
        const std::size_t udpLength = net::wire::be16(prefix.data() + ipLength + 4);
        parts.header = prefix.first(ipLength + net::kUdpHeaderLen);
        parts.payload = prefix.subspan(ipLength + net::kUdpHeaderLen);
        if (udpLength > net::kUdpHeaderLen) parts.payloadLength = static_cast<std::uint32_t>(udpLength - 8);
        parts.payloadLength = std::max(parts.payloadLength, static_cast<std::uint32_t>(parts.payload.size()));
        return parts;
    }
    if (ipLength < 20 || prefix.size() < ipLength + 20) return parts;
    const std::size_t tcpLength =
        static_cast<std::size_t>(std::to_integer<std::uint8_t>(prefix[ipLength + 12]) >> 4) * 4;
    if (tcpLength < 20 || prefix.size() < ipLength + tcpLength) return parts;
    const std::size_t totalLength = net::wire::be16(prefix.data() + 2);
    parts.header = prefix.first(ipLength + tcpLength);
    parts.payload = prefix.subspan(ipLength + tcpLength);
    if (totalLength > ipLength + tcpLength) {
        parts.payloadLength = static_cast<std::uint32_t>(totalLength - ipLength - tcpLength);
    }
    // A GSO super-packet states no total length: what is present is all that is known.
    parts.payloadLength = std::max(parts.payloadLength, static_cast<std::uint32_t>(parts.payload.size()));
    return parts;
}

void putMac(Buffer& out, const std::optional<Mac>& mac) {
    if (mac) {
        putU8(out, static_cast<std::uint8_t>(kMacSize));
        putBytes(out, *mac);
    } else {
        putU8(out, 0);
    }
}

void encode(Buffer& out, const Challenge& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::Challenge, frameVersion, message.maxVersion);
    putU8(out, message.authRequired ? 1 : 0);
    putBytes(out, message.nonce);
    endFrame(out, start);
}

void encode(Buffer& out, const Hello& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::Hello, frameVersion, message.payloadBytes);
    putU8(out, message.version);
    std::string_view id(message.instanceId);
    id = id.substr(0, std::min(id.size(), kMaxInstanceIdSize));
    putU8(out, static_cast<std::uint8_t>(id.size()));
    putText(out, id);
    putBytes(out, message.nonce);
    putMac(out, message.mac);
    endFrame(out, start);
}

void encode(Buffer& out, const HelloAck& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::HelloAck, frameVersion, message.payloadBytes);
    putU32(out, message.peerId);
    putMac(out, message.mac);
    endFrame(out, start);
}

void encode(Buffer& out, const Reject& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::Reject, frameVersion);
    putU8(out, static_cast<std::uint8_t>(message.reason));
    std::string_view text(message.text);
    text = text.substr(0, std::min<std::size_t>(text.size(), 0xFFFF));
    putU16(out, static_cast<std::uint16_t>(text.size()));
    putText(out, text);
    endFrame(out, start);
}

void encode(Buffer& out, const RouteAdd& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::RouteAdd, frameVersion);
    putRoute(out, message.flow);
    endFrame(out, start);
}

void encode(Buffer& out, const RouteDel& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::RouteDel, frameVersion);
    putRoute(out, message.flow);
    endFrame(out, start);
}

std::size_t encode(Buffer& out, const Responses& message, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::Responses, frameVersion);
    std::size_t countAt = out.size();
    putU16(out, 0);
    std::size_t written = 0;
    for (net::Bytes item : message.items) {
        if (item.empty() || item.size() > kMaxItemSize || written == kMaxItems) continue;
        putU16(out, static_cast<std::uint16_t>(item.size()));
        putBytes(out, item);
        ++written;
    }
    patchU16(out, countAt, static_cast<std::uint16_t>(written));
    endFrame(out, start);
    return written;
}

std::size_t encode(Buffer& out, const ResponsePayloads& message, std::uint8_t frameVersion) {
    ResponseBatch batch(true);
    for (const PayloadItem& item : message.items) batch.add(item.header, item.payloadLength, item.captured);
    const std::size_t written = batch.count();
    Buffer frame = batch.finish();
    frame[2] = static_cast<std::byte>(frameVersion);
    putBytes(out, frame);
    return written;
}

void encode(Buffer& out, const Heartbeat&, std::uint8_t frameVersion) {
    std::size_t start = beginFrame(out, MessageType::Heartbeat, frameVersion);
    endFrame(out, start);
}

void encode(Buffer& out, const Message& message, std::uint8_t frameVersion) {
    std::visit([&out, frameVersion](const auto& m) { encode(out, m, frameVersion); }, message);
}

ResponseBatch::ResponseBatch(bool withPayloads) : withPayloads_(withPayloads) { begin(); }

void ResponseBatch::begin() {
    beginFrame(frame_, withPayloads_ ? MessageType::ResponsePayloads : MessageType::Responses);
    putU16(frame_, 0);
}

bool ResponseBatch::add(net::Bytes header, std::uint32_t payloadLength, net::Bytes captured) {
    if (header.empty() || header.size() > kMaxItemSize || captured.size() > kMaxItemSize ||
        captured.size() > payloadLength || count_ == kMaxItems) {
        return false;
    }
    if (frame_.size() - kHeaderSize + 2 + header.size() + 6 + captured.size() > kMaxPayload) return false;
    putU16(frame_, static_cast<std::uint16_t>(header.size()));
    putBytes(frame_, header);
    putU32(frame_, payloadLength);
    putU16(frame_, static_cast<std::uint16_t>(captured.size()));
    putBytes(frame_, captured);
    ++count_;
    return true;
}

bool ResponseBatch::add(net::Bytes item) {
    if (item.empty() || item.size() > kMaxItemSize || count_ == kMaxItems) return false;
    if (frame_.size() - kHeaderSize + 2 + item.size() > kMaxPayload) return false;
    putU16(frame_, static_cast<std::uint16_t>(item.size()));
    putBytes(frame_, item);
    ++count_;
    return true;
}

Buffer ResponseBatch::finish() {
    patchU16(frame_, kHeaderSize, static_cast<std::uint16_t>(count_));
    endFrame(frame_, 0);
    Buffer done = std::move(frame_);
    frame_.clear();
    count_ = 0;
    begin();
    return done;
}

void FrameDecoder::feed(net::Bytes chunk) {
    if (error_ != FrameError::None) return;
    if (consumed_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
        consumed_ = 0;
    }
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.end());
}

FrameDecoder::Status FrameDecoder::next(Frame& out) {
    if (error_ != FrameError::None) return Status::Error;
    net::Bytes pending = net::Bytes(buffer_).subspan(consumed_);
    // Check what is already there byte by byte, so garbage is rejected before a whole header.
    if (pending.size() >= 1 && std::to_integer<std::uint8_t>(pending[0]) != (kMagic >> 8)) {
        error_ = FrameError::BadMagic;
    } else if (pending.size() >= 2 && std::to_integer<std::uint8_t>(pending[1]) != (kMagic & 0xFF)) {
        error_ = FrameError::BadMagic;
    } else if (pending.size() >= 3 && std::to_integer<std::uint8_t>(pending[2]) != version_) {
        error_ = FrameError::BadVersion;
        receivedVersion_ = std::to_integer<std::uint8_t>(pending[2]);
    }
    if (error_ != FrameError::None) return Status::Error;
    if (pending.size() < kHeaderSize) return Status::NeedMore;
    Reader r(pending);
    std::uint16_t magic = 0, flags = 0;
    std::uint8_t version = 0, type = 0;
    std::uint32_t length = 0;
    r.u16(magic);
    r.u8(version);
    r.u8(type);
    r.u16(flags);
    r.u32(length);
    if (length > maxPayload_) {
        error_ = FrameError::Oversize;
        return Status::Error;
    }
    if (pending.size() - kHeaderSize < length) return Status::NeedMore;
    out.type = static_cast<MessageType>(type);
    out.flags = flags;
    out.payload = pending.subspan(kHeaderSize, length);
    consumed_ += kHeaderSize + length;
    return Status::Frame;
}

MessageError decodeMessage(const Frame& frame, Message& out) {
    Reader r(frame.payload);
    switch (frame.type) {
        case MessageType::Challenge: {
            Challenge m;
            std::uint8_t auth = 0;
            net::Bytes nonce;
            bool ok = r.u8(auth) && r.bytes(kNonceSize, nonce);
            if (ok && auth > 1) return MessageError::BadValue;
            MessageError e = finish(r, ok);
            if (e != MessageError::None) return e;
            m.authRequired = auth == 1;
            std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
            // Version 1 intercepts write no flags: 0 means version 1.
            m.maxVersion = std::max<std::uint8_t>(1, static_cast<std::uint8_t>(frame.flags & 0xFF));
            out = m;
            return MessageError::None;
        }
        case MessageType::Hello: {
            Hello m;
            m.payloadBytes = frame.flags;
            if (!r.u8(m.version)) return MessageError::Truncated;
            if (m.version != kVersion) {
                // Another release's layout: the version is all the receiver needs to answer.
                out = std::move(m);
                return MessageError::None;
            }
            std::uint8_t idLen = 0;
            net::Bytes id, nonce;
            std::optional<Mac> mac;
            bool ok = r.u8(idLen) && r.bytes(idLen, id) && r.bytes(kNonceSize, nonce);
            if (!ok) return MessageError::Truncated;
            if (MessageError e = readMac(r, mac); e != MessageError::None) return e;
            if (!r.atEnd()) return MessageError::TrailingBytes;
            m.instanceId = toText(id);
            std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
            m.mac = mac;
            out = std::move(m);
            return MessageError::None;
        }
        case MessageType::HelloAck: {
            HelloAck m;
            m.payloadBytes = frame.flags;
            if (!r.u32(m.peerId)) return MessageError::Truncated;
            if (MessageError e = readMac(r, m.mac); e != MessageError::None) return e;
            if (!r.atEnd()) return MessageError::TrailingBytes;
            out = m;
            return MessageError::None;
        }
        case MessageType::Reject: {
            Reject m;
            std::uint8_t reason = 0;
            std::uint16_t len = 0;
            net::Bytes text;
            MessageError e = finish(r, r.u8(reason) && r.u16(len) && r.bytes(len, text));
            if (e != MessageError::None) return e;
            m.reason = static_cast<RejectReason>(reason);  // unknown reasons are still a reject
            m.text = toText(text);
            out = std::move(m);
            return MessageError::None;
        }
        case MessageType::RouteAdd:
        case MessageType::RouteDel: {
            net::FlowKey flow;
            MessageError e = readRoute(r, flow);
            if (e != MessageError::None) return e;
            if (frame.type == MessageType::RouteAdd) {
                out = RouteAdd{flow};
            } else {
                out = RouteDel{flow};
            }
            return MessageError::None;
        }
        case MessageType::Responses: {
            Responses m;
            std::uint16_t count = 0;
            if (!r.u16(count)) return MessageError::Truncated;
            // Each item takes at least 3 bytes: a count the payload cannot hold reserves nothing
            // it does not hold (a 12-byte frame claiming 65535 items reserves no 1 MiB).
            m.items.reserve(std::min<std::size_t>(count, frame.payload.size() / 3));
            for (std::uint16_t i = 0; i < count; ++i) {
                std::uint16_t len = 0;
                net::Bytes item;
                if (!r.u16(len) || !r.bytes(len, item)) return MessageError::Truncated;
                if (len == 0) return MessageError::BadValue;
                m.items.push_back(item);
            }
            if (!r.atEnd()) return MessageError::TrailingBytes;
            out = std::move(m);
            return MessageError::None;
        }
        case MessageType::Heartbeat: {
            if (!r.atEnd()) return MessageError::TrailingBytes;
            out = Heartbeat{};
            return MessageError::None;
        }
        case MessageType::ResponsePayloads: {
            ResponsePayloads m;
            std::uint16_t count = 0;
            if (!r.u16(count)) return MessageError::Truncated;
            // Each item takes at least 9 bytes (as RESPONSES: reserve no more than the payload holds).
            m.items.reserve(std::min<std::size_t>(count, frame.payload.size() / 9));
            for (std::uint16_t i = 0; i < count; ++i) {
                PayloadItem item;
                std::uint16_t headerLen = 0, capturedLen = 0;
                if (!r.u16(headerLen) || !r.bytes(headerLen, item.header) || !r.u32(item.payloadLength) ||
                    !r.u16(capturedLen) || !r.bytes(capturedLen, item.captured)) {
                    return MessageError::Truncated;
                }
                if (headerLen == 0 || capturedLen > item.payloadLength) return MessageError::BadValue;
                m.items.push_back(item);
            }
            if (!r.atEnd()) return MessageError::TrailingBytes;
            out = std::move(m);
            return MessageError::None;
        }
    }
    return MessageError::UnknownType;
}

std::optional<Mac> computeHelloMac(std::string_view secret, const Nonce& interceptNonce,
                                   const Nonce& tcpcopyNonce) {
    return hmacSha256(secret, "tcpcopy hello v2", interceptNonce, tcpcopyNonce);
}

std::optional<Mac> computeAckMac(std::string_view secret, const Nonce& interceptNonce,
                                 const Nonce& tcpcopyNonce) {
    return hmacSha256(secret, "intercept ack v2", tcpcopyNonce, interceptNonce);
}

bool macMatches(const std::optional<Mac>& expected, const std::optional<Mac>& received) {
    if (!expected || !received) return false;
    return CRYPTO_memcmp(expected->data(), received->data(), kMacSize) == 0;
}

Nonce randomNonce() {
    Nonce nonce{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) != 1) {
        // The CSPRNG failing is not something to run on with: a predictable nonce defeats the MAC.
        std::abort();
    }
    return nonce;
}

}  // namespace tcpcopy::tunnel
