#pragma once

// The MySQL/MariaDB hook (docs/protocols.md): replays a captured session against a target that
// issues its own scrambles and statement ids.
//  - Login: the captured HandshakeResponse is rebuilt for the target's greeting (its scramble and
//    plugin) with the password from the credentials file; the target's AuthSwitchRequest is
//    answered by the hook; the captured client's own auth-phase packets (sequence id != 0 after
//    its handshake response) are dropped, whatever the online server had asked. Commands wait in
//    the hook until the target's OK.
//  - COM_CHANGE_USER is rebuilt the same way.
//  - Prepared statements: the k-th COM_STMT_PREPARE's id in the online server's answer maps to
//    the id in the target's answer to the same prepare; COM_STMT_EXECUTE, SEND_LONG_DATA, RESET,
//    FETCH, CLOSE (and MariaDB's BULK_EXECUTE) carry the target's id. A command naming an id
//    whose prepare is still unanswered on either side waits in the hook.
//  - Sessions captured mid-stream (startMidstream()): a fresh login for the user and schema of
//    the client's last login in this replay, or the configured one; the captured client's bytes
//    from the first command boundary on; the online server's answers lined up with them.
//  - Refusals (Hook::refusal()): "tls", "compression", "unknown_user", "unsupported_auth",
//    "login_failed", "mid_stream", "malformed", "hold_overflow".

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tcpcopy/protocol/credentials.h"
#include "tcpcopy/protocol/hook.h"
#include "tcpcopy/protocol/mysql_auth.h"
#include "tcpcopy/protocol/mysql_handshake.h"
#include "tcpcopy/protocol/mysql_midstream.h"
#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql {

class ResponseTracker;
class CapturedAnswers;

// Command bytes the hook looks at.
namespace com {
inline constexpr std::uint8_t kQuit = 0x01;
inline constexpr std::uint8_t kFieldList = 0x04;
inline constexpr std::uint8_t kStatistics = 0x09;
inline constexpr std::uint8_t kStmtPrepare = 0x16;
inline constexpr std::uint8_t kStmtExecute = 0x17;
inline constexpr std::uint8_t kStmtSendLongData = 0x18;
inline constexpr std::uint8_t kStmtClose = 0x19;
inline constexpr std::uint8_t kStmtReset = 0x1A;
inline constexpr std::uint8_t kStmtFetch = 0x1C;
inline constexpr std::uint8_t kResetConnection = 0x1F;
inline constexpr std::uint8_t kStmtBulkExecute = 0xFA;
}  // namespace com

struct MysqlHookStats {
    std::uint64_t loginsRewritten = 0;
    std::uint64_t changeUsersRewritten = 0;
    std::uint64_t authSwitchesAnswered = 0;
    std::uint64_t clientAuthPacketsDropped = 0;
    std::uint64_t statementsMapped = 0;
    std::uint64_t statementIdsRewritten = 0;
    std::uint64_t unmappedStatementIds = 0;    // sent unchanged: no prepare for them in the capture
    std::uint64_t midstreamLogins = 0;         // fresh logins written for sessions captured mid-stream
    std::uint64_t midstreamBytesSkipped = 0;   // client bytes before the first command boundary
    std::uint64_t midstreamClosesDropped = 0;  // COM_STMT_CLOSE of statements prepared before the capture
};

// What a hook shares with the other sessions of its rule.
struct MysqlHookContext {
    std::string client;                            // the captured client's address: the memory's key
    std::shared_ptr<LoginMemory> logins;           // logins seen earlier in the replay; may be null
    std::optional<MidstreamLogin> midstreamLogin;  // the login of last resort for mid-stream sessions
};

class MysqlHook final : public Hook {
  public:
    // Bytes the hook may hold waiting for the target before it refuses the session.
    static constexpr std::size_t kMaxHeldBytes = 64u << 20;

    // Client bytes searched for a command boundary before a mid-stream session is given up.
    static constexpr std::size_t kMaxResyncBytes = 16u << 20;

    explicit MysqlHook(std::shared_ptr<const Credentials> credentials, MysqlHookContext context = {});
    ~MysqlHook() override;

