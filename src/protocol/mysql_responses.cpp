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

std::uint8_t nextSeq(std::uint8_t seq) { return static_cast<std::uint8_t>(seq + 1); }

// A protocol-4.1 EOF packet: 0xFE, warnings, status (an OK packet ending a result set with
// CLIENT_DEPRECATE_EOF is 7 bytes or more; a row starting with 0xFE fills a 16 MiB packet).
bool classicEof(ByteView payload) { return firstByte(payload) == 0xFE && payload.size() == 5; }

// Column and parameter definitions start with the catalog, always "def".
bool columnDefinition(ByteView payload) {
    return payload.size() >= 4 && payload[0] == std::byte{3} && payload[1] == std::byte{'d'} &&
           payload[2] == std::byte{'e'} && payload[3] == std::byte{'f'};
}

// PREPARE_OK: 0x00, id, columns, parameters, filler, warnings (MySQL 8 may add a metadata flag).
constexpr std::size_t kPrepareOkSize = 12;
// OK: 0x00, affected rows, last insert id, status, warnings.
constexpr std::size_t kMinOkSize = 7;

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

bool ResponseTracker::deprecateEof() const {
    switch (eofStyle_) {
        case EofStyle::kClassic:
            return false;
        case EofStyle::kDeprecated:
            return true;
        case EofStyle::kNegotiated:
        case EofStyle::kLearning:
            break;
    }
    return (negotiated() & cap::kDeprecateEof) != 0;
}

bool ResponseTracker::isTerminator(ByteView payload) const {
    if (firstByte(payload) != 0xFE) {
        return false;
    }
    // Still learning: either form ends the rows (a row that starts with 0xFE fills 16 MiB).
    if (eofStyle_ == EofStyle::kLearning || deprecateEof()) {
        return payload.size() < kMaxPacketPayload;
    }
    return payload.size() < 9;
}

std::uint16_t ResponseTracker::terminatorStatus(ByteView payload) const {
    if (eofStyle_ == EofStyle::kLearning) {
        return classicEof(payload) ? eofStatus(payload) : okStatus(payload);
    }
    return deprecateEof() ? okStatus(payload) : eofStatus(payload);
}

void ResponseTracker::finish(std::uint16_t status) {
    // More result sets of the same answer follow: the next packet starts one again.
    state_ = State::kStart;
    moreResults_ = (status & kMoreResultsExist) != 0;
    if (!moreResults_ && !expected_.empty()) {
        expected_.pop_front();
    }
}

bool ResponseTracker::sequenceFits(const Packet& packet) const {
    switch (state_) {
        case State::kStart:
            if (moreResults_) return packet.seq == nextSeq(lastSeq_);
            if (expected_.empty()) return true;
            switch (expected_.front()) {
                case Expect::kLogin:
                    return packet.seq == 0;
                case Expect::kUnseen:
                    return true;
                default:
                    return packet.seq == 1;
            }
        case State::kGreeting:
        case State::kAuth:
        case State::kInfileResult:
            return true;  // the client's packets come in between
        default:
            return packet.seq == nextSeq(lastSeq_);
    }
}

// The packet after the definitions of a tracker still learning: a classic EOF, or what follows
// when there is none. Sets the style and the state that reads the packet.
bool ResponseTracker::learnAfterDefinitions(const Packet& packet) {
    const bool eof = classicEof(packet.payload) && packet.seq == nextSeq(lastSeq_);
    eofStyle_ = eof ? EofStyle::kClassic : EofStyle::kDeprecated;
    return eof;
}

void ResponseTracker::process(const Packet& packet) {
    if (packet.continuation) {
        // The rest of a >16 MiB row or message: never a packet the states look at.
        inconsistent_ = inconsistent_ || packet.seq != nextSeq(lastSeq_);
        lastSeq_ = packet.seq;
        return;
    }
    if (state_ == State::kUnseen && packet.seq != nextSeq(lastSeq_)) {
        finish(0);  // the unseen answer ended with the packet before
        if (expected_.empty()) {
            waitingBytes_ += packet.payload.size();
            waiting_.push_front(packet);
            return;
        }
    }
    if (state_ == State::kDefinitionsEnd) {
        if (learnAfterDefinitions(packet)) {
            state_ = eofState_;
        } else {
            skipEof(eofState_);
        }
    }
    if (!sequenceFits(packet)) {
        inconsistent_ = true;
    }
    lastSeq_ = packet.seq;
    handle(packet);
}

// The last definition of a block came: next, the EOF that `eofState` reads, if the connection
// has them.
void ResponseTracker::afterDefinitions(State eofState) {
    if (eofStyle_ == EofStyle::kLearning) {
        eofState_ = eofState;
        state_ = State::kDefinitionsEnd;
    } else if (deprecateEof()) {
        skipEof(eofState);
    } else {
        state_ = eofState;
    }
}

// Where the answer goes on after the EOF that `eofState` reads, without one.
void ResponseTracker::skipEof(State eofState) {
    if (eofState == State::kColumnsEof) {
        state_ = State::kRows;
    } else if (eofState == State::kPrepareParamsEof) {
        afterPrepareParams();
    } else {
        afterPrepareColumns();
    }
}

