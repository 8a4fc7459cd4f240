// A protocol::Hook driven through the session engine's hook interface (engine_hook.h).

#include "tcpcopy/protocol/engine_hook.h"

namespace tcpcopy::protocol {

using session::HookRefusal;
using session::RewriteResult;

EngineHook::EngineHook(std::unique_ptr<Hook> hook, const net::FlowKey& captured, const RefusalReport* report)
    : hook_(std::move(hook)), captured_(captured), report_(report) {}

void EngineHook::append(std::vector<std::byte>& out, const Bytes& bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void EngineHook::refuse(HookRefusal reason, const std::string& detail) {
    if (refused_) return;
    refused_ = reason;
    if (report_ != nullptr) (*report_)(captured_, reason, detail);
}

bool EngineHook::settle() {
    if (refused_) return true;
    if (const std::optional<Refusal>& r = hook_->refusal()) {
        refuse(session::hookRefusalFromName(r->reason).value_or(HookRefusal::Malformed), r->detail);
    }
    return refused_.has_value();
}

void EngineHook::onTargetData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) {
    if (settle()) return;
    if (known.size() < length) {
        refuse(HookRefusal::Malformed, "the target's payload reached tcpcopy cut (" +
                                           std::to_string(known.size()) + " of " + std::to_string(length) +
                                           " bytes): raise intercept --payload and --response-payload");
        return;
    }
    append(out, hook_->onTargetBytes(known));
    settle();
}

void EngineHook::onCapturedServerData(net::Bytes known, std::uint32_t length, std::vector<std::byte>& out) {
    if (settle()) return;
    if (known.size() < length) {
        refuse(HookRefusal::Malformed, "the capture lost " + std::to_string(length - known.size()) +
                                           " bytes of the online server's answers (snap length, drops)");
        return;
    }
    append(out, hook_->onCapturedServerBytes(known));
    settle();
}

RewriteResult EngineHook::rewriteClient(net::Bytes input, std::vector<std::byte>& out) {
    if (settle()) return RewriteResult::refuse(*refused_);
    const ClientRewrite r = hook_->rewriteClient(input);
    append(out, r.send);
    if (settle()) return RewriteResult::refuse(*refused_);
    return RewriteResult::ok(input.size());
}

bool EngineHook::startMidstream() {
    if (refused_) return false;
    if (!hook_->startMidstream()) {
        const std::optional<Refusal>& r = hook_->refusal();
        refuse(HookRefusal::Midstream,
               r ? r->detail : "captured without its start: the hook cannot make one up");
        return false;
    }
    // Refused for another reason (an unknown user): the engine counts it under that reason when
    // it next asks, once the connection to the target is up; nothing of the session is sent.
    settle();
    return true;
}

}  // namespace tcpcopy::protocol
