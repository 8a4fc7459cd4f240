#include "framer_base.h"

#include <algorithm>
#include <cassert>

namespace tcpcopy::diff::detail {

void MessageBuilder::begin(std::uint64_t offset, Time time) {
    message_ = Message{};
    message_.begin = offset;
    message_.first = time;
    message_.last = time;
    digest_ = StreamDigest{};
    prefixOpen_ = true;
    active_ = true;
}

void MessageBuilder::raw(const std::byte* p, std::size_t n, Time time) {
    message_.last = time;
    if (message_.sampleGap || message_.sample.size() >= limits_.sampleBytes) return;
    const std::size_t take = std::min(n, limits_.sampleBytes - message_.sample.size());
    message_.sample.append(asText(p, take));
}

void MessageBuilder::rawGap(Time time) {
    message_.last = time;
    message_.gaps = true;
    if (message_.sample.size() < limits_.sampleBytes) message_.sampleGap = true;
}

void MessageBuilder::body(const std::byte* p, std::size_t n) {
    message_.bodySize += n;
    digest_.update(net::Bytes(p, n));
    if (prefixOpen_ && message_.bodyPrefix.size() < limits_.keepBytes) {
        message_.bodyPrefix.append(asText(p, std::min(n, limits_.keepBytes - message_.bodyPrefix.size())));
    }
}

void MessageBuilder::bodyGap(std::uint64_t n) {
    message_.bodySize += n;
    message_.bodyKnown = false;
    prefixOpen_ = false;
}

Message MessageBuilder::take(std::uint64_t end, std::uint64_t index, bool cut) {
    assert(active_);
    active_ = false;
    message_.end = end;
    message_.index = index;
    message_.cut = cut;
    if (cut) message_.bodyKnown = false;
    message_.bodyDigest = message_.bodyKnown ? digest_.value() : 0;
    return std::move(message_);
}

LineReader::Status LineReader::read(const std::byte* p, std::size_t n, std::size_t maxLine,
                                    std::size_t& used) {
    const void* nl = std::memchr(p, '\n', n);
    const std::size_t upto =
        nl != nullptr ? static_cast<std::size_t>(static_cast<const std::byte*>(nl) - p) : n;
    if (line_.size() + upto > maxLine) {
        used = 0;
        return Status::TooLong;
    }
    line_.append(asText(p, upto));
    if (nl == nullptr) {
        used = n;
        return Status::NeedMore;
    }
    used = upto + 1;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    return Status::Line;
}

void ByteFramer::feed(const Chunk& chunk) {
    if (isLost()) return;
    assert(chunk.offset == pos_);
    assert(chunk.length >= chunk.data.size());
    const std::byte* p = chunk.data.data();
    std::size_t n = chunk.data.size();
    while (n != 0 && !isLost()) {
        const std::size_t used = onBytes(p, n, chunk.time);
        assert(used <= n);
        if (used == 0 && !isLost()) {
            lose("framer made no progress");  // a framer bug would loop forever: stop instead
            break;
        }
        p += used;
        n -= used;
        pos_ += used;
    }
    std::uint64_t gap = chunk.length - chunk.data.size();
    while (gap != 0 && !isLost()) {
        const std::uint64_t used = onGap(gap, chunk.time);
        assert(used <= gap);
        if (used == 0) {
            if (!isLost()) lose("payload not captured where the framing needs it");
            break;
        }
        gap -= used;
        pos_ += used;
    }
    if (isLost()) pos_ = chunk.offset + chunk.length;
}

void ByteFramer::lose(std::string_view reason, bool emitCut) {
    if (isLost()) return;
    if (emitCut && builder_.active()) {
        builder_.message().lost = true;
        emit(pos_, true);
    }
    lost_ = std::string(reason);
}

void ByteFramer::emit(std::uint64_t end, bool cut) {
    sink_.onMessage(builder_.take(end, emitted_, cut));
    ++emitted_;
}

}  // namespace tcpcopy::diff::detail
