// The connection-phase messages: greetings of MySQL 8 and MariaDB parsed and rebuilt byte for
// byte, handshake responses with every optional field, SSLRequest, AuthSwitchRequest and
// COM_CHANGE_USER, and truncated variants.

#include "tcpcopy/protocol/mysql_handshake.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace tcpcopy::protocol::mysql::testing {
namespace {

// MySQL 8.0.33: caching_sha2_password, CLIENT_LONG_PASSWORD set (no MariaDB extensions).
const Bytes kMysqlGreeting = concat({
    bytesOf({0x0a}),
    toBytes(std::string_view("8.0.33\0", 7)),
    bytesOf({0x0b, 0x00, 0x00, 0x00}),
    bytesOf({0x3a, 0x5f, 0x1c, 0x4d, 0x2e, 0x16, 0x69, 0x0e}),  // scramble, first 8 bytes
    bytesOf({0x00, 0xff, 0xff, 0xff, 0x02, 0x00, 0xff, 0xdf, 0x15}),
    bytesOf({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
    bytesOf({0x5c, 0x3f, 0x25, 0x28, 0x1f, 0x72, 0x19, 0x3a, 0x2d, 0x68, 0x0a, 0x0c, 0x00}),  // last 12 + NUL
    toBytes(std::string_view("caching_sha2_password\0", 22)),
});

// MariaDB 10.11: CLIENT_MYSQL clear, extended capabilities 0x1d in the last reserved bytes.
const Bytes kMariaDbGreeting = concat({
    bytesOf({0x0a}),
    toBytes(std::string_view("5.5.5-10.11.6-MariaDB-0+deb12u1\0", 32)),
    bytesOf({0x05, 0x00, 0x00, 0x00}),
    toBytes("P2?m|ky["),
    bytesOf({0x00, 0xfe, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0x81, 0x15}),
    bytesOf({0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0}),
    toBytes(std::string_view("Ml-Qf8y.7rD,\0", 13)),
    toBytes(std::string_view("mysql_native_password\0", 22)),
});

TEST(MysqlGreeting, ParsesMysql8AndRebuildsItByteForByte) {
    const auto g = parseGreeting(kMysqlGreeting);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->serverVersion, "8.0.33");
    EXPECT_EQ(g->connectionId, 11u);
    EXPECT_EQ(g->scramble.size(), 20u);
    EXPECT_EQ(g->scramble[8], std::byte{0x5c});
    EXPECT_EQ(g->scramble[19], std::byte{0x0c});
    EXPECT_EQ(g->capabilities, 0xdfffffffu);
    EXPECT_EQ(g->authPlugin, "caching_sha2_password");
    EXPECT_EQ(buildGreeting(*g), kMysqlGreeting);
}

TEST(MysqlGreeting, ParsesMariaDbExtendedCapabilitiesAndRebuildsIt) {
    const auto g = parseGreeting(kMariaDbGreeting);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->serverVersion, "5.5.5-10.11.6-MariaDB-0+deb12u1");
    EXPECT_EQ(toString(g->scramble), "P2?m|ky[Ml-Qf8y.7rD,");
    EXPECT_EQ(g->capabilities >> 32, 0x1du);
    EXPECT_TRUE(g->capabilities & cap::kMariaDbCacheMetadata);
    EXPECT_FALSE(g->capabilities & cap::kLongPassword);
    EXPECT_TRUE(g->capabilities & cap::kPluginAuth);
    EXPECT_EQ(g->authPlugin, "mysql_native_password");
    EXPECT_EQ(buildGreeting(*g), kMariaDbGreeting);
}

TEST(MysqlGreeting, RoundTripsWithoutPluginAuthAndWithShortScrambles) {
    // Found by fuzz_mysql: the auth data length counts only with CLIENT_PLUGIN_AUTH, and a short
    // scramble's NUL padding is not part of it.
    Greeting g = *parseGreeting(kMysqlGreeting);
    g.capabilities &= ~cap::kPluginAuth;
    g.authPlugin.clear();
    for (const std::string_view scramble : {"0123456789abcdefghij", "01234567abcde"}) {
        g.scramble = toBytes(scramble);
        const Bytes wire = buildGreeting(g);
        const auto parsed = parseGreeting(wire);
        ASSERT_TRUE(parsed);
        EXPECT_EQ(toString(parsed->scramble), scramble);
        EXPECT_EQ(buildGreeting(*parsed), wire);
    }
}

TEST(MysqlGreeting, RejectsOtherProtocolsAndTruncation) {
    Bytes v9 = kMysqlGreeting;
    v9[0] = std::byte{9};
    EXPECT_FALSE(parseGreeting(v9));
    for (std::size_t n = 0; n < 20; ++n) {
        EXPECT_FALSE(parseGreeting(ByteView(kMysqlGreeting).first(n))) << n;
    }
    for (std::size_t n = 0; n <= kMysqlGreeting.size(); ++n) {
        parseGreeting(ByteView(kMysqlGreeting).first(n));  // no prefix reads past its end (ASan)
    }
}

HandshakeResponse fullResponse() {
    HandshakeResponse h;
    h.capabilities = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth | cap::kConnectWithDb |
                     cap::kConnectAttrs | cap::kPluginAuthLenencData | cap::kDeprecateEof;
    h.maxPacketSize = 16777216;
    h.charset = 45;
    h.user = "app";
    h.authResponse = bytesOf({0x00, 0x01, 0xfe, 0xff, 0x20});
    h.database = "shop";
    h.authPlugin = "mysql_native_password";
    h.attributes = concat({bytesOf({4}), toBytes("_pid"), bytesOf({3}), toBytes("123")});
    return h;
}

TEST(MysqlHandshakeResponse, RoundTripsEveryOptionalField) {
    const HandshakeResponse h = fullResponse();
    const Bytes wire = buildHandshakeResponse(h);
    const auto parsed = parseHandshakeResponse(wire);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->capabilities, h.capabilities);
    EXPECT_EQ(parsed->maxPacketSize, h.maxPacketSize);
    EXPECT_EQ(parsed->charset, 45);
    EXPECT_EQ(parsed->user, "app");
    EXPECT_EQ(parsed->authResponse, h.authResponse);
    EXPECT_EQ(parsed->database, "shop");
    EXPECT_EQ(parsed->authPlugin, "mysql_native_password");
    EXPECT_EQ(parsed->attributes, h.attributes);
    EXPECT_FALSE(parsed->sslRequest);
    EXPECT_EQ(buildHandshakeResponse(*parsed), wire);
}