    ClientRewrite rewriteClient(ByteView bytes) override;
    Bytes onTargetBytes(ByteView bytes) override;
    Bytes onCapturedServerBytes(ByteView bytes) override;
    bool startMidstream() override;
    bool holding() const override { return !held_.empty(); }
    const std::optional<Refusal>& refusal() const override { return refusal_; }

    const MysqlHookStats& stats() const { return stats_; }
    // The target's statement id for a captured one, if known.
    std::optional<std::uint32_t> targetStatementId(std::uint32_t capturedId) const;

  private:
    enum class TargetAuth : std::uint8_t { kAwaitGreeting, kGreeted, kAuthenticating, kReady };
    enum class ClientPhase : std::uint8_t { kHandshake, kAuth, kResync, kCommands };

    // Processes held client packets in order while they can go out; appends to `out`.
    void drain(Bytes& out);
    void observeCapturedClient(const Packet& packet);
    void expectTarget(std::uint8_t command);
    // False when `packet` must wait for the target.
    bool processClient(const Packet& packet, Bytes& out);
    bool processHandshake(const Packet& packet, Bytes& out);
    void sendLogin(std::uint8_t seq, Bytes& out);
    void resyncClient(ByteView bytes);
    // Mid-stream, a statement command naming an id with no mapping: false when it is not to be
    // sent (refused, or dropped).
    bool mappableMidstream(std::uint32_t capturedId, std::uint8_t command);
    bool processCommand(const Packet& packet, Bytes& out);
    bool processStatementCommand(const Packet& packet, Bytes& out);
    bool processChangeUser(const Packet& packet, Bytes& out);
    void onTargetPacket(Packet packet, Bytes& out);
    void onTargetAuthPacket(const Packet& packet, Bytes& out);
    void pairPrepares();
    void refuse(std::string_view reason, std::string detail);

    std::shared_ptr<const Credentials> credentials_;
    PacketAssembler clientIn_;
    PacketAssembler targetIn_;
    PacketAssembler capturedIn_;
    std::deque<Packet> held_;
    std::size_t heldBytes_ = 0;
    std::unique_ptr<CapturedAnswers> captured_;
    std::unique_ptr<ResponseTracker> targetTracker_;
    MysqlHookContext context_;

    ClientPhase clientPhase_ = ClientPhase::kHandshake;
    TargetAuth targetAuth_ = TargetAuth::kAwaitGreeting;
    std::optional<Greeting> targetGreeting_;
    Bytes targetScramble_;  // the greeting's, then the last AuthSwitchRequest's
    AuthPlugin targetPlugin_ = AuthPlugin::kNativePassword;
    std::uint64_t clientCapabilities_ = 0;  // as sent to the target
    std::string password_;
    std::optional<HandshakeResponse> pendingHandshake_;
    bool capturedHandshakeSeen_ = false;
    bool midstream_ = false;
    CommandFinder resync_;  // mid-stream: the client's bytes up to its first command

    std::unordered_map<std::uint32_t, std::uint32_t> statementIds_;  // captured -> target
    std::unordered_set<std::uint32_t> issuedIds_;  // mid-stream: ids the online server issued since
    std::uint64_t unpairedPrepares_ = 0;           // prepares sent whose two answers are not both known
    MysqlHookStats stats_;
    std::optional<Refusal> refusal_;
};

// One per -x rule: the credentials, the mid-stream login of last resort (--mysql-midstream-login)
// and the memory of the logins its sessions showed, shared by the hooks it makes.
class MysqlHookFactory final : public HookFactory {
  public:
    explicit MysqlHookFactory(std::shared_ptr<const Credentials> credentials,
                              std::optional<MidstreamLogin> midstreamLogin = std::nullopt)
        : credentials_(std::move(credentials)),
          midstreamLogin_(std::move(midstreamLogin)),
          logins_(std::make_shared<LoginMemory>()) {}
    std::unique_ptr<Hook> create(std::string_view client) const override {
        return std::make_unique<MysqlHook>(credentials_,
                                           MysqlHookContext{std::string(client), logins_, midstreamLogin_});
    }
    const LoginMemory& logins() const { return *logins_; }

  private:
    std::shared_ptr<const Credentials> credentials_;
    std::optional<MidstreamLogin> midstreamLogin_;
    std::shared_ptr<LoginMemory> logins_;
};

}  // namespace tcpcopy::protocol::mysql
