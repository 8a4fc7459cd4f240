// The output stream and in-order feeds of a session with a protocol hook (hook_stage.h).

#include "tcpcopy/session/hook_stage.h"

#include <algorithm>

#include "tcpcopy/session/client_stream.h"

namespace tcpcopy::session {

std::string_view hookRefusalName(HookRefusal reason) {
    switch (reason) {
        case HookRefusal::Tls:
            return "tls";
        case HookRefusal::Compression:
            return "compression";
        case HookRefusal::UnknownUser:
            return "unknown_user";
        case HookRefusal::UnsupportedAuth:
            return "unsupported_auth";
        case HookRefusal::LoginFailed:
            return "login_failed";
        case HookRefusal::Midstream:
            return "mid_stream";
        case HookRefusal::Malformed:
            return "malformed";
        case HookRefusal::HoldOverflow:
            return "hold_overflow";
    }
    return "malformed";
}

std::optional<HookRefusal> hookRefusalFromName(std::string_view name) {
    for (std::size_t i = 0; i < kHookRefusals; ++i) {
        const auto reason = static_cast<HookRefusal>(i);
        if (hookRefusalName(reason) == name) return reason;
    }
    return std::nullopt;
}

void HookStage::release(std::uint64_t acked) { releaseFront(out_, outBase_, acked); }

RewriteResult HookStage::feed(const ClientStream& stream, std::uint64_t limit) {
    limit = std::min(limit, stream.end());
    if (consumed_ >= limit || (held_ && limit <= heldLimit_)) return RewriteResult::ok(0);
    const net::Bytes input = stream.bytes(
        consumed_, static_cast<std::uint32_t>(std::min<std::uint64_t>(limit - consumed_, UINT32_MAX)));
    RewriteResult r = hook_->rewriteClient(input, out_);
    if (r.status == RewriteResult::Status::Refuse) return r;
    if (r.consumed > input.size()) return RewriteResult::refuse(HookRefusal::Malformed);
    consumed_ += r.consumed;
    held_ = r.status == RewriteResult::Status::Hold || r.consumed < input.size();
    heldLimit_ = limit;
    return r;
}

void HookStage::deliverTarget(net::Bytes payload, std::uint32_t from, std::uint32_t fresh) {
    net::Bytes known;
    if (from < payload.size())
        known = payload.subspan(from, std::min<std::size_t>(fresh, payload.size() - from));
    hook_->onTargetData(known, fresh, out_);
    held_ = false;
}

void HookStage::flushPending() {
    if (!pending_) return;
    const std::uint32_t fresh = pending_->fresh;
    pending_.reset();
    hook_->onTargetData({}, fresh, out_);
    held_ = false;
}

void HookStage::onTargetSegment(const net::TcpSegment& seg, std::uint32_t from, std::uint32_t fresh) {
    flushPending();
    if (!seg.payload.empty()) {
        deliverTarget(seg.payload, from, fresh);
        return;
    }
    pending_ = Pending{seg.seq, seg.payloadLength, from, fresh};
}

bool HookStage::onTargetPayload(const net::TcpSegment& seg) {
    if (!pending_ || pending_->seq != seg.seq || pending_->length != seg.payloadLength) return false;
    const Pending p = *pending_;
    pending_.reset();
    deliverTarget(seg.payload, p.from, p.fresh);
    return true;
}

void HookStage::onCapturedServer(const net::TcpSegment& seg) {
    if (seg.has(net::tcpflag::kSyn)) {
        if (!serverNext_) serverNext_ = seg.seq + 1;
        return;
    }
    const std::uint32_t len = seg.payloadLength;
    if (len == 0) return;
    if (!serverNext_) serverNext_ = seg.seq;  // captured without the handshake
    const std::int32_t d = seg.seq.distanceFrom(*serverNext_);
    if (d > 0) {
        // Bytes the capture lost: a gap of known length, then this segment.
        hook_->onCapturedServerData({}, static_cast<std::uint32_t>(d), out_);
        serverNext_ = seg.seq;
    } else if (static_cast<std::int64_t>(d) + len <= 0) {
        return;  // a retransmission of bytes already given
    }
    const auto from = static_cast<std::uint32_t>(d > 0 ? 0 : -d);
    const std::uint32_t fresh = len - from;
    net::Bytes known;
    if (from < seg.payload.size())
        known = seg.payload.subspan(from, std::min<std::size_t>(fresh, seg.payload.size() - from));
    hook_->onCapturedServerData(known, fresh, out_);
    *serverNext_ += fresh;
    held_ = false;
}

}  // namespace tcpcopy::session
