#pragma once
// The engine's side of a protocol hook: drives a protocol::Hook (hook.h, bytes in, bytes out)
// through the session engine's interface (session/hook.h), for one replayed session.
//  - every byte the hook returns, from any call, goes to the target in order;
//  - a gap (target payload cut by intercept's --payload or tcpcopy's --response-payload, or
//    online server bytes the capture lost) ends the session as "malformed": the hook reads a
//    byte stream and cannot resynchronise;
//  - the hook's refusal reasons are the engine's counters (session::hookRefusalFromName);
//  - a session captured mid-stream is offered to the hook (Hook::startMidstream()); one it
//    cannot replay is refused ("mid_stream", or the hook's own reason) before anything is sent.
// Each refusal is reported once, with the hook's one-line detail, to the factory's callback.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tcpcopy/net/types.h"
#include "tcpcopy/protocol/hook.h"
#include "tcpcopy/session/hook.h"

namespace tcpcopy::protocol {

// (captured flow, reason, detail) of a session a hook refused.
using RefusalReport = std::function<void(const net::FlowKey&, session::HookRefusal, const std::string&)>;

class EngineHook final : public session::ProtocolHook {
  public:
    EngineHook(std::unique_ptr<Hook> hook, const net::FlowKey& captured, const RefusalReport* report);

    void onTargetData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) override;
    void onCapturedServerData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) override;
    session::RewriteResult rewriteClient(net::Bytes input, std::vector<std::byte>& out) override;
    bool startMidstream() override;
    bool holding() const override { return hook_->holding(); }
    std::optional<session::HookRefusal> refused() const override { return refused_; }

  private:
    void append(std::vector<std::byte>& out, const Bytes& bytes);
    // Takes the hook's refusal if it has one; true when the session is over.
    bool settle();
    void refuse(session::HookRefusal reason, const std::string& detail);

    std::unique_ptr<Hook> hook_;
    net::FlowKey captured_;
    const RefusalReport* report_;
    std::optional<session::HookRefusal> refused_;
};

// One per -x rule with a protocol: makes the EngineHook of each session. Outlives the engine.
class EngineHookFactory final : public session::ProtocolHookFactory {
  public:
    EngineHookFactory(std::unique_ptr<HookFactory> hooks, RefusalReport report)
        : hooks_(std::move(hooks)), report_(std::move(report)) {}
    std::unique_ptr<session::ProtocolHook> create(const net::FlowKey& captured) override {
        return std::make_unique<EngineHook>(hooks_->create(captured.client.addr.toString()), captured,
                                            report_ ? &report_ : nullptr);
    }

  private:
    std::unique_ptr<HookFactory> hooks_;
    RefusalReport report_;
};

}  // namespace tcpcopy::protocol