TEST(MysqlHandshakeResponse, ReadsTheOneByteAuthLengthWithoutLenencAndMariaDbCapabilities) {
    HandshakeResponse h = fullResponse();
    h.capabilities &= ~(cap::kPluginAuthLenencData | cap::kConnectWithDb);
    h.capabilities |= cap::kMariaDbCacheMetadata;  // CLIENT_MYSQL clear: a MariaDB client
    h.database.reset();
    const Bytes wire = buildHandshakeResponse(h);
    EXPECT_EQ(wire[28], std::byte{0x10});  // extended capabilities in the filler's last 4 bytes
    const auto parsed = parseHandshakeResponse(wire);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->capabilities, h.capabilities);
    EXPECT_EQ(parsed->authResponse, h.authResponse);
    EXPECT_FALSE(parsed->database);
    EXPECT_EQ(buildHandshakeResponse(*parsed), wire);
}

TEST(MysqlHandshakeResponse, RecognisesSslRequestAndRejectsPre41) {
    HandshakeResponse ssl;
    ssl.capabilities = cap::kProtocol41 | cap::kSsl | cap::kSecureConnection;
    ssl.sslRequest = true;
    const Bytes wire = buildHandshakeResponse(ssl);
    EXPECT_EQ(wire.size(), 32u);
    const auto parsed = parseHandshakeResponse(wire);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->sslRequest);

    Bytes old = buildHandshakeResponse(fullResponse());
    old[1] &= std::byte{0xFD};  // clear CLIENT_PROTOCOL_41 (bit 9)
    EXPECT_FALSE(parseHandshakeResponse(old));
}

TEST(MysqlHandshakeResponse, TruncatedResponsesFail) {
    const Bytes wire = buildHandshakeResponse(fullResponse());
    for (std::size_t n = 0; n < 38; ++n) {  // up to the end of the user and the auth length
        EXPECT_FALSE(parseHandshakeResponse(ByteView(wire).first(n))) << n;
    }
    for (std::size_t n = 0; n <= wire.size(); ++n) {
        parseHandshakeResponse(ByteView(wire).first(n));
    }
}

TEST(MysqlAuthSwitch, ParsesPluginAndScrambleAndRejectsOldPasswordRequest) {
    const Bytes wire =
        buildAuthSwitchRequest({"client_ed25519", toBytes("0123456789abcdefghijABCDEFGHIJ01")});
    const auto s = parseAuthSwitchRequest(wire);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->plugin, "client_ed25519");
    EXPECT_EQ(toString(s->data), "0123456789abcdefghijABCDEFGHIJ01");
    EXPECT_FALSE(parseAuthSwitchRequest(bytesOf({0xfe})));
    EXPECT_FALSE(parseAuthSwitchRequest(bytesOf({0x00, 0x00})));
}

TEST(MysqlChangeUser, RoundTripsWithAndWithoutOptionalFields) {
    const std::uint64_t caps =
        cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth | cap::kConnectAttrs;
    ChangeUser c;
    c.user = "report";
    c.authResponse = bytesOf({1, 0, 2});
    c.database = "sales";
    c.charset = 33;
    c.authPlugin = "mysql_native_password";
    c.attributes = concat({bytesOf({1}), toBytes("k"), bytesOf({1}), toBytes("v")});
    const Bytes wire = buildChangeUser(c, caps);
    const auto parsed = parseChangeUser(wire, caps);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->user, "report");
    EXPECT_EQ(parsed->authResponse, c.authResponse);
    EXPECT_EQ(parsed->database, "sales");
    EXPECT_EQ(parsed->charset, 33);
    EXPECT_EQ(parsed->authPlugin, "mysql_native_password");
    EXPECT_EQ(parsed->attributes, c.attributes);
    EXPECT_EQ(buildChangeUser(*parsed, caps), wire);

    ChangeUser bare{"u", {}, "", std::nullopt, std::nullopt, std::nullopt};
    const Bytes bareWire = buildChangeUser(bare, caps);
    const auto bareParsed = parseChangeUser(bareWire, caps);
    ASSERT_TRUE(bareParsed);
    EXPECT_FALSE(bareParsed->charset);
    EXPECT_EQ(buildChangeUser(*bareParsed, caps), bareWire);
    EXPECT_FALSE(parseChangeUser(ByteView(wire).first(4), caps));
}

}  // namespace
}  // namespace tcpcopy::protocol::mysql::testing
