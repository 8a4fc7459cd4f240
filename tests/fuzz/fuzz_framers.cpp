// Fuzzes the regression diff's framers (diff::makeFramer: HTTP/1.x, RESP and generic, requests and
// responses) and diff::detectProtocol on any bytes of a stream.
//
// Input: byte 0 chooses the protocol (bits 0-1: http, resp, generic, http again) and the role
// (bit 2); byte 1 seeds the piece sizes; byte 2 says which of the first eight requests were HEAD
// (what a response framer is told); byte 3 is how many bytes of each piece are known (0: all).
// The rest is the stream.
//
// Checks: the same bytes framed in one piece and in many give the same messages (framing does not
// depend on how TCP split the stream; of a message lost inside, only where it began); messages follow each
// other inside what was fed; every kept buffer stays within FramingLimits; nothing is emitted after the
// framing is lost; with gaps, a message that holds one says so. detectProtocol: a verdict given early is not
// changed by more bytes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "tcpcopy/diff/message.h"

namespace {

using tcpcopy::diff::Chunk;
using tcpcopy::diff::FramingLimits;
using tcpcopy::diff::Message;
using tcpcopy::diff::Protocol;
using tcpcopy::diff::RequestTraits;
using tcpcopy::diff::Role;
using tcpcopy::diff::Time;

void check(bool condition, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz_framers: check failed at line %d\n", line);
    std::abort();
}
// A macro for __LINE__: clang 14 with libstdc++ has no std::source_location.
#define require(condition) check((condition), __LINE__)

class Sink final : public tcpcopy::diff::MessageSink {
  public:
    explicit Sink(std::uint8_t headMask) : headMask_(headMask) {}
    void onMessage(Message&& message) override { messages.push_back(std::move(message)); }
    std::optional<RequestTraits> requestTraits(std::uint64_t index) const override {
        if (index >= 8) return std::nullopt;
        RequestTraits t;
        t.head = (headMask_ >> index) & 1;
        return t;
    }

    std::vector<Message> messages;

  private:
    std::uint8_t headMask_;
};

FramingLimits smallLimits() {
    FramingLimits l;
    l.maxLine = 256;
    l.maxHeaderBytes = 1024;
    l.maxHeaders = 8;
    l.maxHeaderValue = 32;
    l.keepBytes = 64;
    l.sampleBytes = 64;
    l.maxRespDepth = 4;
    l.maxRespBulk = 1u << 20;
    return l;
}

// Piece sizes from a small linear congruential sequence: 1 to 64 bytes.
std::size_t nextPiece(std::uint32_t& state) {
    state = state * 1103515245u + 12345u;
    return 1 + ((state >> 16) % 64);
}

// Frames `stream` in pieces (one piece when `seed` is nullopt); `known` bytes of each piece are
// given, the rest is a gap (0: all known).
std::vector<Message> frame(Protocol protocol, Role role, std::uint8_t headMask, std::string_view stream,
                           std::optional<std::uint32_t> seed, std::size_t known) {
    const FramingLimits limits = smallLimits();
    Sink sink(headMask);
    auto framer = tcpcopy::diff::makeFramer(protocol, role, limits, sink);
    require(framer != nullptr);
    std::uint32_t state = seed.value_or(0);
    std::uint64_t offset = 0;
    while (offset < stream.size()) {
        const std::size_t piece =
            seed ? std::min<std::size_t>(nextPiece(state), stream.size() - offset) : stream.size() - offset;
        const std::size_t given = known == 0 ? piece : std::min(piece, known);
        const auto bytes = std::as_bytes(std::span(stream.data() + offset, given));
        const bool lostBefore = !framer->lost().empty();
        const std::size_t before = sink.messages.size();
        framer->feed(Chunk{offset, bytes, piece, Time{static_cast<std::int64_t>(offset)}});
        // After a loss nothing more comes (the message cut by the loss is emitted with it).
        if (lostBefore) require(sink.messages.size() == before);
        offset += piece;
    }
    const bool lostBeforeFinish = !framer->lost().empty();
    const std::size_t beforeFinish = sink.messages.size();
    framer->finish(Time{static_cast<std::int64_t>(stream.size())});
    if (lostBeforeFinish) require(sink.messages.size() == beforeFinish);
    require(framer->emitted() == sink.messages.size());

    std::uint64_t previousEnd = 0;
    for (std::size_t i = 0; i < sink.messages.size(); ++i) {
        const Message& m = sink.messages[i];
        require(m.index == i);
        require(m.begin >= previousEnd);
        require(m.begin <= m.end);
        require(m.end <= stream.size());
        require(m.first <= m.last);
        require(m.sample.size() <= limits.sampleBytes);
        require(m.bodyPrefix.size() <= limits.keepBytes);
        require(m.bodyPrefix.size() <= m.bodySize);
        require(m.headers.size() <= limits.maxHeaders);
        require(!m.lost || m.cut);
        if (known == 0) {
            require(!m.gaps);
            require(!m.sampleGap);
            require(m.bodyKnown || m.cut);  // a message cut short has not shown its whole body
            // The sample is the message's first bytes, as fed.
            require(stream.substr(m.begin, m.sample.size()) == m.sample);
        }
        previousEnd = m.end;
    }
    return sink.messages;
}

bool sameFraming(const Message& a, const Message& b) {
    // A message whose framing was lost inside it ends where the framer was when it gave up, which
    // depends on the split (message.h); only where it began is fixed.
    if (a.lost || b.lost)
        return a.index == b.index && a.begin == b.begin && a.lost == b.lost && a.cut == b.cut;
    if (a.headers.size() != b.headers.size()) return false;
    for (std::size_t i = 0; i < a.headers.size(); ++i) {
        if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) return false;
    }
    return a.index == b.index && a.begin == b.begin && a.end == b.end && a.cut == b.cut && a.lost == b.lost &&
           a.method == b.method && a.target == b.target && a.status == b.status && a.kind == b.kind &&
           a.headersDropped == b.headersDropped && a.bodySize == b.bodySize && a.bodyDigest == b.bodyDigest &&
           a.bodyKnown == b.bodyKnown && a.bodyPrefix == b.bodyPrefix && a.sample == b.sample;
}

constexpr Protocol kProtocols[] = {Protocol::Http, Protocol::Resp, Protocol::Generic, Protocol::Http};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const Protocol protocol = kProtocols[data[0] & 3];
    const Role role = (data[0] & 4) ? Role::Responses : Role::Requests;
    const std::uint32_t seed = data[1];
    const std::uint8_t headMask = data[2];
    const std::size_t known = data[3];
    const std::string_view stream(reinterpret_cast<const char*>(data + 4), size - 4);

    const auto whole = frame(protocol, role, headMask, stream, std::nullopt, 0);
    const auto pieces = frame(protocol, role, headMask, stream, seed, 0);
    require(whole.size() == pieces.size());
    for (std::size_t i = 0; i < whole.size(); ++i) require(sameFraming(whole[i], pieces[i]));
    if (known != 0) frame(protocol, role, headMask, stream, seed, known);

    const auto verdict = tcpcopy::diff::detectProtocol(stream, true);
    require(verdict.has_value());
    for (std::size_t n = 0; n <= stream.size() && n <= 300; ++n) {
        const auto early = tcpcopy::diff::detectProtocol(stream.substr(0, n), false);
        if (early) require(*early == *verdict);
    }
    return 0;
}
