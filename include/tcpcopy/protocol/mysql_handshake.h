#pragma once

// The connection-phase messages of the MySQL/MariaDB protocol: the server's greeting (protocol
// 10), the client's HandshakeResponse41, AuthSwitchRequest / AuthMoreData, and COM_CHANGE_USER.
// Parsers take one packet's payload (no header) and reject anything truncated; builders produce a
// payload that parse() reads back field for field.

#include <cstdint>
#include <optional>
#include <string>

#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql {

// Capability flags (the lower 32 bits are MySQL's; MariaDB's extended capabilities, carried in
// the greeting's and the response's reserved bytes, are the upper 32 here).
namespace cap {
inline constexpr std::uint64_t kLongPassword = 1;  // MariaDB: CLIENT_MYSQL
inline constexpr std::uint64_t kLongFlag = 1u << 2;
inline constexpr std::uint64_t kConnectWithDb = 1u << 3;
inline constexpr std::uint64_t kCompress = 1u << 5;
inline constexpr std::uint64_t kLocalFiles = 1u << 7;
inline constexpr std::uint64_t kProtocol41 = 1u << 9;
inline constexpr std::uint64_t kSsl = 1u << 11;
inline constexpr std::uint64_t kTransactions = 1u << 13;
inline constexpr std::uint64_t kSecureConnection = 1u << 15;
inline constexpr std::uint64_t kMultiStatements = 1u << 16;
inline constexpr std::uint64_t kMultiResults = 1u << 17;
inline constexpr std::uint64_t kPsMultiResults = 1u << 18;
inline constexpr std::uint64_t kPluginAuth = 1u << 19;
inline constexpr std::uint64_t kConnectAttrs = 1u << 20;
inline constexpr std::uint64_t kPluginAuthLenencData = 1u << 21;
inline constexpr std::uint64_t kDeprecateEof = 1u << 24;
inline constexpr std::uint64_t kZstdCompression = 1u << 26;
inline constexpr std::uint64_t kMariaDbCacheMetadata = std::uint64_t{1} << 36;
}  // namespace cap

struct Greeting {
    std::uint8_t protocolVersion = 10;
    std::string serverVersion;
    std::uint32_t connectionId = 0;
    Bytes scramble;  // both parts joined, trailing NUL dropped (20 bytes from current servers)
    std::uint64_t capabilities = 0;  // with MariaDB's extended capabilities when it announces them
    std::uint8_t charset = 0;
    std::uint16_t status = 0;
    std::string authPlugin;  // empty when the server does not send CLIENT_PLUGIN_AUTH
};
std::optional<Greeting> parseGreeting(ByteView payload);
Bytes buildGreeting(const Greeting& greeting);

struct HandshakeResponse {
    std::uint64_t capabilities = 0;  // with MariaDB's extended capabilities (the filler's last 4 bytes)
    std::uint32_t maxPacketSize = 0;
    std::uint8_t charset = 0;
    Bytes filler = Bytes(19);  // the reserved bytes before MariaDB's 4 extended-capability bytes
    std::string user;
    Bytes authResponse;
    std::optional<std::string> database;    // present with CLIENT_CONNECT_WITH_DB
    std::optional<std::string> authPlugin;  // present with CLIENT_PLUGIN_AUTH
    std::optional<Bytes> attributes;        // the raw key/value block, with CLIENT_CONNECT_ATTRS
    Bytes trailing;                         // anything after the known fields, kept as sent
    bool sslRequest = false;                // the 32-byte SSLRequest that precedes a TLS handshake
};
// Parses a HandshakeResponse41 or an SSLRequest (CLIENT_SSL set and only the fixed part).
// Pre-4.1 responses (no CLIENT_PROTOCOL_41) are rejected.
std::optional<HandshakeResponse> parseHandshakeResponse(ByteView payload);
Bytes buildHandshakeResponse(const HandshakeResponse& response);

// The server's reply during authentication, by its first byte.
struct AuthSwitchRequest {  // 0xFE
    std::string plugin;
    Bytes data;  // the new scramble, trailing NUL dropped
};
std::optional<AuthSwitchRequest> parseAuthSwitchRequest(ByteView payload);
Bytes buildAuthSwitchRequest(const AuthSwitchRequest& request);

struct ChangeUser {  // COM_CHANGE_USER (0x11)
    std::string user;
    Bytes authResponse;
    std::string database;
    std::optional<std::uint16_t> charset;
    std::optional<std::string> authPlugin;
    std::optional<Bytes> attributes;
};
// `capabilities` are the ones the connection negotiated (they decide the optional fields).
std::optional<ChangeUser> parseChangeUser(ByteView payload, std::uint64_t capabilities);
Bytes buildChangeUser(const ChangeUser& change, std::uint64_t capabilities);

inline constexpr std::uint8_t kComChangeUser = 0x11;

}  // namespace tcpcopy::protocol::mysql
