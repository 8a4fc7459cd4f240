#include "tcpcopy/protocol/mysql_hook.h"

#include "mysql_responses.h"

namespace tcpcopy::protocol::mysql {
namespace {

constexpr std::uint32_t kLastPreparedStatement = 0xFFFFFFFF;  // MariaDB: "the statement just prepared"

std::uint8_t firstByte(ByteView payload) {
    return payload.empty() ? 0 : std::to_integer<std::uint8_t>(payload[0]);
}

void appendPacket(Bytes& out, const Packet& packet) {
    appendHeader(out, packet.payload.size(), packet.seq);
    putBytes(out, packet.payload);
}

// The plugin the hook answers a greeting with: the server's default when the hook can compute
// it, else mysql_native_password (the server then asks to switch if the account needs another).
AuthPlugin initialPlugin(std::string_view name) {
    const AuthPlugin plugin = pluginFromName(name);
    return plugin == AuthPlugin::kUnsupported ? AuthPlugin::kNativePassword : plugin;
}

// "1045 (28000) Access denied ..." from an ERR packet.
std::string errText(ByteView payload) {
    Reader r(payload);
    r.u8();
    const std::uint16_t code = r.u16();
    ByteView rest = r.rest();
    if (!rest.empty() && rest[0] == std::byte{'#'} && rest.size() >= 6) {
        rest = rest.subspan(6);
    }
    return std::to_string(code) + " " + toString(rest);
}

// The answer a command gets, or nothing for the commands the server does not answer.
std::optional<Expect> expectationFor(std::uint8_t command) {
    switch (command) {
        case com::kStmtPrepare:
            return Expect::kPrepare;
        case com::kStmtExecute:
        case com::kStmtBulkExecute:
            return Expect::kExecute;
        case com::kStmtFetch:
        case com::kFieldList:
            return Expect::kRows;
        case com::kStatistics:
            return Expect::kSingle;
        case kComChangeUser:
            return Expect::kChangeUser;
        case com::kQuit:
        case com::kStmtClose:
        case com::kStmtSendLongData:
            return std::nullopt;
        default:
            return Expect::kGeneric;
    }
}

}  // namespace

MysqlHook::MysqlHook(std::shared_ptr<const Credentials> credentials, MysqlHookContext context)
    : credentials_(std::move(credentials)),
      captured_(std::make_unique<CapturedAnswers>(CapturedAnswers::fromStart())),
      targetTracker_(std::make_unique<ResponseTracker>(false)),
      context_(std::move(context)) {}

MysqlHook::~MysqlHook() = default;

std::optional<std::uint32_t> MysqlHook::targetStatementId(std::uint32_t capturedId) const {
    const auto it = statementIds_.find(capturedId);
    if (it == statementIds_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void MysqlHook::refuse(std::string_view reason, std::string detail) {
    if (!refusal_) {
        refusal_ = Refusal{reason, std::move(detail)};
    }
    held_.clear();
    heldBytes_ = 0;
}

ClientRewrite MysqlHook::rewriteClient(ByteView bytes) {
    if (refusal_) {
        return {};
    }
    if (clientPhase_ == ClientPhase::kResync) {
        resyncClient(bytes);
    } else {
        clientIn_.feed(bytes);
    }
    while (auto packet = clientIn_.next()) {
        observeCapturedClient(*packet);
        heldBytes_ += kHeaderSize + packet->payload.size();
        held_.push_back(std::move(*packet));
    }
    ClientRewrite result;
    drain(result.send);
    if (heldBytes_ + clientIn_.buffered() > kMaxHeldBytes) {
        refuse("hold_overflow",
               "more than " + std::to_string(kMaxHeldBytes) + " client bytes wait for the target");
    }
    if (refusal_) {
        return {};
    }
    result.holding = holding();
    return result;
}

Bytes MysqlHook::onTargetBytes(ByteView bytes) {
    if (refusal_) {
        return {};
    }
    Bytes out;
    targetIn_.feed(bytes);
    while (!refusal_) {
        auto packet = targetIn_.next();
        if (!packet) {
            break;
        }
        onTargetPacket(std::move(*packet), out);
        drain(out);
    }
    return refusal_ ? Bytes{} : out;
}

Bytes MysqlHook::onCapturedServerBytes(ByteView bytes) {
    if (refusal_) {
        return {};
    }
    Bytes out;
    capturedIn_.feed(bytes);
    while (auto packet = capturedIn_.next()) {
        captured_->onPacket(*packet);
    }
    if (captured_->overflowed()) {
        refuse("hold_overflow", "the online server's bytes run more than 64 MiB ahead of the client's");
    }
    pairPrepares();
    drain(out);
    return refusal_ ? Bytes{} : out;
}

void MysqlHook::observeCapturedClient(const Packet& packet) {
    // The online server's answers follow the captured commands whatever the target does, so they
    // are expected as the commands arrive, not as they go out.
    if (!capturedHandshakeSeen_) {
        capturedHandshakeSeen_ = true;
        if (const auto response = parseHandshakeResponse(packet.payload)) {
            captured_->setClientCapabilities(response->capabilities);
            if (context_.logins && packet.seq == 1 && !response->sslRequest) {
                context_.logins->remember(context_.client, {response->user, response->database,
                                                            response->capabilities, response->charset});
            }
        }
        return;
    }
    if (packet.continuation || packet.seq != 0 || packet.payload.empty()) {
        return;  // auth exchange, LOCAL INFILE data, the rest of a long message
    }
    if (const auto kind = expectationFor(firstByte(packet.payload))) {
        captured_->expect(*kind);
    }
}

void MysqlHook::expectTarget(std::uint8_t command) {
    const auto kind = expectationFor(command);
    if (kind && *kind != Expect::kChangeUser) {  // the target's auth exchange is answered, not tracked
        targetTracker_->expect(*kind);
    }
}

void MysqlHook::drain(Bytes& out) {
    while (!held_.empty() && !refusal_) {
        if (!processClient(held_.front(), out)) {
            return;
        }
        if (refusal_) {
            return;
        }
        heldBytes_ -= kHeaderSize + held_.front().payload.size();
        held_.pop_front();
    }
}

bool MysqlHook::processClient(const Packet& packet, Bytes& out) {
    if (packet.continuation) {
        appendPacket(out, packet);  // the rest of a >16 MiB message whose first packet went out
        return true;
    }
    switch (clientPhase_) {
        case ClientPhase::kHandshake:
            return processHandshake(packet, out);
        case ClientPhase::kAuth:
            if (packet.seq != 0) {
                // The captured client's answer to the online server's auth exchange: the hook
                // answers the target's own exchange instead.
                ++stats_.clientAuthPacketsDropped;
                return true;
            }
            if (targetAuth_ != TargetAuth::kReady) {
                return false;
            }
            clientPhase_ = ClientPhase::kCommands;
            return processCommand(packet, out);
        case ClientPhase::kResync:
        case ClientPhase::kCommands:
            return processCommand(packet, out);
    }
    return true;
}

bool MysqlHook::processHandshake(const Packet& packet, Bytes& out) {
    if (!pendingHandshake_) {
        auto parsed = parseHandshakeResponse(packet.payload);
        if (packet.seq != 1 || !parsed) {
            refuse(packet.seq != 1 ? "mid_stream" : "malformed",
                   packet.seq != 1
                       ? "the capture starts after the login (first client packet has sequence id " +
                             std::to_string(packet.seq) + ")"
                       : "the client's handshake response does not parse");
            return true;
        }
        if (parsed->sslRequest || (parsed->capabilities & cap::kSsl) != 0) {
            refuse("tls", "the client negotiated TLS (CLIENT_SSL)");
            return true;
        }
        if ((parsed->capabilities & (cap::kCompress | cap::kZstdCompression)) != 0) {
            refuse("compression", "the client negotiated compression (CLIENT_COMPRESS/ZSTD)");
            return true;
        }
        const std::string* password = credentials_->password(parsed->user);
        if (password == nullptr) {
            refuse("unknown_user", "user '" + parsed->user + "' is not in the credentials file");
            return true;
        }
        password_ = *password;
        pendingHandshake_ = std::move(parsed);
    }
    if (targetAuth_ == TargetAuth::kAwaitGreeting) {
        return false;
    }
    sendLogin(packet.seq, out);
    clientPhase_ = ClientPhase::kAuth;
    return true;
}

// The login for the target's greeting: the pending handshake response with the auth response the
// target's scramble needs, for its default plugin when the hook can compute it.
void MysqlHook::sendLogin(std::uint8_t seq, Bytes& out) {
    HandshakeResponse response = *pendingHandshake_;
    if ((response.capabilities & (cap::kSecureConnection | cap::kPluginAuthLenencData)) == 0) {
        response.capabilities |= cap::kSecureConnection;  // a scramble may hold NULs
    }
    targetPlugin_ = (response.capabilities & cap::kPluginAuth) != 0
                        ? initialPlugin(targetGreeting_->authPlugin)
                        : AuthPlugin::kNativePassword;
    response.authResponse = *authResponse(targetPlugin_, password_, targetScramble_);
    if (response.capabilities & cap::kPluginAuth) {
        response.authPlugin = std::string(pluginName(targetPlugin_));
    }
    appendMessage(out, seq, buildHandshakeResponse(response));
    clientCapabilities_ = response.capabilities;
    targetTracker_->setClientCapabilities(response.capabilities);
    targetAuth_ = TargetAuth::kAuthenticating;
    ++stats_.loginsRewritten;
}

bool MysqlHook::processCommand(const Packet& packet, Bytes& out) {
    if (targetAuth_ != TargetAuth::kReady) {
        return false;
    }
    if (packet.seq != 0 || packet.payload.empty()) {
        appendPacket(out, packet);  // LOCAL INFILE data the target asked for
        return true;
    }
    const std::uint8_t command = firstByte(packet.payload);
    switch (command) {
        case com::kStmtExecute:
        case com::kStmtBulkExecute:
        case com::kStmtSendLongData:
        case com::kStmtClose:
        case com::kStmtReset:
        case com::kStmtFetch:
            return processStatementCommand(packet, out);
        case kComChangeUser:
            return processChangeUser(packet, out);
        case com::kStmtPrepare:
            ++unpairedPrepares_;
            break;
        case com::kResetConnection:
            statementIds_.clear();  // the server deallocates every statement
            break;
        default:
            break;
    }
    expectTarget(command);
    appendPacket(out, packet);
    return true;
}

bool MysqlHook::processStatementCommand(const Packet& packet, Bytes& out) {
    const std::uint8_t command = firstByte(packet.payload);
    Packet rewritten = packet;
    if (packet.payload.size() >= 5) {
        Reader r(ByteView(packet.payload).subspan(1, 4));
        const std::uint32_t captured = r.u32();
        const auto mapped = statementIds_.find(captured);
        if (mapped != statementIds_.end()) {
            Bytes id;
            putU32(id, mapped->second);
            std::copy(id.begin(), id.end(), rewritten.payload.begin() + 1);
            ++stats_.statementIdsRewritten;
            if (command == com::kStmtClose) {
                statementIds_.erase(mapped);
                issuedIds_.erase(captured);
            }
        } else if (captured != kLastPreparedStatement) {
            if (midstream_ && !mappableMidstream(captured, command)) {
                return true;  // refused, or a close of a statement the target never had
            }
            if (unpairedPrepares_ > 0) {
                return false;  // its prepare's answers may still map it
            }
            ++stats_.unmappedStatementIds;
        }
    }
    expectTarget(command);
    appendPacket(out, rewritten);
    return true;
}

bool MysqlHook::processChangeUser(const Packet& packet, Bytes& out) {
    auto change = parseChangeUser(packet.payload, pendingHandshake_->capabilities);
    if (!change) {
        refuse("malformed", "a COM_CHANGE_USER does not parse");
        return true;
    }
    const std::string* password = credentials_->password(change->user);
    if (password == nullptr) {
        refuse("unknown_user", "COM_CHANGE_USER to user '" + change->user + "', not in the credentials file");
        return true;
    }
    password_ = *password;
    targetPlugin_ = initialPlugin(change->authPlugin.value_or(""));
    change->authResponse = *authResponse(targetPlugin_, password_, targetScramble_);
    if (change->authPlugin) {
        change->authPlugin = std::string(pluginName(targetPlugin_));
    }
    appendMessage(out, packet.seq, buildChangeUser(*change, clientCapabilities_));
    statementIds_.clear();  // the server deallocates every statement of the old user
    targetAuth_ = TargetAuth::kAuthenticating;
    clientPhase_ = ClientPhase::kAuth;
    ++stats_.changeUsersRewritten;
    return true;
}

void MysqlHook::onTargetPacket(Packet packet, Bytes& out) {
    if (targetAuth_ == TargetAuth::kAwaitGreeting) {
        if (firstByte(packet.payload) == 0xFF) {
            refuse("login_failed", "the target refused the connection: " + errText(packet.payload));
            return;
        }
        auto greeting = parseGreeting(packet.payload);
        if (!greeting) {
            refuse("malformed", "the target's greeting is not a protocol 10 greeting");
            return;
        }
        targetScramble_ = greeting->scramble;
        targetTracker_->setServerCapabilities(greeting->capabilities);
        targetGreeting_ = std::move(greeting);
        targetAuth_ = TargetAuth::kGreeted;
        if (midstream_) {
            sendLogin(1, out);  // the login the capture lacks; the client's commands wait for its OK
            ++stats_.midstreamLogins;
        }
        return;
    }
    if (targetAuth_ == TargetAuth::kAuthenticating && targetTracker_->idle() && !packet.continuation) {
        onTargetAuthPacket(packet, out);
        return;
    }
    targetTracker_->onPacket(std::move(packet));
    pairPrepares();
}

void MysqlHook::onTargetAuthPacket(const Packet& packet, Bytes& out) {
    const std::string user = pendingHandshake_ ? pendingHandshake_->user : std::string();
    switch (firstByte(packet.payload)) {
        case 0x00:
            targetAuth_ = TargetAuth::kReady;
            return;
        case 0xFF:
            refuse("login_failed", "the target rejected the login: " + errText(packet.payload));
            return;
        case 0xFE: {
            const auto request = parseAuthSwitchRequest(packet.payload);
            const AuthPlugin plugin = request ? pluginFromName(request->plugin) : AuthPlugin::kUnsupported;
            if (plugin == AuthPlugin::kUnsupported) {
                refuse("unsupported_auth", "the target asks for auth plugin '" +
                                               (request ? request->plugin : std::string("old_password")) +
                                               "'");
                return;
            }
            targetPlugin_ = plugin;
            targetScramble_ = request->data;
            appendMessage(out, static_cast<std::uint8_t>(packet.seq + 1),
                          *authResponse(plugin, password_, targetScramble_));
            ++stats_.authSwitchesAnswered;
            return;
        }
        case 0x01:
            if (targetPlugin_ == AuthPlugin::kCachingSha2 && packet.payload.size() == 2) {
                if (packet.payload[1] == std::byte{0x03}) {
                    return;  // fast authentication succeeded: the OK follows
                }
                if (packet.payload[1] == std::byte{0x04}) {
                    refuse("unsupported_auth",
                           "caching_sha2_password full authentication (the target has not cached the "
                           "password of the user; it needs TLS or the RSA key exchange)");
                    return;
                }
            }
            refuse("unsupported_auth",
                   "the target sent more auth data for plugin " + std::string(pluginName(targetPlugin_)));
            return;
        default:
            refuse("malformed", "an unexpected packet from the target during the login");
            return;
    }
}

void MysqlHook::pairPrepares() {
    auto& target = targetTracker_->prepareResults();
    while (!target.empty()) {
        const PrepareResult* captured = captured_->agreedPrepare();
        if (captured == nullptr) {
            break;
        }
        if (captured->ok && midstream_) {
            issuedIds_.insert(captured->id);
        }
        if (captured->ok && target.front().ok) {
            statementIds_[captured->id] = target.front().id;
            ++stats_.statementsMapped;
        }
        captured_->popPrepare();
        target.pop_front();
        if (unpairedPrepares_ > 0) {
            --unpairedPrepares_;
        }
    }
}

}  // namespace tcpcopy::protocol::mysql
