// Protocol hooks (hook.h) on the simulated target: a line protocol whose login answers the
// server's nonce and whose commands name ids the server handed out, so the captured client's
// bytes only work after a rewrite that changes their length.

#include "tcpcopy/session/hook.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "conversation.h"

namespace tcpcopy::session::testing {
namespace {

std::string tokenFor(const std::string& nonce) { return "t" + std::string(nonce.rbegin(), nonce.rend()); }

std::string text(net::Bytes b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

// The server side of the protocol, as the target speaks it:
//   greeting "HELLO <nonce>"; "LOGIN <token>" -> OK | ERR; "PREP" -> "ID <n>" (n from 40 up);
//   "EXEC <n>" -> "RES <n>" for an id it gave, else "BAD <n>".
struct LineServer {
    std::map<FlowKey, std::vector<std::string>> ids;
    std::vector<std::string> logins;  // "OK" / "ERR", in order
    std::vector<std::string> results;

    static std::string nonceOf(const TargetConnection& c) { return std::to_string(c.isn.value()); }

    void install(SimTarget& target) {
        target.greetingText = [](const TargetConnection& c) { return "HELLO " + nonceOf(c) + "\n"; };
        target.textResponder = [this](TargetConnection& c, const std::string& pending) {
            const std::size_t eol = pending.find('\n');
            if (eol == std::string::npos) return std::pair<std::string, std::size_t>{"", 0};
            const std::string line = pending.substr(0, eol);
            std::string answer;
            if (line.rfind("LOGIN ", 0) == 0) {
                answer = line.substr(6) == tokenFor(nonceOf(c)) ? "OK" : "ERR";
                logins.push_back(answer);
            } else if (line == "PREP") {
                auto& mine = ids[c.flow];
                mine.push_back(std::to_string(40 + mine.size()));
                answer = "ID " + mine.back();
            } else if (line.rfind("EXEC ", 0) == 0) {
                const auto& mine = ids[c.flow];
                const std::string id = line.substr(5);
                answer = (std::find(mine.begin(), mine.end(), id) != mine.end() ? "RES " : "BAD ") + id;
                results.push_back(answer);
            } else {
                answer = "WHAT";
            }
            return std::pair<std::string, std::size_t>{answer + "\n", eol + 1};
        };
    }
};

// The hook: learns the nonce and ids from the target, the captured ids from the online server.
// Two ways to wait for the target, both in the interface: leave the bytes in the engine (Hold),
// or take them and keep them inside (`inside`: holding(), released from onTargetData()).
class LineHook final : public ProtocolHook {
  public:
    explicit LineHook(bool inside) : inside_(inside) {}

    void onTargetData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) override {
        lines(target_, known, length, true);
        if (inside_) release(out);
    }
    void onCapturedServerData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) override {
        lines(online_, known, length, false);
        if (inside_) release(out);
    }
    RewriteResult rewriteClient(net::Bytes input, std::vector<std::byte>& out) override {
        if (!inside_) {
            const std::string in = text(input);
            std::size_t used = 0;
            const bool all = process(in, used, out);
            if (refusal_) return RewriteResult::refuse(*refusal_);
            return all ? RewriteResult::ok(used) : RewriteResult::hold(used);
        }
        kept_ += text(input);
        release(out);
        if (refusal_) return RewriteResult::refuse(*refusal_);
        return RewriteResult::ok(input.size());
    }
    bool holding() const override { return !kept_.empty(); }
    std::optional<HookRefusal> refused() const override { return refusal_; }

    std::size_t gaps = 0;

  private:
    void release(std::vector<std::byte>& out) {
        std::size_t used = 0;
        process(kept_, used, out);
        kept_.erase(0, used);
    }

    // Rewrites the whole lines of `in` from `used` on while it can; true when it used them all.
    bool process(const std::string& in, std::size_t& used, std::vector<std::byte>& out) {
        for (std::size_t eol; (eol = in.find('\n', used)) != std::string::npos; used = eol + 1) {
            const std::string line = in.substr(used, eol - used);
            std::string sent = line;
            if (line == "STARTTLS") {
                refusal_ = HookRefusal::Tls;
                return false;
            }
            if (line.rfind("LOGIN ", 0) == 0) {
                if (nonce_.empty()) return false;
                sent = "LOGIN " + tokenFor(nonce_);
            } else if (line.rfind("EXEC ", 0) == 0) {
                const auto at = std::find(onlineIds_.begin(), onlineIds_.end(), line.substr(5));
                if (at == onlineIds_.end()) {
                    refusal_ = HookRefusal::Malformed;
                    return false;
                }
                const auto index = static_cast<std::size_t>(at - onlineIds_.begin());
                if (index >= targetIds_.size()) return false;
                sent = "EXEC " + targetIds_[index];
            }
            sent += '\n';
            const auto* p = reinterpret_cast<const std::byte*>(sent.data());
            out.insert(out.end(), p, p + sent.size());
        }
        return used == in.size();
    }

