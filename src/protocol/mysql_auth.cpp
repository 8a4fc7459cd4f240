#include "tcpcopy/protocol/mysql_auth.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace tcpcopy::protocol::mysql {
namespace {

Bytes digest(const EVP_MD* md, std::initializer_list<ByteView> parts) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int length = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1;
    for (const ByteView part : parts) {
        ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &length) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        std::abort();  // a digest of in-memory bytes cannot fail but for memory exhaustion
    }
    Bytes result(length);
    for (unsigned int i = 0; i < length; ++i) {
        result[i] = std::byte{out[i]};
    }
    return result;
}

ByteView view(std::string_view text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

Bytes xorBytes(const Bytes& a, const Bytes& b) {
    Bytes out(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        out[i] = a[i] ^ b[i];
    }
    return out;
}

// The password-based scramble uses the first 20 bytes (servers append a NUL or send exactly 20).
ByteView nonce(ByteView scramble) { return scramble.first(std::min<std::size_t>(scramble.size(), 20)); }

void ensureSodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        std::abort();
    }
}

using Scalar = std::array<unsigned char, crypto_core_ed25519_SCALARBYTES>;
using Point = std::array<unsigned char, crypto_core_ed25519_BYTES>;
using Hash512 = std::array<unsigned char, crypto_hash_sha512_BYTES>;

// SHA512(password) with its first half clamped: the secret scalar and the nonce prefix.
Hash512 expandPassword(std::string_view password) {
    Hash512 az{};
    crypto_hash_sha512(az.data(), reinterpret_cast<const unsigned char*>(password.data()), password.size());
    az[0] &= 248;
    az[31] &= 63;
    az[31] |= 64;
    return az;
}

Point baseMultiple(const unsigned char* scalar) {
    Point p{};
    if (crypto_scalarmult_ed25519_base_noclamp(p.data(), scalar) != 0) {
        std::abort();  // only a zero scalar fails: impossible for a clamped one, 2^-252 for a hash
    }
    return p;
}

// x mod L for a 32-byte little-endian x.
Scalar reduce32(const unsigned char* x) {
    std::array<unsigned char, 64> wide{};
    std::copy(x, x + 32, wide.begin());
    Scalar out{};
    crypto_core_ed25519_scalar_reduce(out.data(), wide.data());
    return out;
}

}  // namespace

AuthPlugin pluginFromName(std::string_view name) {
    if (name == "mysql_native_password") {
        return AuthPlugin::kNativePassword;
    }
    if (name == "caching_sha2_password") {
        return AuthPlugin::kCachingSha2;
    }
    if (name == "client_ed25519" || name == "ed25519") {
        return AuthPlugin::kEd25519;
    }
    return AuthPlugin::kUnsupported;
}

std::string_view pluginName(AuthPlugin plugin) {
    switch (plugin) {
        case AuthPlugin::kNativePassword:
            return "mysql_native_password";
        case AuthPlugin::kCachingSha2:
            return "caching_sha2_password";
        case AuthPlugin::kEd25519:
            return "client_ed25519";
        case AuthPlugin::kUnsupported:
            break;
    }
    return "unsupported";
}

Bytes nativePasswordResponse(std::string_view password, ByteView scramble) {
    if (password.empty()) {
        return {};
    }
    const Bytes stage1 = digest(EVP_sha1(), {view(password)});
    const Bytes stage2 = digest(EVP_sha1(), {stage1});
    return xorBytes(stage1, digest(EVP_sha1(), {nonce(scramble), stage2}));
}

Bytes cachingSha2Response(std::string_view password, ByteView scramble) {
    if (password.empty()) {
        return {};
    }
    const Bytes stage1 = digest(EVP_sha256(), {view(password)});
    const Bytes stage2 = digest(EVP_sha256(), {stage1});
    return xorBytes(stage1, digest(EVP_sha256(), {stage2, nonce(scramble)}));
}

Bytes ed25519PublicKey(std::string_view password) {
    ensureSodium();
    const Hash512 az = expandPassword(password);
    const Point a = baseMultiple(az.data());
    Bytes out(a.size());
    std::transform(a.begin(), a.end(), out.begin(), [](unsigned char c) { return std::byte{c}; });
    return out;
}

Bytes ed25519Response(std::string_view password, ByteView message) {
    ensureSodium();
    const Hash512 az = expandPassword(password);
    const Point a = baseMultiple(az.data());

    Hash512 nonceHash{};
    crypto_hash_sha512_state state;
    crypto_hash_sha512_init(&state);
    crypto_hash_sha512_update(&state, az.data() + 32, 32);
    crypto_hash_sha512_update(&state, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    crypto_hash_sha512_final(&state, nonceHash.data());
    Scalar r{};
    crypto_core_ed25519_scalar_reduce(r.data(), nonceHash.data());
    const Point bigR = baseMultiple(r.data());

    Hash512 hram{};
    crypto_hash_sha512_init(&state);
    crypto_hash_sha512_update(&state, bigR.data(), bigR.size());
    crypto_hash_sha512_update(&state, a.data(), a.size());
    crypto_hash_sha512_update(&state, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    crypto_hash_sha512_final(&state, hram.data());
    Scalar k{};
    crypto_core_ed25519_scalar_reduce(k.data(), hram.data());

    // S = (k * s + r) mod L
    const Scalar s = reduce32(az.data());
    Scalar ks{};
    crypto_core_ed25519_scalar_mul(ks.data(), k.data(), s.data());
    Scalar bigS{};
    crypto_core_ed25519_scalar_add(bigS.data(), ks.data(), r.data());

    Bytes out;
    out.reserve(64);
    for (const unsigned char c : bigR) {
        out.push_back(std::byte{c});
    }
    for (const unsigned char c : bigS) {
        out.push_back(std::byte{c});
    }
    return out;
}

std::optional<Bytes> authResponse(AuthPlugin plugin, std::string_view password, ByteView scramble) {
    switch (plugin) {
        case AuthPlugin::kNativePassword:
            return nativePasswordResponse(password, scramble);
        case AuthPlugin::kCachingSha2:
            return cachingSha2Response(password, scramble);
        case AuthPlugin::kEd25519:
            return ed25519Response(password, scramble);
        case AuthPlugin::kUnsupported:
            break;
    }
    return std::nullopt;
}

}  // namespace tcpcopy::protocol::mysql
