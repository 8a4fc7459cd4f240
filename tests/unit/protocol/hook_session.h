#pragma once

// Builders for the packets of a MySQL session and a Session that drives a MysqlHook and collects
// what it sends to the target.

#include <memory>
#include <string>

#include "helpers.h"
#include "tcpcopy/protocol/mysql_hook.h"

namespace tcpcopy::protocol::mysql::testing {

using namespace std::string_view_literals;

inline const Bytes kOnlineScramble = toBytes("online-scramble-0123");
inline const Bytes kTargetScramble = toBytes("TARGET-scramble-4567");
constexpr std::uint64_t kServerCaps = 0xdfffffff;
constexpr std::uint64_t kClientCaps = cap::kLongPassword | cap::kProtocol41 | cap::kSecureConnection |
                                      cap::kPluginAuth | cap::kConnectWithDb | cap::kConnectAttrs |
                                      cap::kPluginAuthLenencData;

inline Bytes greeting(const Bytes& scramble, std::string plugin = "mysql_native_password",
                      std::uint64_t caps = kServerCaps) {
    Greeting g;
    g.serverVersion = "8.0.33";
    g.scramble = scramble;
    g.capabilities = caps;
    g.authPlugin = std::move(plugin);
    return packet(0, buildGreeting(g));
}

inline Bytes ok(std::uint8_t seq, std::uint16_t status = 0x0002) {
    Bytes p = bytesOf({0x00, 0x00, 0x00});
    putU16(p, status);
    putU16(p, 0);
    return packet(seq, p);
}

inline Bytes eof(std::uint8_t seq, std::uint16_t status = 0x0002) {
    Bytes p = bytesOf({0xfe, 0x00, 0x00});
    putU16(p, status);
    return packet(seq, p);
}

inline Bytes columnDef(std::uint8_t seq) {
    return packet(seq, toBytes("\x03"
                               "def"
                               "\x01"
                               "c"));
}

// PREPARE_OK for `id` with one parameter and two columns, their definitions and EOFs.
inline Bytes prepareOk(std::uint32_t id) {
    Bytes p = bytesOf({0x00});
    putU32(p, id);
    putU16(p, 2);  // columns
    putU16(p, 1);  // parameters
    putU8(p, 0);
    putU16(p, 0);
    return concat({packet(1, p), columnDef(2), eof(3), columnDef(4), columnDef(5), eof(6)});
}

// A text result set of `rows` rows (sequence ids wrap past 255 like a server's).
inline Bytes resultSet(int rows) {
    Bytes out = concat({packet(1, bytesOf({0x01})), columnDef(2), eof(3)});
    std::uint8_t seq = 4;
    for (int i = 0; i < rows; ++i) {
        putBytes(out, packet(seq++, toBytes("\x01"
                                            "x")));
    }
    putBytes(out, eof(seq));
    return out;
}

inline Bytes command(std::uint8_t com, std::string_view body = {}) {
    Bytes p = bytesOf({com});
    putBytes(p, toBytes(body));
    return packet(0, p);
}

inline Bytes statementCommand(std::uint8_t com, std::uint32_t id, std::string_view tail = {}) {
    Bytes p = bytesOf({com});
    putU32(p, id);
    putBytes(p, toBytes(tail));
    return packet(0, p);
}

inline HandshakeResponse clientResponse(std::string user = "app", std::uint64_t caps = kClientCaps) {
    HandshakeResponse h;
    h.capabilities = caps;
    h.maxPacketSize = 1 << 24;
    h.charset = 45;
    h.user = std::move(user);
    h.authResponse = nativePasswordResponse("s3cret", kOnlineScramble);
    h.database = "shop";
    h.authPlugin = "mysql_native_password";
    h.attributes = concat({bytesOf({4}), toBytes("_pid"), bytesOf({2}), toBytes("42")});
    return h;
}

inline Bytes handshake(const HandshakeResponse& h = clientResponse()) {
    return packet(1, buildHandshakeResponse(h));
}

inline std::vector<Packet> packetsOf(ByteView bytes) {
    PacketAssembler assembler;
    assembler.feed(bytes);
    std::vector<Packet> out;
    while (auto p = assembler.next()) {
        out.push_back(std::move(*p));
    }
    EXPECT_EQ(assembler.buffered(), 0u);
    return out;
}

struct Session {
    explicit Session(std::shared_ptr<const Credentials> credentials = makeCredentials(),
                     MysqlHookContext context = {})
        : hook(std::move(credentials), std::move(context)) {}
    static std::shared_ptr<const Credentials> makeCredentials() {
        auto parsed = Credentials::parse("app s3cret\nreport r3port\n", "test");
        auto credentials = std::make_shared<Credentials>();
        *credentials = parsed.value();
        return credentials;
    }
    // Everything the hook sent to the target, in order.
    void client(ByteView bytes) { putBytes(sent, hook.rewriteClient(bytes).send); }
    void target(ByteView bytes) { putBytes(sent, hook.onTargetBytes(bytes)); }
    void online(ByteView bytes) { putBytes(sent, hook.onCapturedServerBytes(bytes)); }
    // The packets sent since the last call.
    std::vector<Packet> take() {
        auto packets = packetsOf(sent);
        sent.clear();
        return packets;
    }
    // A login where neither side switches plugins; nothing sent is left to take().
    void login() {
        online(greeting(kOnlineScramble));
        client(handshake());
        target(greeting(kTargetScramble));
        online(ok(2));
        target(ok(2));
        ASSERT_EQ(take().size(), 1u);
    }

    MysqlHook hook;
    Bytes sent;
};

inline Bytes payloadOf(const Bytes& wire) { return Bytes(wire.begin() + kHeaderSize, wire.end()); }

}  // namespace tcpcopy::protocol::mysql::testing
