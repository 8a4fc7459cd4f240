#include "mysql_responses.h"

#include "tcpcopy/protocol/mysql_handshake.h"

namespace tcpcopy::protocol::mysql {
namespace {

constexpr std::uint16_t kMoreResultsExist = 0x0008;
constexpr std::uint16_t kCursorExists = 0x0040;
constexpr std::size_t kMaxWaitingBytes = 64u << 20;

std::uint8_t firstByte(ByteView payload) {
    return payload.empty() ? 0 : std::to_integer<std::uint8_t>(payload[0]);
}

// The status flags of an OK packet (0x00 or, ending a result set, 0xFE).
std::uint16_t okStatus(ByteView payload) {
    Reader r(payload);
    r.u8();
    r.lenenc();
    r.lenenc();
    const std::uint16_t status = r.u16();
    return r.failed() ? 0 : status;
}

// The status flags of a classic EOF packet: 0xFE, warnings, status.
std::uint16_t eofStatus(ByteView payload) {
    Reader r(payload);
    r.u8();
    r.u16();
    const std::uint16_t status = r.u16();
    return r.failed() ? 0 : status;
}

}  // namespace

ResponseTracker::ResponseTracker(bool startsWithLogin) {
    if (startsWithLogin) {
        expected_.push_back(Expect::kLogin);
    }
}

void ResponseTracker::expect(Expect kind) {
    expected_.push_back(kind);
    while (!waiting_.empty() && !(expected_.empty() && state_ == State::kStart)) {
        const Packet packet = std::move(waiting_.front());
        waiting_.pop_front();
        waitingBytes_ -= packet.payload.size();
        process(packet);
    }
}

void ResponseTracker::onPacket(Packet packet) {
    if (packet.continuation) {
        return;  // the rest of a >16 MiB row or message: never a packet the states look at
    }
    if (expected_.empty() && state_ == State::kStart) {
        if (waitingBytes_ + packet.payload.size() > kMaxWaitingBytes) {
            overflowed_ = true;
            return;
        }
        waitingBytes_ += packet.payload.size();
        waiting_.push_back(std::move(packet));
        return;
    }
    process(packet);
}

std::uint64_t ResponseTracker::negotiated() const { return clientCapabilities_ & serverCapabilities_; }

bool ResponseTracker::deprecateEof() const { return (negotiated() & cap::kDeprecateEof) != 0; }

bool ResponseTracker::isTerminator(ByteView payload) const {
    if (firstByte(payload) != 0xFE) {
        return false;
    }
    return deprecateEof() ? payload.size() < kMaxPacketPayload : payload.size() < 9;
}

void ResponseTracker::finish(std::uint16_t status) {
    // More result sets of the same answer follow: the next packet starts one again.
    state_ = State::kStart;
    if ((status & kMoreResultsExist) == 0 && !expected_.empty()) {
        expected_.pop_front();
    }
}

void ResponseTracker::process(const Packet& packet) {
    const ByteView payload = packet.payload;
    const std::uint8_t first = firstByte(payload);
    switch (state_) {
        case State::kStart:
            if (expected_.empty()) {
                ++stray_;
                return;
            }
            startAnswer(expected_.front(), payload);
            return;
        case State::kGreeting:
        case State::kAuth:
            if (state_ == State::kGreeting) {
                if (const auto greeting = parseGreeting(payload)) {
                    serverCapabilities_ = greeting->capabilities;
                }
                state_ = first == 0xFF ? State::kStart : State::kAuth;
                if (first == 0xFF) {
                    expected_.pop_front();
                }
                return;
            }
            if (first == 0x00 || first == 0xFF) {
                finish(0);
            }
            return;
        case State::kColumns:
            if (--remaining_ == 0) {
                state_ = deprecateEof() ? State::kRows : State::kColumnsEof;
            }
            return;
        case State::kColumnsEof: {
            // A cursor opened by COM_STMT_EXECUTE: the rows come with COM_STMT_FETCH.
            const std::uint16_t status = eofStatus(payload);
            if ((status & kCursorExists) != 0) {
                finish(status);
            } else {
                state_ = State::kRows;
            }
            return;
        }
        case State::kRows:
            if (first == 0xFF) {
                finish(0);
            } else if (isTerminator(payload)) {
                finish(deprecateEof() ? okStatus(payload) : eofStatus(payload));
            }
            return;
        case State::kInfileResult:
            finish(first == 0x00 ? okStatus(payload) : 0);
            return;
        case State::kPrepareParams:
            if (--remaining_ == 0) {
                if (deprecateEof()) {
                    afterPrepareParams();
                } else {
                    state_ = State::kPrepareParamsEof;
                }
            }
            return;
        case State::kPrepareParamsEof:
            afterPrepareParams();
            return;
        case State::kPrepareColumns:
            if (--remaining_ == 0) {
                if (deprecateEof()) {
                    afterPrepareColumns();
                } else {
                    state_ = State::kPrepareColumnsEof;
                }
            }
            return;
        case State::kPrepareColumnsEof:
            afterPrepareColumns();
            return;
    }
}

void ResponseTracker::startAnswer(Expect kind, ByteView payload) {
    const std::uint8_t first = firstByte(payload);
    switch (kind) {
        case Expect::kLogin:
            state_ = State::kGreeting;
            process(Packet{0, Bytes(payload.begin(), payload.end()), false});
            return;
        case Expect::kChangeUser:
            state_ = State::kAuth;
            process(Packet{0, Bytes(payload.begin(), payload.end()), false});
            return;
        case Expect::kSingle:
            finish(0);
            return;
        case Expect::kRows:
            state_ = State::kRows;
            process(Packet{0, Bytes(payload.begin(), payload.end()), false});
            return;
        case Expect::kPrepare: {
            if (first != 0x00) {
                prepares_.push_back({false, 0});
                finish(0);
                return;
            }
            Reader r(payload);
            r.u8();
            const std::uint32_t id = r.u32();
            prepareColumns_ = r.u16();
            remaining_ = r.u16();
            prepares_.push_back({!r.failed(), id});
            if (r.failed()) {
                finish(0);
            } else if (remaining_ > 0) {
                state_ = State::kPrepareParams;
            } else {
                afterPrepareParams();
            }
            return;
        }
        case Expect::kGeneric:
        case Expect::kExecute:
            break;
    }
    if (first == 0x00) {
        finish(okStatus(payload));
    } else if (first == 0xFF) {
        finish(0);
    } else if (first == 0xFB && kind == Expect::kGeneric) {
        state_ = State::kInfileResult;  // the client sends the file, then the server's OK/ERR
    } else {
        Reader r(payload);
        remaining_ = r.lenenc();
        // MariaDB's metadata caching adds a flag to a binary result set's column count.
        const bool metadataFollows =
            kind != Expect::kExecute || (negotiated() & cap::kMariaDbCacheMetadata) == 0 || r.u8() != 0;
        if (r.failed() || remaining_ == 0) {
            finish(0);
        } else if (metadataFollows) {
            state_ = State::kColumns;
        } else {
            state_ = State::kRows;
        }
    }
}

void ResponseTracker::afterPrepareParams() {
    remaining_ = prepareColumns_;
    if (remaining_ > 0) {
        state_ = State::kPrepareColumns;
    } else {
        finish(0);
    }
}

void ResponseTracker::afterPrepareColumns() { finish(0); }

}  // namespace tcpcopy::protocol::mysql
