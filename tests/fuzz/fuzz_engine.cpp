// libFuzzer target for the session engine: the input is a configuration followed by a script of
// operations, each taking its fields from the input: a captured client segment (built field by
// field, or decoded from raw IPv4/TCP bytes), a response from the target on a flow the engine
// opened (again built or decoded), a time step with a tick, the end of the input, SIGTERM.
// Captured segments use a handful of client addresses, ports and sequence bases so that
// sessions collide, reuse ports, overlap and go out of order.
//
// Properties, on any input: nothing crashes, reads out of bounds or trips UBSan; every segment
// the engine sends belongs to a flow whose route intercept has (added and not yet removed),
// carries at most one MSS of payload and fits the MTU; after the input ends and enough quiet
// time passes, every session is over and every route it added has been removed (nothing hangs,
// nothing leaks at intercept).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "tcpcopy/net/decode.h"
#include "tcpcopy/net/tcp_segment.h"
#include "tcpcopy/session/engine.h"

namespace {

using namespace std::chrono_literals;
namespace net = tcpcopy::net;
namespace session = tcpcopy::session;
namespace tcpflag = net::tcpflag;

// A broken invariant aborts, naming itself so a finding can be read without a debugger.
void requireAt(bool condition, const char* what, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz_engine.cpp:%d: invariant broken: %s\n", line, what);
    std::abort();
}
#define require(condition) requireAt((condition), #condition, __LINE__)

// Reads the input front to back, big-endian; zeros once it runs out. (Not libFuzzer's
// FuzzedDataProvider, which takes integers from the end: this layout lets tests/fuzz/seeds.py
// write seeds from the fixture captures.)
class Input {
  public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::size_t remaining() const { return size_ - pos_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>((u8() << 8) | u8()); }
    std::uint32_t u32() { return (std::uint32_t{u16()} << 16) | u16(); }
    bool flag() { return (u8() & 1) != 0; }
    // A value in [lo, hi].
    template <typename T>
    T range(T lo, T hi) {
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
        const std::uint64_t raw = span <= 0x100 ? u8() : span <= 0x10000 ? u16() : u32();
        return static_cast<T>(static_cast<std::uint64_t>(lo) + raw % span);
    }
    std::int32_t signedRange(std::int32_t lo, std::int32_t hi) {
        return static_cast<std::int32_t>(
            lo + static_cast<std::int64_t>(u16() % static_cast<std::uint32_t>(hi - lo + 1)));
    }
    // Up to n bytes (fewer when the input ends), as a view into the input.
    net::Bytes bytes(std::size_t n) {
        n = std::min(n, remaining());
        const auto* p = reinterpret_cast<const std::byte*>(data_ + pos_);
        pos_ += n;
        return net::Bytes(p, n);
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

const net::Ipv4Addr kClients[] = {
    net::Ipv4Addr::fromOctets(192, 0, 2, 10), net::Ipv4Addr::fromOctets(192, 0, 2, 11),
    net::Ipv4Addr::fromOctets(127, 0, 0, 1), net::Ipv4Addr::fromOctets(203, 0, 113, 7)};
const std::uint16_t kClientPorts[] = {40000, 40001, 1023, 65535};
const net::Ipv4Addr kOnline = net::Ipv4Addr::fromOctets(192, 0, 2, 1);
const net::Ipv4Addr kTarget = net::Ipv4Addr::fromOctets(198, 18, 1, 2);
const std::uint16_t kOnlinePorts[] = {80, 6379, 8080};

// What the engine sent on one replay flow, enough to answer it plausibly.
struct FlowView {
    net::SeqNum clientNext;  // one past the last client sequence number sent
    net::SeqNum serverNext;  // our fake target's next sequence number
    bool synAcked = false;
};

class CheckingOutput final : public session::Output {
  public:
    explicit CheckingOutput(const session::EngineConfig& config) : config_(config) {}

    void sendToTarget(const net::TcpSegment& s) override {
        const net::FlowKey flow = s.clientToServerKey();
        require(routes.contains(flow));
        require(s.payload.size() == s.payloadLength);
        require(s.payloadLength <= config_.mss && s.payloadLength + 40 <= config_.mtu);
        FlowView& v = flows[flow];
        const net::SeqNum end = s.seq + s.seqLength();
        if (net::seqGt(end, v.clientNext) || v.clientNext == net::SeqNum()) v.clientNext = end;
        ++sent;
    }
    void addRoute(const net::FlowKey& flow) override {
        require(routes.insert(flow).second);
        order.push_back(flow);
    }
    void removeRoute(const net::FlowKey& flow) override {
        require(routes.erase(flow) == 1);
        flows.erase(flow);
    }

    std::set<net::FlowKey> routes;
    std::vector<net::FlowKey> order;  // every flow ever added, for picking one to answer
    std::map<net::FlowKey, FlowView> flows;
    std::uint64_t sent = 0;

  private:
    const session::EngineConfig& config_;
};

session::EngineConfig makeConfig(Input& in) {
    session::EngineConfig c;
    c.rules.push_back({std::nullopt, net::Port(80), {kTarget, net::Port(80)}});
    c.rules.push_back({kOnline, net::Port(6379), {kTarget, net::Port(6379)}});
    c.copies = in.range<unsigned>(1, 3);
    c.portShiftFactor = in.flag() ? in.range<unsigned>(0, 1023) : 0;
    c.samplePercent = in.flag() ? in.range<unsigned>(1, 100) : 100;
    c.waitForResponse = in.flag();
    c.onlyCompleteSessions = in.flag();
    c.mtu = in.range<std::uint16_t>(576, 9000);
    c.mss = in.range<std::uint16_t>(88, static_cast<std::uint16_t>(c.mtu - 40));
    if (in.flag())
        c.clientPool = {net::Ipv4Addr::fromOctets(203, 0, 113, 5), net::Ipv4Addr::fromOctets(203, 0, 113, 6)};
    c.loopbackRewrite = net::Ipv4Addr::fromOctets(192, 0, 2, 99);
    c.maxSessions = in.range<std::size_t>(1, 16);
    // Short timers so that the quiet period at the end stays cheap.
    c.sessionTimeout = 3s;
    c.keepaliveTimeout = 5s;
    c.initialRto = 20ms;
    c.maxRto = 200ms;
    c.maxRetransmits = in.range<unsigned>(0, 4);
    c.maxSynRetries = in.range<unsigned>(0, 3);
    c.responseQuiet = 10ms;
    c.gateTimeout = 100ms;
    c.drainGrace = 30ms;
    return c;
}

void consumeOptions(Input& in, net::TcpSegment& s) {
    const auto which = in.u8();
    if (which & 1) s.options.mss = in.u16();
    if (which & 2) s.options.windowScale = in.u8();
    if (which & 4) s.options.timestamps = net::TcpTimestamps{in.u32(), in.u32()};
    s.options.sackPermitted = (which & 8) != 0;
}

// Payload bytes live in `storage` (kept alive for the call); payloadLength may exceed them,
// as for a snaplen-truncated capture or intercept's header-only responses.
void consumePayload(Input& in, net::TcpSegment& s, std::vector<std::byte>& storage) {
    const net::Bytes bytes = in.bytes(in.range<std::size_t>(0, 3000));
    storage.assign(bytes.begin(), bytes.end());
    s.payload = net::Bytes(storage);
    s.payloadLength = static_cast<std::uint32_t>(storage.size());
    if (in.u8() < 16) s.payloadLength += in.range<std::uint32_t>(0, 70000);
}

net::TcpSegment capturedSegment(Input& in, std::vector<std::byte>& storage) {
    net::TcpSegment s;
    const auto who = in.u8();
    s.src = kClients[who & 3];
    s.sport = net::Port(kClientPorts[(who >> 2) & 3]);
    s.dst = (who & 0x10) ? kTarget : kOnline;
    s.dport = net::Port(kOnlinePorts[(who >> 5) % 3]);
    // Sequence numbers near a per-client base (so that segments meet), sometimes anywhere.
    const std::uint32_t base = 0xFFFF0000u + 7919u * (who & 0x0F);
    s.seq = net::SeqNum(in.flag() ? in.u32() : base + in.u16());
    s.ack = net::SeqNum(in.flag() ? in.u32() : 0x7FFFFF00u + in.u16());
    s.flags = in.u8();
    s.window = in.u16();
    consumeOptions(in, s);
    consumePayload(in, s, storage);
    return s;
}

// A response on a flow the engine opened (or once had), near the sequence numbers in use.
net::TcpSegment responseSegment(Input& in, CheckingOutput& out, std::vector<std::byte>& storage) {
    net::TcpSegment s;
    const net::FlowKey flow = out.order[in.range<std::size_t>(0, out.order.size() - 1)];
    FlowView& v = out.flows[flow];
    s.src = flow.server.addr;
    s.sport = flow.server.port;
    s.dst = flow.client.addr;
    s.dport = flow.client.port;
    const auto kind = in.u8();
    const std::int32_t ackDelta = (kind & 0x80) ? in.signedRange(-3000, 3000) : 0;
    s.ack = v.clientNext + static_cast<std::uint32_t>(ackDelta);
    switch (kind & 7) {
        case 0:  // SYN-ACK
            s.flags = tcpflag::kSyn | tcpflag::kAck;
            s.seq = net::SeqNum(in.u32());
            v.serverNext = s.seq + 1;
            v.synAcked = true;
            break;
        case 1:
            s.flags = tcpflag::kRst | tcpflag::kAck;
            s.seq = v.serverNext;
            break;
        case 2:
            s.flags = tcpflag::kFin | tcpflag::kAck;
            s.seq = v.serverNext;
            break;
        default:
            s.flags = tcpflag::kAck | (kind & 8 ? tcpflag::kPsh : 0);
            s.seq = v.serverNext;
            break;
    }
    if (kind & 0x40) s.seq += static_cast<std::uint32_t>(in.signedRange(-3000, 3000));
    s.window = in.u16();
    consumeOptions(in, s);
    consumePayload(in, s, storage);
    if ((kind & 7) >= 2) v.serverNext = s.seq + s.seqLength();
    return s;
}

// Raw bytes through the packet decoder, then pointed at a rule (captured) or a flow (response).
bool decodedSegment(Input& in, std::vector<std::byte>& storage, net::TcpSegment& out) {
    const net::Bytes bytes = in.bytes(in.range<std::size_t>(0, 2000));
    storage.assign(bytes.begin(), bytes.end());
    const net::DecodeResult r = net::decodeIpTcp(net::Bytes(storage));
    if (r.status != net::DecodeStatus::Ok) return false;
    out = r.segment;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in(data, size);
    const session::EngineConfig config = makeConfig(in);
    CheckingOutput out(config);
    session::Engine engine(config, out);
    session::Time now = 1s;
    std::vector<std::byte> storage;
    bool ended = false;
    for (int op = 0; op < 1000 && in.remaining() > 0; ++op) {
        switch (in.range<int>(0, 7)) {
            case 0:
            case 1: {
                const net::TcpSegment s = capturedSegment(in, storage);
                engine.onCaptured(s, now);
                break;
            }
            case 2:
            case 3:
                if (!out.order.empty()) {
                    const net::TcpSegment s = responseSegment(in, out, storage);
                    engine.onResponse(s, now);
                }
                break;
            case 4: {
                now += std::chrono::milliseconds(in.range<int>(0, 4000));
                engine.onTick(now);
                break;
            }
            case 5: {
                net::TcpSegment s;
                if (!decodedSegment(in, storage, s)) break;
                if (in.flag() || out.order.empty()) {
                    s.dst = kOnline;
                    s.dport = net::Port(80);
                    engine.onCaptured(s, now);
                } else {
                    const net::FlowKey flow = out.order[in.range<std::size_t>(0, out.order.size() - 1)];
                    s.src = flow.server.addr;
                    s.sport = flow.server.port;
                    s.dst = flow.client.addr;
                    s.dport = flow.client.port;
                    engine.onResponse(s, now);
                }
                break;
            }
            case 6:
                if (!ended) engine.onInputEnd(now);
                ended = true;
                break;
            case 7:
                if (in.u8() == 0) engine.abortAll(now);
                break;
        }
        require(engine.activeSessions() <= config.maxSessions);
        require(engine.activeSessions() == out.routes.size());
    }
    if (!ended) engine.onInputEnd(now);
    // Quiet time: every session must end by itself (SYN retries, retransmissions, timeouts), and
    // so must the connections waiting behind them on a reused port, one after the other. Time
    // jumps to the engine's next deadline, so a long chain costs few iterations.
    for (int i = 0; i < 100000 && !engine.finished(); ++i) {
        if (engine.nextDeadline() == session::Time::max()) break;  // nothing armed: stuck, caught below
        now = std::max(now + 100ms, engine.nextDeadline());
        engine.onTick(now);
    }
    if (!engine.finished() && std::getenv("FUZZ_ENGINE_DEBUG") != nullptr) {
        std::fprintf(stderr, "active %zu waiting %zu next deadline %lld ns (now %lld) rtt %llu us\n",
                     engine.activeSessions(), engine.waitingSessions(),
                     static_cast<long long>(engine.nextDeadline().count()),
                     static_cast<long long>(now.count()),
                     static_cast<unsigned long long>(engine.stats().rttSmoothedUs));
    }
    require(engine.finished());
    require(out.routes.empty());
    return 0;
}
