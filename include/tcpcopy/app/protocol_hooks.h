#pragma once
// --protocol [PORT=]NAME: the protocol hooks (src/protocol) of tcpcopy's -x rules. A choice
// without a port applies to every TCP rule; with one, to the rules whose online port it is.
// Only "mysql" exists: it logs in with --mysql-credentials and maps prepared statements
// (docs/protocols.md); sessions captured mid-stream log in afresh as the client's last login in
// the replay, else as --mysql-midstream-login USER[/SCHEMA]. Hooks read the target's answers, so
// they need response payloads (intercept --payload, tcpcopy --response-payload).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"
#include "tcpcopy/session/engine.h"

namespace spdlog {
class logger;
}

namespace tcpcopy::session {
class ProtocolHookFactory;
}

namespace tcpcopy::app {

struct ProtocolChoice {
    std::optional<net::Port> port;  // the rules' online port; none: every rule
    std::string name;               // "mysql"
};

// One --protocol value; returns "" (and appends) or the reason.
std::string parseProtocolChoice(std::string_view text, std::vector<ProtocolChoice>& choices);
// A --mysql-midstream-login value: returns "" (and sets `login` to it) or the reason.
std::string parseMidstreamLoginOption(std::string_view text, std::string& login);

// The hook factories of a run, owned here for as long as the engine uses them.
class ProtocolHooks {
  public:
    ~ProtocolHooks();
    ProtocolHooks(const ProtocolHooks&) = delete;
    ProtocolHooks& operator=(const ProtocolHooks&) = delete;

    // Loads what the choices need (the credentials file, which must name the mid-stream login's
    // user) and sets the hook of every rule a choice names. An error names the option or the file.
    static os::Result<std::unique_ptr<ProtocolHooks>> attach(const std::vector<ProtocolChoice>& choices,
                                                             const std::string& mysqlCredentials,
                                                             const std::string& mysqlMidstreamLogin,
                                                             std::vector<session::AddressRule>& rules,
                                                             std::shared_ptr<spdlog::logger> log);

  private:
    explicit ProtocolHooks(std::shared_ptr<spdlog::logger> log);
    std::shared_ptr<spdlog::logger> log_;
    std::vector<std::unique_ptr<session::ProtocolHookFactory>> factories_;
    unsigned refusalsLogged_ = 0;
};

// The summary's warning for rules replayed byte for byte to a port whose protocol cannot be
// (MySQL's 3306: its logins answer the online server's scramble); "" when there is none.
std::string protocolHint(const std::vector<session::AddressRule>& rules);

}  // namespace tcpcopy::app
