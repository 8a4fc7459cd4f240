// The MySQL hook's side of sessions captured mid-stream (docs/protocols.md, "Sessions captured
// mid-stream"): which login, the client's first command boundary, statement ids the target
// cannot know.

#include "mysql_responses.h"
#include "tcpcopy/protocol/mysql_hook.h"

namespace tcpcopy::protocol::mysql {
namespace {

constexpr std::uint32_t kMaxPacketSize = 1u << 24;  // what the login announces: 16 MiB, as clients do

std::string describe(const MidstreamLogin& login) {
    return "'" + login.user + "'" + (login.schema ? " (schema '" + *login.schema + "')" : std::string());
}

}  // namespace

bool MysqlHook::startMidstream() {
    midstream_ = true;
    capturedHandshakeSeen_ = true;  // the commands' answers are expected as they come
    clientPhase_ = ClientPhase::kResync;
    captured_ = std::make_unique<CapturedAnswers>(CapturedAnswers::midstream());

    const MidstreamLogin* login = context_.logins ? context_.logins->find(context_.client) : nullptr;
    std::string source = "the last login from " + context_.client + " in this replay";
    if (login == nullptr && context_.midstreamLogin) {
        login = &*context_.midstreamLogin;
        source = "--mysql-midstream-login";
    }
    if (login == nullptr) {
        refuse("mid_stream",
               "captured without its login, and no login from " + context_.client +
                   " earlier in this replay to log in as: --mysql-midstream-login USER[/SCHEMA] "
                   "would give one");
        return false;
    }
    const std::string* password = credentials_->password(login->user);
    if (password == nullptr) {
        refuse("unknown_user", "captured mid-stream; user " + describe(*login) + " from " + source +
                                   " is not in the credentials file");
        return true;
    }
    password_ = *password;
    const bool withSchema = login->schema.has_value();
    HandshakeResponse response;
    response.capabilities = login->capabilities ? adaptCapabilities(*login->capabilities, withSchema)
                                                : midstreamCapabilities(withSchema);
    response.maxPacketSize = kMaxPacketSize;
    response.charset = login->charset.value_or(kUtf8mb4GeneralCi);
    response.user = login->user;
    response.database = login->schema;
    response.authPlugin = std::string(pluginName(AuthPlugin::kNativePassword));  // the greeting's, once known
    pendingHandshake_ = std::move(response);  // the online answers' form is learned, not assumed
    return true;
}

void MysqlHook::resyncClient(ByteView bytes) {
    if (auto commands = resync_.feed(bytes)) {
        clientIn_.feed(*commands);
        clientPhase_ = ClientPhase::kCommands;
    }
    stats_.midstreamBytesSkipped = resync_.skipped();
    if (clientPhase_ == ClientPhase::kResync && resync_.skipped() + resync_.buffered() > kMaxResyncBytes) {
        refuse("mid_stream", "no command boundary in the first " + std::to_string(kMaxResyncBytes) +
                                 " client bytes of a session captured mid-stream");
    }
}

bool MysqlHook::mappableMidstream(std::uint32_t capturedId, std::uint8_t command) {
    const std::string statement = "statement " + std::to_string(capturedId);
    if (captured_->lost()) {
        refuse("mid_stream",
               "the online server's answers do not line up with the commands captured "
               "mid-stream: " +
                   statement + " cannot be mapped");
        return false;
    }
    if (captured_->ambiguous()) {
        refuse("mid_stream",
               "the online server's first answers fit the commands captured mid-stream in two "
               "ways: " +
                   statement + " cannot be mapped");
        return false;
    }
    if (unpairedPrepares_ > 0 || issuedIds_.contains(capturedId)) {
        return true;  // mapped once both answers are read; or its prepare failed at the target
    }
    if (command == com::kStmtClose) {
        ++stats_.midstreamClosesDropped;  // the target never had it; the close has no answer
        return false;
    }
    refuse("mid_stream",
           statement + " was prepared before the capture started: the target has no statement for it");
    return false;
}

}  // namespace tcpcopy::protocol::mysql
