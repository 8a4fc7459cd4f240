#pragma once

// The client side of the authentication plugins: the auth response a client computes from its
// password and the server's scramble. Pure functions of their inputs.

#include <optional>
#include <string_view>

#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql {

enum class AuthPlugin {
    kNativePassword,  // mysql_native_password
    kCachingSha2,     // caching_sha2_password (the fast path only)
    kEd25519,         // MariaDB's client_ed25519 (server plugin "ed25519")
    kUnsupported,
};

// The plugin a client-side name (or MariaDB's server-side "ed25519") stands for.
AuthPlugin pluginFromName(std::string_view name);
std::string_view pluginName(AuthPlugin plugin);

// SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for an empty password.
Bytes nativePasswordResponse(std::string_view password, ByteView scramble);
// SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble); empty for an empty password. The server
// accepts it only while the user's hash is in its cache; otherwise it asks for the full
// authentication, which needs TLS or RSA and is not replayed.
Bytes cachingSha2Response(std::string_view password, ByteView scramble);
// MariaDB's ed25519: the secret scalar is the clamped first half of SHA512(password) (any length),
// the nonce SHA512(second half + message): a 64-byte Ed25519 signature R || S of `message`.
Bytes ed25519Response(std::string_view password, ByteView message);
// The 32-byte public key MariaDB stores for PASSWORD('...') (base64 without padding in
// mysql.global_priv).
Bytes ed25519PublicKey(std::string_view password);

// The response `plugin` computes, or nothing for an unsupported plugin.
std::optional<Bytes> authResponse(AuthPlugin plugin, std::string_view password, ByteView scramble);

}  // namespace tcpcopy::protocol::mysql