void ResponseTracker::handle(const Packet& packet) {
    const ByteView payload = packet.payload;
    const std::uint8_t first = firstByte(payload);
    switch (state_) {
        case State::kStart:
            if (expected_.empty()) {
                ++stray_;
                return;
            }
            moreResults_ = false;
            startAnswer(expected_.front(), packet);
            return;
        case State::kUnseen:
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
            inconsistent_ = inconsistent_ || !columnDefinition(payload);
            if (--remaining_ == 0) {
                afterDefinitions(State::kColumnsEof);
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
                finish(terminatorStatus(payload));
            }
            return;
        case State::kInfileResult:
            finish(first == 0x00 ? okStatus(payload) : 0);
            return;
        case State::kPrepareParams:
            inconsistent_ = inconsistent_ || !columnDefinition(payload);
            if (--remaining_ == 0) {
                afterDefinitions(State::kPrepareParamsEof);
            }
            return;
        case State::kPrepareParamsEof:
            afterPrepareParams();
            return;
        case State::kPrepareColumns:
            inconsistent_ = inconsistent_ || !columnDefinition(payload);
            if (--remaining_ == 0) {
                afterDefinitions(State::kPrepareColumnsEof);
            }
            return;
        case State::kPrepareColumnsEof:
            afterPrepareColumns();
            return;
        case State::kDefinitionsEnd:
            return;  // process() has moved on from it before handling a packet
    }
}

void ResponseTracker::startAnswer(Expect kind, const Packet& packet) {
    const ByteView payload = packet.payload;
    const std::uint8_t first = firstByte(payload);
    switch (kind) {
        case Expect::kLogin:
            state_ = State::kGreeting;
            handle(packet);
            return;
        case Expect::kChangeUser:
            state_ = State::kAuth;
            handle(packet);
            return;
        case Expect::kUnseen:
            state_ = State::kUnseen;
            return;
        case Expect::kSingle:
            finish(0);
            return;
        case Expect::kRows:
            state_ = State::kRows;
            handle(packet);
            return;
        case Expect::kPrepare: {
            if (first != 0x00) {
                inconsistent_ = inconsistent_ || first != 0xFF;
                prepares_.push_back({false, 0});
                finish(0);
                return;
            }
            inconsistent_ =
                inconsistent_ || payload.size() < kPrepareOkSize || payload.size() > kPrepareOkSize + 1;
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
        inconsistent_ = inconsistent_ || payload.size() < kMinOkSize;
        finish(okStatus(payload));
    } else if (first == 0xFF) {
        finish(0);
    } else if (first == 0xFB && kind == Expect::kGeneric) {
        state_ = State::kInfileResult;  // the client sends the file, then the server's OK/ERR
    } else {
        Reader r(payload);
        remaining_ = r.lenenc();
        // MariaDB's metadata caching (and MySQL's optional metadata) add a "metadata follows"
        // byte to the column count: read from the packet, whatever was negotiated.
        const bool metadataFollows = r.remaining() == 0 || r.u8() != 0;
        inconsistent_ = inconsistent_ || r.failed() || remaining_ == 0 || r.remaining() != 0;
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

CapturedAnswers::CapturedAnswers(bool midstream) : midstream_(midstream) {
    if (!midstream) {
        guesses_.push_back(std::make_unique<ResponseTracker>(true));
        return;
    }
    for (std::size_t unseen = 0; unseen < kMidstreamGuesses; ++unseen) {
        auto guess = std::make_unique<ResponseTracker>(false);
        guess->learnEofStyle();
        for (std::size_t i = 0; i < unseen; ++i) {
            guess->expect(Expect::kUnseen);
        }
        guesses_.push_back(std::move(guess));
    }
}

void CapturedAnswers::setClientCapabilities(std::uint64_t capabilities) {
    for (auto& guess : guesses_) {
        guess->setClientCapabilities(capabilities);
    }
}

void CapturedAnswers::expect(Expect kind) {
    for (auto& guess : guesses_) {
        guess->expect(kind);
    }
    dropMisfits();
}

void CapturedAnswers::onPacket(const Packet& packet) {
    for (auto& guess : guesses_) {
        guess->onPacket(packet);
    }
    dropMisfits();
}

void CapturedAnswers::dropMisfits() {
    if (!midstream_) return;  // a whole capture has one reading; followed as well as it can be
    std::erase_if(guesses_, [](const auto& guess) { return guess->inconsistent(); });
}

const PrepareResult* CapturedAnswers::agreedPrepare() const {
    const PrepareResult* agreed = nullptr;
    for (const auto& guess : guesses_) {
        const auto& results = guess->prepareResults();
        if (results.empty()) return nullptr;
        if (agreed != nullptr && !(*agreed == results.front())) return nullptr;
        agreed = &results.front();
    }
    return agreed;
}

void CapturedAnswers::popPrepare() {
    for (auto& guess : guesses_) {
        guess->prepareResults().pop_front();
    }
}

bool CapturedAnswers::ambiguous() const {
    const PrepareResult* seen = nullptr;
    for (const auto& guess : guesses_) {
        const auto& results = guess->prepareResults();
        if (results.empty()) continue;
        if (seen != nullptr && !(*seen == results.front())) return true;
        seen = &results.front();
    }
    return false;
}

bool CapturedAnswers::overflowed() const {
    for (const auto& guess : guesses_) {
        if (guess->overflowed()) return true;
    }
    return false;
}

}  // namespace tcpcopy::protocol::mysql
