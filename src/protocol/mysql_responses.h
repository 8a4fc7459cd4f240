#pragma once

// Follows one server's packets through the responses to the commands a client sent, so that the
// first packet of each COM_STMT_PREPARE answer is recognised however long the result sets before
// it were. Private to the MySQL hook.

#include <cstdint>
#include <deque>
#include <optional>

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
};

struct PrepareResult {
    bool ok = false;
    std::uint32_t id = 0;
};

class ResponseTracker {
  public:
    explicit ResponseTracker(bool startsWithLogin);

    // The two ends' capabilities: what both announce (CLIENT_DEPRECATE_EOF, MariaDB's metadata
    // caching) changes the shape of result sets. A login answer sets the server's from its greeting.
    void setClientCapabilities(std::uint64_t capabilities) { clientCapabilities_ = capabilities; }
    void setServerCapabilities(std::uint64_t capabilities) { serverCapabilities_ = capabilities; }

    void expect(Expect kind);
    void onPacket(Packet packet);

    // Answers to COM_STMT_PREPARE, in order.
    std::deque<PrepareResult>& prepareResults() { return prepares_; }
    // No answer in progress and none expected.
    bool idle() const { return expected_.empty() && state_ == State::kStart; }
    std::size_t strayPackets() const { return stray_; }
    // More than 64 MiB of packets came before the commands they answer: the tracker lost them.
    bool overflowed() const { return overflowed_; }

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
    };
    void process(const Packet& packet);
    void startAnswer(Expect kind, ByteView payload);
    void finish(std::uint16_t status);
    void afterPrepareParams();
    void afterPrepareColumns();
    std::uint64_t negotiated() const;
    bool deprecateEof() const;
    bool isTerminator(ByteView payload) const;

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
    bool overflowed_ = false;
};

}  // namespace tcpcopy::protocol::mysql
