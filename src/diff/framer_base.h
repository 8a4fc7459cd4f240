#pragma once
// What the HTTP, RESP and generic framers share: the message being built (sample, body digest and
// prefix, times), a bounded line reader, and the loop that walks a chunk's known bytes and gap
// through a framer's state machine. Internal to src/diff/.

#include <cstring>
#include <string>
#include <string_view>

#include "tcpcopy/diff/digest.h"
#include "tcpcopy/diff/message.h"

namespace tcpcopy::diff::detail {

inline std::string_view asText(const std::byte* p, std::size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}
inline net::Bytes asBytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// The message a framer is reading: everything but the protocol fields is filled in here.
class MessageBuilder {
  public:
    explicit MessageBuilder(const FramingLimits& limits) : limits_(limits) {}

    bool active() const { return active_; }
    void begin(std::uint64_t offset, Time time);
    // Bytes of the message as on the wire (the sample).
    void raw(const std::byte* p, std::size_t n, Time time);
    void rawGap(Time time);
    // Body bytes (digest, size, prefix).
    void body(const std::byte* p, std::size_t n);
    void bodyGap(std::uint64_t n);
    Message& message() { return message_; }
    // The finished message [begin, end); the builder is inactive after it.
    Message take(std::uint64_t end, std::uint64_t index, bool cut);

  private:
    const FramingLimits& limits_;
    Message message_;
    StreamDigest digest_;
    bool active_ = false;
    bool prefixOpen_ = true;
};

// Collects one line up to '\n' across chunks, at most `maxLine` bytes; the line is returned
// without its "\r\n" (or lone "\n").
class LineReader {
  public:
    enum class Status { NeedMore, Line, TooLong };
    // Consumes bytes from [p, p + n) up to and including the line end; `used` says how many.
    Status read(const std::byte* p, std::size_t n, std::size_t maxLine, std::size_t& used);
    std::string_view line() const { return line_; }
    bool empty() const { return line_.empty(); }
    void clear() { line_.clear(); }

  private:
    std::string line_;
};

// The chunk walk. A subclass consumes known bytes (returning how many it took, at least one
// unless it lost the stream) and gaps (returning how many unknown bytes it could step over, 0
// when the framing cannot continue over a gap here, which loses the stream).
class ByteFramer : public Framer {
  public:
    ByteFramer(const FramingLimits& limits, MessageSink& sink)
        : limits_(limits), sink_(sink), builder_(limits) {}

    void feed(const Chunk& chunk) final;
    std::string_view lost() const final { return lost_; }
    std::uint64_t emitted() const final { return emitted_; }

  protected:
    virtual std::size_t onBytes(const std::byte* p, std::size_t n, Time time) = 0;
    virtual std::uint64_t onGap(std::uint64_t n, Time time) = 0;

    // Stops the framing; the message being read, if any, is emitted as cut when `emitCut`.
    void lose(std::string_view reason, bool emitCut = true);
    // Emits the current message, ending at the current position (+ `extra` bytes being consumed).
    void emit(std::uint64_t end, bool cut = false);
    // Stream offset of the byte being consumed.
    std::uint64_t position() const { return pos_; }
    bool isLost() const { return !lost_.empty(); }

    const FramingLimits& limits_;
    MessageSink& sink_;
    MessageBuilder builder_;
    std::uint64_t emitted_ = 0;

  private:
    std::uint64_t pos_ = 0;
    std::string lost_;
};

}  // namespace tcpcopy::diff::detail
