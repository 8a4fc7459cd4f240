// --protocol: the protocol hooks of tcpcopy's rules (protocol_hooks.h).

#include "tcpcopy/app/protocol_hooks.h"

#include <spdlog/spdlog.h>

#include "tcpcopy/app/replay_options.h"
#include "tcpcopy/protocol/credentials.h"
#include "tcpcopy/protocol/engine_hook.h"
#include "tcpcopy/protocol/mysql_hook.h"
#include "tcpcopy/protocol/mysql_midstream.h"

namespace tcpcopy::app {

namespace {
// Refusals logged one by one; the rest are counted only (the summary has them all).
constexpr unsigned kRefusalsLogged = 20;
constexpr std::uint16_t kMysqlPort = 3306;
}  // namespace

namespace {
std::string parseOneChoice(std::string_view text, std::vector<ProtocolChoice>& choices) {
    ProtocolChoice choice;
    std::string_view name = text;
    if (const auto eq = text.find('='); eq != std::string_view::npos) {
        net::Port port;
        if (!parsePort(text.substr(0, eq), port))
            return "expects [PORT=]NAME with PORT 1-65535, got '" + std::string(text) + "'";
        choice.port = port;
        name = text.substr(eq + 1);
    }
    if (name != "mysql") return "names an unknown protocol '" + std::string(name) + "' (known: mysql)";
    choice.name = std::string(name);
    choices.push_back(std::move(choice));
    return {};
}
}  // namespace

std::string parseProtocolChoice(std::string_view text, std::vector<ProtocolChoice>& choices) {
    std::vector<ProtocolChoice> parsed;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        if (std::string error = parseOneChoice(text.substr(start, comma - start), parsed); !error.empty())
            return error;
        start = comma + 1;
    }
    choices.insert(choices.end(), parsed.begin(), parsed.end());
    return {};
}

std::string parseMidstreamLoginOption(std::string_view text, std::string& login) {
    const protocol::mysql::ParsedMidstreamLogin parsed = protocol::mysql::parseMidstreamLogin(text);
    if (!parsed.login) return parsed.error;
    login = std::string(text);
    return {};
}

ProtocolHooks::ProtocolHooks(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}
ProtocolHooks::~ProtocolHooks() = default;

os::Result<std::unique_ptr<ProtocolHooks>> ProtocolHooks::attach(const std::vector<ProtocolChoice>& choices,
                                                                 const std::string& mysqlCredentials,
                                                                 const std::string& mysqlMidstreamLogin,
                                                                 std::vector<session::AddressRule>& rules,
                                                                 std::shared_ptr<spdlog::logger> log) {
    std::unique_ptr<ProtocolHooks> hooks(new ProtocolHooks(std::move(log)));
    using R = os::Result<std::unique_ptr<ProtocolHooks>>;
    if (choices.empty()) return R::ok(std::move(hooks));
    if (mysqlCredentials.empty())
        return R::fail(
            "--protocol mysql needs --mysql-credentials FILE ('user password' per line, mode 0600)");
    auto credentials = protocol::Credentials::load(mysqlCredentials);
    if (!credentials) return R::fail("--mysql-credentials " + credentials.error());
    auto shared = std::make_shared<const protocol::Credentials>(std::move(credentials).value());
    std::optional<protocol::mysql::MidstreamLogin> midstreamLogin;
    if (!mysqlMidstreamLogin.empty()) {
        auto parsed = protocol::mysql::parseMidstreamLogin(mysqlMidstreamLogin);
        if (!parsed.login) return R::fail("--mysql-midstream-login " + parsed.error);
        if (shared->password(parsed.login->user) == nullptr)
            return R::fail("--mysql-midstream-login: user '" + parsed.login->user + "' is not in " +
                           mysqlCredentials + " (--mysql-credentials)");
        midstreamLogin = std::move(parsed.login);
    }
    ProtocolHooks* self = hooks.get();
    auto report = [self](const net::FlowKey& captured, session::HookRefusal reason,
                         const std::string& detail) {
        if (self->refusalsLogged_ >= kRefusalsLogged) return;
        const bool last = ++self->refusalsLogged_ == kRefusalsLogged;
        self->log_->warn("protocol hook refused {} ({}): {}{}", captured.toString(),
                         session::hookRefusalName(reason), detail,
                         last ? "; further refusals are only counted" : "");
    };
    auto& factory = hooks->factories_.emplace_back(std::make_unique<protocol::EngineHookFactory>(
        std::make_unique<protocol::mysql::MysqlHookFactory>(shared, std::move(midstreamLogin)), report));
    for (const ProtocolChoice& choice : choices) {
        bool any = false;
        for (session::AddressRule& rule : rules) {
            if (choice.port && rule.onlinePort != *choice.port) continue;
            rule.hook = factory.get();
            any = true;
        }
        if (!any)
            return R::fail("--protocol " + std::to_string(choice.port->value()) + "=" + choice.name +
                           ": no -x rule has online port " + std::to_string(choice.port->value()));
    }
    return R::ok(std::move(hooks));
}

std::string protocolHint(const std::vector<session::AddressRule>& rules) {
    for (const session::AddressRule& rule : rules) {
        if (rule.hook != nullptr) continue;
        if (rule.onlinePort.value() == kMysqlPort || rule.target.port.value() == kMysqlPort) {
            return "port " + std::to_string(kMysqlPort) +
                   " was replayed byte for byte: MySQL/MariaDB logins answer the online server's scramble "
                   "and fail at the target; use --protocol mysql --mysql-credentials FILE";
        }
    }
    return {};
}

}  // namespace tcpcopy::app
