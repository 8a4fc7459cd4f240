#pragma once

// A protocol hook: the per-session logic that makes a stateful protocol replayable (logins
// recomputed for the target's scramble, server-assigned ids mapped). Pure logic, no I/O: the
// engine hands it payload bytes and sends what it returns.
//
// The engine drives one hook per replayed session:
//   rewriteClient(b)          the captured client's next in-order payload bytes (any piece size;
//                             a protocol message may span calls). Returns the bytes to send to
//                             the target instead, of any length (empty: nothing now). Bytes the
//                             hook cannot rewrite yet (it needs the target's greeting or answer)
//                             stay inside it, `holding` says so, and they come out, in order,
//                             from a later onTargetBytes() or onCapturedServerBytes().
//   onTargetBytes(b)          the target's in-order payload bytes (reassembled by the engine, any
//                             piece size). Returns bytes to send to the target now: packets the
//                             hook writes on the client's behalf (an auth-switch response the
//                             captured client never sent) and the held client bytes it releases.
//   onCapturedServerBytes(b)  the online server's payload bytes from the capture, in order from
//                             the start of the connection (its greeting first; for a session
//                             captured mid-stream, from wherever the capture had them). A call may
//                             come before or after the client bytes they answer. Returns bytes to
//                             send now, as onTargetBytes() does.
//   startMidstream()          the session was captured without its start: called once, before any
//                             bytes. The client's bytes then start wherever the engine picked the
//                             first request boundary; the target still greets a new connection.
// Whatever a call returns goes out after everything returned before it: the client's byte stream
// to the target is the concatenation of all returned bytes, so the engine maps sequence numbers
// with the difference between what the capture held and what the hook returned.
// Once refusal() is set the session cannot be replayed faithfully: the engine stops it, counts it
// under refusal()->reason and sends nothing more (every call then returns nothing).

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpcopy::protocol {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;

struct ClientRewrite {
    Bytes send;            // to the target now, in place of the input
    bool holding = false;  // client bytes wait inside the hook for the target's answer
};

struct Refusal {
    std::string_view reason;  // a stable counter key (docs/protocols.md lists them)
    std::string detail;       // one line for the log: which user, which plugin...
};

class Hook {
  public:
    virtual ~Hook() = default;
    virtual ClientRewrite rewriteClient(ByteView bytes) = 0;
    virtual Bytes onTargetBytes(ByteView bytes) = 0;
    virtual Bytes onCapturedServerBytes(ByteView bytes) = 0;
    virtual bool holding() const = 0;
    virtual const std::optional<Refusal>& refusal() const = 0;
    // Whether the hook can replay a session captured without its start. False: it cannot, and
    // refusal() may say why (else the session is refused as "mid_stream"). True with refusal()
    // set: refused for that other reason.
    virtual bool startMidstream() { return false; }
};

// Makes the hook of each new session (one per -x rule); shared state (credentials, what earlier
// sessions showed) lives here. `client` is the captured client's address without its port.
class HookFactory {
  public:
    virtual ~HookFactory() = default;
    virtual std::unique_ptr<Hook> create(std::string_view client) const = 0;
};

}  // namespace tcpcopy::protocol
