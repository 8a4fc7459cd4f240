// Fuzzes the MySQL protocol module: the connection-phase parsers on any payload, and a MysqlHook
// driven by a script of the three streams the engine feeds it.
//
// Input: a script of operations, each [op][length][bytes]: op % 3 picks the stream (0: the
// captured client's bytes to rewriteClient, 1: the target's to onTargetBytes, 2: the online
// server's to onCapturedServerBytes); the bytes are also given, as one payload, to every parser.
// A first byte 0xFF (then skipped) makes the session one captured mid-stream: startMidstream()
// first, with a configured login.
//
// Checks: a parsed greeting, handshake response, auth switch or COM_CHANGE_USER rebuilds to bytes
// that parse and rebuild to the same bytes; the hook's output is whole packets; nothing comes out
// after a refusal and nothing stays held; the same script fed one byte per call gives the same refusal, and
// the same output when there is none (mid-stream: when neither run skipped client bytes to find
// the first command, a search whose result may depend on where the pieces end).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tcpcopy/protocol/mysql_handshake.h"
#include "tcpcopy/protocol/mysql_hook.h"

namespace {

using namespace tcpcopy::protocol;
using namespace tcpcopy::protocol::mysql;

void check(bool condition, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz_mysql: check failed at line %d\n", line);
    std::abort();
}
#define require(condition) check((condition), __LINE__)

template <class T, class Parse, class Build>
void roundTrip(ByteView payload, Parse parse, Build build) {
    const std::optional<T> parsed = parse(payload);
    if (!parsed) return;
    const Bytes rebuilt = build(*parsed);
    const std::optional<T> again = parse(rebuilt);
    require(again.has_value());
    require(build(*again) == rebuilt);
}

void parsers(ByteView payload) {
    roundTrip<Greeting>(payload, parseGreeting, buildGreeting);
    roundTrip<HandshakeResponse>(payload, parseHandshakeResponse, buildHandshakeResponse);
    roundTrip<AuthSwitchRequest>(payload, parseAuthSwitchRequest, buildAuthSwitchRequest);
    constexpr std::uint64_t caps =
        cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth | cap::kConnectAttrs;
    roundTrip<ChangeUser>(
        payload, [](ByteView p) { return parseChangeUser(p, caps); },
        [](const ChangeUser& c) { return buildChangeUser(c, caps); });
}

std::shared_ptr<const Credentials> credentials() {
    static const std::shared_ptr<const Credentials> shared = [] {
        auto parsed = Credentials::parse("app s3cret\nroot \n", "fuzz");
        auto c = std::make_shared<Credentials>();
        *c = parsed.value();
        return c;
    }();
    return shared;
}

struct Op {
    std::uint8_t stream;
    ByteView bytes;
};

struct Outcome {
    Bytes sent;
    std::string refusal;
    std::uint64_t skipped = 0;
};

// Runs the script; `piece` bytes per call (0: each operation in one call).
Outcome run(const std::vector<Op>& script, std::size_t piece, bool midstream) {
    MysqlHook hook(credentials(),
                   MysqlHookContext{"192.0.2.7", nullptr, MidstreamLogin{"app", "shop", {}, {}}});
    if (midstream) {
        require(hook.startMidstream());
    }
    Bytes out;
    for (const Op& op : script) {
        const std::size_t step = piece == 0 ? std::max<std::size_t>(op.bytes.size(), 1) : piece;
        for (std::size_t offset = 0; offset < op.bytes.size(); offset += step) {
            const ByteView chunk = op.bytes.subspan(offset, std::min(step, op.bytes.size() - offset));
            const bool refusedBefore = hook.refusal().has_value();
            Bytes sent;
            switch (op.stream) {
                case 0:
                    sent = hook.rewriteClient(chunk).send;
                    break;
                case 1:
                    sent = hook.onTargetBytes(chunk);
                    break;
                default:
                    sent = hook.onCapturedServerBytes(chunk);
                    break;
            }
            require(!refusedBefore || sent.empty());
            if (hook.refusal()) {
                require(!hook.holding());
            }
            out.insert(out.end(), sent.begin(), sent.end());
        }
    }
    PacketAssembler assembler;
    assembler.feed(out);
    while (assembler.next()) {
    }
    require(assembler.buffered() == 0);
    return {out, hook.refusal() ? std::string(hook.refusal()->reason) : std::string(),
            hook.stats().midstreamBytesSkipped};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(reinterpret_cast<const std::byte*>(data), size);
    std::vector<Op> script;
    const bool midstream = size > 0 && data[0] == 0xFF;
    std::size_t offset = midstream ? 1 : 0;
    while (offset + 2 <= input.size()) {
        const std::uint8_t op = std::to_integer<std::uint8_t>(input[offset]);
        const std::size_t length =
            std::min<std::size_t>(std::to_integer<std::size_t>(input[offset + 1]), input.size() - offset - 2);
        const ByteView bytes = input.subspan(offset + 2, length);
        script.push_back({static_cast<std::uint8_t>(op % 3), bytes});
        if (bytes.size() > kHeaderSize) {
            parsers(bytes.subspan(kHeaderSize));
        }
        offset += 2 + length;
    }
    // What went out before a refusal depends on where the call ended (the engine drops the
    // session then): compare the reasons, and the bytes of sessions that were not refused.
    const Outcome whole = run(script, 0, midstream);
    const Outcome bytewise = run(script, 1, midstream);
    if (whole.skipped != 0 || bytewise.skipped != 0) return 0;
    require(whole.refusal == bytewise.refusal);
    require(!whole.refusal.empty() || whole.sent == bytewise.sent);
    return 0;
}