    void lines(std::string& buffer, net::Bytes known, std::uint32_t length, bool fromTarget) {
        buffer += text(known);
        if (known.size() < length) {
            ++gaps;
            buffer.append(length - known.size(), '?');
        }
        for (std::size_t eol; (eol = buffer.find('\n')) != std::string::npos; buffer.erase(0, eol + 1)) {
            const std::string line = buffer.substr(0, eol);
            if (fromTarget && line.rfind("HELLO ", 0) == 0) nonce_ = line.substr(6);
            if (line.rfind("ID ", 0) == 0) (fromTarget ? targetIds_ : onlineIds_).push_back(line.substr(3));
        }
    }

    bool inside_;
    std::string kept_;  // inside: client bytes not sent yet
    std::optional<HookRefusal> refusal_;
    std::string target_, online_, nonce_;
    std::vector<std::string> targetIds_, onlineIds_;
};

class LineHooks final : public ProtocolHookFactory {
  public:
    std::unique_ptr<ProtocolHook> create(const net::FlowKey& captured) override {
        created.push_back(captured);
        return std::make_unique<LineHook>(inside);
    }
    std::vector<net::FlowKey> created;
    bool inside = false;
};

class HookTest : public EngineTest {
  protected:
    HookTest() { server.install(target); }

    EngineConfig hookedConfig() {
        EngineConfig config = httpConfig();
        config.rules[0].hook = &hooks;
        return config;
    }

    // The captured conversation: both directions, in capture order. The online server's nonce is
    // "12" and its ids 7 and 8; the target's nonce is a ten-digit number and its ids 40 and 41.
    std::vector<TcpSegment> conversation(CapturedClient& c, const std::string& first = "LOGIN t21\n") {
        std::vector<TcpSegment> out{c.syn(), c.serverSynAck(), c.handshakeAck()};
        std::uint32_t server = 0;
        auto exchange = [&](const std::string& request, const std::string& answer) {
            out.push_back(c.data(request, server));
            out.push_back(c.serverData(answer, server));
            server += static_cast<std::uint32_t>(answer.size());
        };
        out.push_back(c.serverData("HELLO 12\n", 0));
        server = 9;
        exchange(first, "OK\n");
        exchange("PREP\n", "ID 7\n");
        exchange("PREP\n", "ID 8\n");
        exchange("EXEC 8\n", "RES 8\n");
        exchange("EXEC 7\nEXEC 8\n", "RES 7\nRES 8\n");
        out.push_back(c.fin(server));
        return out;
    }

    void expectReplayedAsTheTargetNeeds(std::size_t sessions) {
        EXPECT_EQ(server.logins, std::vector<std::string>(sessions, "OK"));
        ASSERT_EQ(server.results.size(), 3 * sessions);
        for (const std::string& r : server.results) EXPECT_EQ(r.rfind("RES 4", 0), 0u) << r;
        EXPECT_EQ(engine_stats_.sessionsHooked, sessions);
        EXPECT_EQ(engine_stats_.sessionsCompleted, sessions);
        EXPECT_EQ(engine_stats_.retransmissions, 0u);
        expectClean();
    }

