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
// Every call may append bytes to send (`out`): a hook that keeps client bytes inside itself
// (holding()) releases them when the target's answer comes, and may write packets of its own.
// Whatever is appended goes out after everything appended before it.
// Sequence and acknowledgement numbers are the engine's business: it sends the rewritten stream
// in its own sequence space, so a rewrite that changes lengths stays consistent for the rest of
// the session. A rule without a hook costs nothing: no stage is created.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/net/types.h"

namespace tcpcopy::session {

// Why a hook would not replay a session.
enum class HookRefusal : std::uint8_t {
    Tls,              // the captured client negotiated TLS: its bytes cannot be read
    Compression,      // the captured session used protocol compression
    UnknownUser,      // no credentials for the captured user
    UnsupportedAuth,  // an authentication exchange the hook cannot perform
    LoginFailed,      // the target rejected the rewritten login
    Midstream,        // captured without its start, and the hook cannot make one up
    Malformed,        // bytes that do not parse, or a gap where the hook needed them
    HoldOverflow,     // more client bytes waiting for the target than the hook keeps
};
inline constexpr std::size_t kHookRefusals = 8;
// "tls", "compression", "unknown_user", "unsupported_auth", "login_failed", "mid_stream",
// "malformed", "hold_overflow": the report's and /metrics' keys.
std::string_view hookRefusalName(HookRefusal reason);
std::optional<HookRefusal> hookRefusalFromName(std::string_view name);

struct RewriteResult {
    enum class Status : std::uint8_t {
        Ok,      // `consumed` bytes used; offer the rest (and more) again
        Hold,    // `consumed` bytes used, then wait for the target or for more client bytes
        Refuse,  // end the session: `reason`
    };
    Status status = Status::Ok;
    std::size_t consumed = 0;
    HookRefusal reason = HookRefusal::Malformed;

    static RewriteResult ok(std::size_t consumed) { return {Status::Ok, consumed, {}}; }
    static RewriteResult hold(std::size_t consumed) { return {Status::Hold, consumed, {}}; }
    static RewriteResult refuse(HookRefusal why) { return {Status::Refuse, 0, why}; }
};

class ProtocolHook {
  public:
    virtual ~ProtocolHook() = default;
    // The target's next in-order payload: `known` the bytes forwarded (may be fewer than
    // `length`, the bytes the segment carried; the rest is a gap). Appends bytes to send to `out`.
    virtual void onTargetData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) = 0;
    // The online server's next in-order payload from the capture, same convention.
    virtual void onCapturedServerData(net::Bytes known, std::uint32_t length,
                                      std::vector<std::byte>& out) = 0;
    // The captured client's next in-order bytes (at least one). Appends the bytes to send to
    // `out`. Status::Ok with consumed < input.size() is taken as Hold.
    virtual RewriteResult rewriteClient(net::Bytes input, std::vector<std::byte>& out) = 0;
    // A session captured without its start: whether the hook can replay it (it is told before
    // any byte; false refuses the session with HookRefusal::Midstream).
    virtual bool startMidstream() { return false; }
    // Client bytes wait inside the hook for an answer: the session's FIN, and its end, wait too.
    virtual bool holding() const { return false; }
    // Set once the hook will not go on (it may decide while reading the target's or the online
    // server's bytes): the engine then resets the session and counts it.
    virtual std::optional<HookRefusal> refused() const { return std::nullopt; }
};

// Makes the hook of each replayed session of a rule. Owned by the application; outlives the engine.
class ProtocolHookFactory {
  public:
    virtual ~ProtocolHookFactory() = default;
    virtual std::unique_ptr<ProtocolHook> create(const net::FlowKey& captured) = 0;
};

using HookRefusalCounts = std::array<std::uint64_t, kHookRefusals>;

}  // namespace tcpcopy::session
