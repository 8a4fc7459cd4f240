#pragma once
// Protocol hooks: per -x rule, a protocol module (src/protocol/, e.g. MySQL) that sees what the
// target and the online server answered and rewrites the captured client's bytes before they go
// out, for protocols whose client bytes depend on the server's (a login hashed with the server's
// random scramble, statement ids handed out by the server).
//
// The engine drives one hook per replayed session:
//   - onTargetData(): the target's payload, in sequence order, as intercept forwarded it (the
//     first bytes of each segment; the rest of a truncated segment is a gap of known length);
//   - onCapturedServerData(): the online server's payload from the capture, in sequence order;
//   - rewriteClient(): the captured client's next in-order bytes, up to the next point where the
//     replay waits for a response. The hook appends what to send instead (any length) and says
//     how many input bytes it used; what it does not use is offered again, with more, next time.
//     Hold waits for the target (or more client bytes); Refuse ends the session with a reset,
//     counted by reason.
// Sequence and acknowledgement numbers are the engine's business: it sends the rewritten stream
// in its own sequence space, so a rewrite that changes lengths stays consistent for the rest of
// the session. A rule without a hook costs nothing: no stage is created.

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::session {

// Why a hook would not replay a session.
enum class HookRefusal : std::uint8_t {
    Tls,              // the captured client negotiated TLS: its bytes cannot be read
    UnknownUser,      // no credentials for the captured user
    Compression,      // the captured session used protocol compression
    UnsupportedAuth,  // an authentication exchange the hook cannot perform
    Midstream,        // captured without its start, and the hook cannot make one up
    TargetRefused,    // the target rejected the rewritten login
    ProtocolError,    // bytes that do not parse, or a gap where the hook needed them
};
inline constexpr std::size_t kHookRefusals = 7;
std::string_view hookRefusalName(HookRefusal reason);  // "tls", "unknown_user", ...

struct RewriteResult {
    enum class Status : std::uint8_t {
        Ok,      // `consumed` bytes used; offer the rest (and more) again
        Hold,    // `consumed` bytes used, then wait for the target or for more client bytes
        Refuse,  // end the session: `reason`
    };
    Status status = Status::Ok;
    std::size_t consumed = 0;
    HookRefusal reason = HookRefusal::ProtocolError;

    static RewriteResult ok(std::size_t consumed) { return {Status::Ok, consumed, {}}; }
    static RewriteResult hold(std::size_t consumed) { return {Status::Hold, consumed, {}}; }
    static RewriteResult refuse(HookRefusal why) { return {Status::Refuse, 0, why}; }
};

class ProtocolHook {
  public:
    virtual ~ProtocolHook() = default;
    // The target's next in-order payload: `known` the bytes forwarded (may be fewer than
    // `length`, the bytes the segment carried; the rest is a gap).
    virtual void onTargetData(net::Bytes known, std::uint32_t length) = 0;
    // The online server's next in-order payload from the capture, same convention.
    virtual void onCapturedServerData(net::Bytes known, std::uint32_t length) = 0;
    // The captured client's next in-order bytes (at least one). Appends the bytes to send to
    // `out`. Status::Ok with consumed < input.size() is taken as Hold.
    virtual RewriteResult rewriteClient(net::Bytes input, std::vector<std::byte>& out) = 0;
    // A session captured without its start: whether the hook can replay it (it is told before
    // any byte; false refuses the session with HookRefusal::Midstream).
    virtual bool startMidstream() { return false; }
};

// Makes the hook of each replayed session of a rule. Owned by the application; outlives the engine.
class ProtocolHookFactory {
  public:
    virtual ~ProtocolHookFactory() = default;
    virtual std::unique_ptr<ProtocolHook> create(const net::FlowKey& captured) = 0;
};

using HookRefusalCounts = std::array<std::uint64_t, kHookRefusals>;

}  // namespace tcpcopy::session