    LineServer server;
    LineHooks hooks;
    EngineStats engine_stats_;
};

INSTANTIATE_FAMILIES(HookTest);

TEST_P(HookTest, LengthChangingRewritesKeepSequenceAndAcksConsistent) {
    Engine engine(hookedConfig(), target);
    CapturedClient c("192.0.2.40", 42000, "192.0.2.1", 80);
    feed(engine, conversation(c));
    endAndFinish(engine);
    engine_stats_ = engine.stats();
    expectReplayedAsTheTargetNeeds(1);
    ASSERT_EQ(target.connectionCount(), 1u);
    const std::string& received = target.connections()[0]->received;
    EXPECT_EQ(received.find("LOGIN t21"), std::string::npos);
    EXPECT_NE(received.find("EXEC 41\nEXEC 40\nEXEC 41\n"), std::string::npos) << received;
    // Every byte sent is the rewritten stream, no more: its length is what the target acknowledged.
    EXPECT_EQ(engine.stats().bytesSent, received.size());
    EXPECT_NE(received.size(), std::string("LOGIN t21\nPREP\nPREP\nEXEC 8\nEXEC 7\nEXEC 8\n").size());
    ASSERT_EQ(hooks.created.size(), 1u);
    EXPECT_EQ(hooks.created[0], c.key());
}

TEST_P(HookTest, PayloadsArrivingAfterTheirHeadersAreReadInOrder) {
    target.payloadApart = true;  // as the tunnel delivers: header, then RESPONSE_PAYLOADS
    Engine engine(hookedConfig(), target);
    CapturedClient c("192.0.2.41", 42001, "192.0.2.1", 80);
    feed(engine, conversation(c));
    endAndFinish(engine);
    engine_stats_ = engine.stats();
    expectReplayedAsTheTargetNeeds(1);
}

TEST_P(HookTest, AHookKeepingBytesInsideReleasesThemAsTheTargetAnswersAndTheFinWaits) {
    hooks.inside = true;
    target.payloadApart = true;
    EngineConfig config = hookedConfig();
    config.waitForResponse = false;  // -W: only the hook holds the requests back
    Engine engine(config, target);
    CapturedClient c("192.0.2.47", 42007, "192.0.2.1", 80);
    // The client's whole conversation and its FIN arrive before the target said anything.
    target.responseDelay = 50ms;
    std::vector<TcpSegment> segs = conversation(c);
    for (const TcpSegment& s : segs) engine.onCaptured(s, target.now);
    endAndFinish(engine);
    engine_stats_ = engine.stats();
    expectReplayedAsTheTargetNeeds(1);
    EXPECT_TRUE(target.connections()[0]->clientFin);
}

TEST_P(HookTest, EachCopyHasItsOwnHookAndIds) {
    EngineConfig config = hookedConfig();
    config.copies = 2;
    Engine engine(config, target);
    CapturedClient c("192.0.2.42", 42002, "192.0.2.1", 80);
    feed(engine, conversation(c));
    endAndFinish(engine);
    engine_stats_ = engine.stats();
    expectReplayedAsTheTargetNeeds(2);
    EXPECT_EQ(hooks.created.size(), 2u);
}

TEST_P(HookTest, SegmentsSplitInsideALineAndResegmentedAreStillRewritten) {
    Engine engine(hookedConfig(), target);
    CapturedClient c("192.0.2.43", 42003, "192.0.2.1", 80);
    const std::string note = "NOTE " + std::string(4000, 'x') + "\n";  // leaves in three segments
    std::vector<TcpSegment> segs{
        c.syn(),          c.serverSynAck(),   c.handshakeAck(),        c.serverData("HELLO 12\n", 0),
        c.data("LOG", 9), c.data("IN t2", 9), c.data("1\n" + note, 9), c.serverData("OK\nWHAT\n", 9)};
    segs.push_back(c.fin(17));
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(server.logins, std::vector<std::string>{"OK"});
    EXPECT_GE(engine.stats().resegmented, 1u);
    const std::string& received = target.connections()[0]->received;
    EXPECT_EQ(received.substr(received.size() - note.size()), note);
    EXPECT_EQ(engine.stats().sessionsCompleted, 1u);
    expectClean();
}

TEST_P(HookTest, ARefusedSessionIsResetAndCountedByReason) {
    Engine engine(hookedConfig(), target);
    CapturedClient c("192.0.2.44", 42004, "192.0.2.1", 80);
    feed(engine, conversation(c, "STARTTLS\n"));
    endAndFinish(engine);
    const EngineStats& st = engine.stats();
    EXPECT_EQ(st.hookRefusals[static_cast<std::size_t>(HookRefusal::Tls)], 1u);
    EXPECT_EQ(st.bytesSent, 0u);  // nothing of the refused stream went out
    EXPECT_TRUE(server.logins.empty());
    ASSERT_EQ(target.connectionCount(), 1u);
    EXPECT_TRUE(target.connections()[0]->reset);
    expectClean();
}

TEST_P(HookTest, AMidstreamSessionTheHookCannotStartSendsNothing) {
    Engine engine(hookedConfig(), target);
    CapturedClient c("192.0.2.45", 42005, "192.0.2.1", 80);
    std::vector<TcpSegment> segs = conversation(c);
    segs.erase(segs.begin(), segs.begin() + 4);  // from the login on, without the handshake
    feed(engine, segs);
    endAndFinish(engine);
    EXPECT_EQ(engine.stats().hookRefusals[static_cast<std::size_t>(HookRefusal::Midstream)], 1u);
    EXPECT_TRUE(target.sent.empty());
    EXPECT_EQ(target.connectionCount(), 0u);
    expectClean();
}

TEST_P(HookTest, RulesWithoutAHookSendTheCapturedBytesUnchanged) {
    Engine engine(httpConfig(), target);
    CapturedClient c("192.0.2.46", 42006, "192.0.2.1", 80);
    feed(engine, conversation(c));
    endAndFinish(engine);
    EXPECT_EQ(engine.stats().sessionsHooked, 0u);
    EXPECT_EQ(server.logins, std::vector<std::string>{"ERR"});  // the captured token is stale
    EXPECT_EQ(target.connections()[0]->received, "LOGIN t21\nPREP\nPREP\nEXEC 8\nEXEC 7\nEXEC 8\n");
    expectClean();
}

}  // namespace
}  // namespace tcpcopy::session::testing
