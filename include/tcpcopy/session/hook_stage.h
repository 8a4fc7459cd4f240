#pragma once
// HookStage: what a session with a protocol hook (hook.h) keeps beside its ClientStream. The
// captured client's bytes go through the hook into an output stream, which the session sends in
// its own sequence space: offsets of the output stream are what sndUna/sndNxt count for such a
// session, while the marks stay in input offsets. It also puts the target's payload and the
// online server's (from the capture) in sequence order for the hook.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/hook.h"

namespace tcpcopy::session {

class ClientStream;

class HookStage {
  public:
    explicit HookStage(std::unique_ptr<ProtocolHook> hook) : hook_(std::move(hook)) {}

    ProtocolHook& hook() { return *hook_; }

    // Input offset up to which the hook has used the captured client's bytes.
    std::uint64_t consumed() const { return consumed_; }
    // One past the last output byte.
    std::uint64_t outEnd() const { return outBase_ + out_.size(); }
    net::Bytes bytes(std::uint64_t offset, std::uint32_t len) const {
        return net::Bytes(out_).subspan(static_cast<std::size_t>(offset - outBase_), len);
    }
    // The target acknowledged the output bytes before `acked`.
    void release(std::uint64_t acked);

    // Offers the input bytes [consumed(), limit) to the hook unless it holds and nothing changed
    // since. Returns the hook's answer (Ok with nothing consumed when it was not asked).
    RewriteResult feed(const ClientStream& stream, std::uint64_t limit);

    // The target's segment carried `fresh` new in-order bytes starting `from` bytes into its
    // payload. Its payload may be absent (headers only): then it is delivered by
    // onTargetPayload() for the same segment, or as a gap when the next one comes first.
    void onTargetSegment(const net::TcpSegment& seg, std::uint32_t from, std::uint32_t fresh);
    // The payload of a segment onTargetSegment() saw without it; false if it is not that one.
    bool onTargetPayload(const net::TcpSegment& seg);
    // A segment the online server sent, from the capture (any order: this keeps the sequence).
    void onCapturedServer(const net::TcpSegment& seg);

    std::size_t footprint() const { return sizeof(HookStage) + out_.capacity(); }
    std::size_t heldBytes() const { return out_.size(); }

  private:
    struct Pending {
        net::SeqNum seq;
        std::uint32_t length;
        std::uint32_t from;
        std::uint32_t fresh;
    };
    void deliverTarget(net::Bytes payload, std::uint32_t from, std::uint32_t fresh);
    void flushPending();

    std::unique_ptr<ProtocolHook> hook_;
    std::vector<std::byte> out_;  // output bytes [outBase_, outEnd())
    std::uint64_t outBase_ = 0;
    std::uint64_t consumed_ = 0;
    std::uint64_t heldLimit_ = 0;
    bool held_ = false;  // the hook said Hold at heldLimit_ and nothing new came since
    std::optional<Pending> pending_;
    std::optional<net::SeqNum> serverNext_;  // the captured server's next in-order byte
};

}  // namespace tcpcopy::session
