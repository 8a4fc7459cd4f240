// The client side of the auth plugins against vectors computed independently by
// auth_vectors.py (hashlib and a pure-Python Ed25519), anchored there on the servers' documented
// PASSWORD('secret') and ed25519_password('secret').

#include "tcpcopy/protocol/mysql_auth.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "helpers.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

#include "auth_vectors.inc"

TEST(MysqlAuth, NativePasswordMatchesIndependentVectors) {
    for (const AuthVector& v : kAuthVectors) {
        EXPECT_EQ(nativePasswordResponse(v.password, bytesOf(v.scramble)), bytesOf(v.native)) << v.password;
    }
}

TEST(MysqlAuth, CachingSha2FastPathMatchesIndependentVectors) {
    for (const AuthVector& v : kAuthVectors) {
        EXPECT_EQ(cachingSha2Response(v.password, bytesOf(v.scramble)), bytesOf(v.cachingSha2)) << v.password;
    }
}

TEST(MysqlAuth, Ed25519PublicKeyAndSignatureMatchIndependentVectors) {
    for (const AuthVector& v : kAuthVectors) {
        EXPECT_EQ(ed25519PublicKey(v.password), bytesOf(v.ed25519PublicKey)) << v.password;
        EXPECT_EQ(ed25519Response(v.password, bytesOf(v.scramble)), bytesOf(v.ed25519Signature))
            << v.password;
    }
}

TEST(MysqlAuth, Ed25519PublicKeyOfSecretIsMariaDbsDocumentedOne) {
    // base64 "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY" (MariaDB KB, ed25519_password('secret')).
    const Bytes expected = bytesOf({0x64, 0x88, 0x14, 0x44, 0x45, 0x20, 0xe4, 0xf5, 0x60, 0x43, 0xa2,
                                    0xec, 0x92, 0x15, 0xe6, 0x3b, 0xe7, 0x99, 0x2d, 0x2d, 0x27, 0x0b,
                                    0xc6, 0xde, 0xe8, 0x73, 0xe3, 0x61, 0x64, 0x78, 0x60, 0x96});
    EXPECT_EQ(ed25519PublicKey("secret"), expected);
}

TEST(MysqlAuth, ResponsesDependOnTheScramble) {
    const Bytes a = bytesOf({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
    Bytes b = a;
    b[19] = std::byte{21};
    EXPECT_NE(nativePasswordResponse("pw", a), nativePasswordResponse("pw", b));
    EXPECT_NE(cachingSha2Response("pw", a), cachingSha2Response("pw", b));
    EXPECT_NE(ed25519Response("pw", a), ed25519Response("pw", b));
}

TEST(MysqlAuth, ScrambleBeyondTwentyBytesIsIgnoredByPasswordPlugins) {
    const Bytes twenty = bytesOf({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
    Bytes withNul = twenty;
    withNul.push_back(std::byte{0});
    EXPECT_EQ(nativePasswordResponse("pw", twenty), nativePasswordResponse("pw", withNul));
    EXPECT_EQ(cachingSha2Response("pw", twenty), cachingSha2Response("pw", withNul));
}

TEST(MysqlAuth, PluginNames) {
    EXPECT_EQ(pluginFromName("mysql_native_password"), AuthPlugin::kNativePassword);
    EXPECT_EQ(pluginFromName("caching_sha2_password"), AuthPlugin::kCachingSha2);
    EXPECT_EQ(pluginFromName("client_ed25519"), AuthPlugin::kEd25519);
    EXPECT_EQ(pluginFromName("sha256_password"), AuthPlugin::kUnsupported);
    EXPECT_EQ(pluginFromName("auth_gssapi_client"), AuthPlugin::kUnsupported);
    EXPECT_FALSE(authResponse(AuthPlugin::kUnsupported, "pw", {}));
    EXPECT_EQ(pluginName(AuthPlugin::kEd25519), "client_ed25519");
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
