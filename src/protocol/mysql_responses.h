#pragma once

// Follows one server's packets through the responses to the commands a client sent, so that the
// first packet of each COM_STMT_PREPARE answer is recognised however long the result sets before
// it were. Private to the MySQL hook.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql {

// What a command's answer looks like.
enum class Expect : std::uint8_t {
    kLogin,       // greeting, then auth packets up to OK/ERR
    kGeneric,     // OK, ERR, LOCAL INFILE request or (text) result sets
    kPrepare,     // PREPARE_OK + parameter and column definitions, or ERR
    kExecute,     // OK, ERR or binary result sets (column definitions only with a cursor)
    kRows,        // rows up to EOF/OK or ERR (COM_STMT_FETCH, COM_FIELD_LIST)
    kSingle,      // one packet (COM_STATISTICS)
    kChangeUser,  // auth packets up to OK/ERR
    kUnseen,      // the answer to a command the hook never saw (before a mid-stream boundary)
};

struct PrepareResult {
    bool ok = false;
    std::uint32_t id = 0;
    bool operator==(const PrepareResult&) const = default;
};

class ResponseTracker {
  public:
    explicit ResponseTracker(bool startsWithLogin);

    // The two ends' capabilities: what both announce (CLIENT_DEPRECATE_EOF, MariaDB's metadata
    // caching) changes the shape of result sets. A login answer sets the server's from its greeting.
    void setClientCapabilities(std::uint64_t capabilities) { clientCapabilities_ = capabilities; }
    void setServerCapabilities(std::uint64_t capabilities) { serverCapabilities_ = capabilities; }
    // Neither end's capabilities are known (a session captured mid-stream): whether result sets
    // and prepare answers carry EOF packets is read from the first one that tells (a 5-byte 0xFE
    // packet continuing the sequence after the definitions), then kept for the connection.
    void learnEofStyle() { eofStyle_ = EofStyle::kLearning; }

    void expect(Expect kind);
    void onPacket(Packet packet);

    // Answers to COM_STMT_PREPARE, in order.
    std::deque<PrepareResult>& prepareResults() { return prepares_; }
    const std::deque<PrepareResult>& prepareResults() const { return prepares_; }
    // No answer in progress and none expected.
    bool idle() const { return expected_.empty() && state_ == State::kStart; }
    std::size_t strayPackets() const { return stray_; }
    // More than 64 MiB of packets came before the commands they answer: the tracker lost them.
    bool overflowed() const { return overflowed_; }
    // A packet that cannot belong to the answer expected: a sequence id out of order, a
    // PREPARE_OK of the wrong size, a column definition that is not one. The tracker goes on
    // (a whole capture is followed as well as it can be); a mid-stream guess is dropped.
    bool inconsistent() const { return inconsistent_; }

  private:
    enum class State : std::uint8_t {
        kStart,
        kGreeting,
        kAuth,
        kColumns,
        kColumnsEof,
        kRows,
        kInfileResult,
        kPrepareParams,
        kPrepareParamsEof,
        kPrepareColumns,
        kPrepareColumnsEof,
        kUnseen,
        kDefinitionsEnd,  // learning the EOF style: the packet after the definitions tells
    };
    enum class EofStyle : std::uint8_t { kNegotiated, kLearning, kClassic, kDeprecated };
    void process(const Packet& packet);
    void handle(const Packet& packet);
    void afterDefinitions(State eofState);
    void skipEof(State eofState);
    bool sequenceFits(const Packet& packet) const;
    void startAnswer(Expect kind, const Packet& packet);
    bool learnAfterDefinitions(const Packet& packet);
    void finish(std::uint16_t status);
    void afterPrepareParams();
    void afterPrepareColumns();
    std::uint64_t negotiated() const;
    bool deprecateEof() const;
    bool isTerminator(ByteView payload) const;
    std::uint16_t terminatorStatus(ByteView payload) const;

    std::deque<Expect> expected_;
    std::deque<Packet> waiting_;  // packets that came before the command they answer
    std::deque<PrepareResult> prepares_;
    State state_ = State::kStart;
    std::uint64_t remaining_ = 0;
    std::uint16_t prepareColumns_ = 0;
    std::uint64_t clientCapabilities_ = 0;
    std::uint64_t serverCapabilities_ = 0;
    std::size_t waitingBytes_ = 0;
    std::size_t stray_ = 0;
    std::uint8_t lastSeq_ = 0;
    bool moreResults_ = false;  // the last result set said more of the same answer follow
    bool overflowed_ = false;
    bool inconsistent_ = false;
    EofStyle eofStyle_ = EofStyle::kNegotiated;
    State eofState_ = State::kStart;  // kDefinitionsEnd: the state that reads the EOF, if one comes
};

// The online server's answers as the hook reads them. For a whole capture, one tracker from the
// greeting on. For a session captured mid-stream, the first answers may belong to commands the
// engine skipped before the first request boundary (one, when it started the session at the
// request after an unseen one; none, when it saw the connection idle first): one guess per
// count, each a tracker that skips that many answers first. A guess whose packets stop fitting
// the commands' answers is dropped; a prepare's result is taken once every guess left agrees.
class CapturedAnswers {
  public:
    static constexpr std::size_t kMidstreamGuesses = 2;  // 0 or 1 unseen answers first

    static CapturedAnswers fromStart() { return CapturedAnswers(false); }
    static CapturedAnswers midstream() { return CapturedAnswers(true); }

    void setClientCapabilities(std::uint64_t capabilities);
    void expect(Expect kind);
    void onPacket(const Packet& packet);

    // The next prepare's answer every guess left agrees on, or null while one of them has not
    // read it yet or they differ (ambiguous()).
    const PrepareResult* agreedPrepare() const;
    void popPrepare();
    bool ambiguous() const;
    // Mid-stream: no guess fits the online server's packets.
    bool lost() const { return guesses_.empty(); }
    bool overflowed() const;

  private:
    explicit CapturedAnswers(bool midstream);
    void dropMisfits();
    std::vector<std::unique_ptr<ResponseTracker>> guesses_;
    bool midstream_;
};

}  // namespace tcpcopy::protocol::mysql
