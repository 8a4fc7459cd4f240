// Drives a MysqlHook against a real MySQL/MariaDB server (tests/e2e/mysql_hook_test.sh): a
// captured session made up here (its login answers an "online" scramble the target never sent,
// its COM_STMT_EXECUTE names statement id 77, which the target never issued) is rewritten by the
// hook and sent to the target over TCP; the target's bytes go back to the hook.
//
//   mysql_hook_probe CREDENTIALS USER HOST PORT     replay; exit 0 when the target answered every
//                                                   command without an error
//   mysql_hook_probe --ed25519-key PASSWORD         print MariaDB's stored key (base64)
//
// Prints one line per fact: "refused: REASON: DETAIL", "login: ok" (a command was answered),
// "query: ok", "execute: 42" (the binary row of SELECT 41 + 1), "stats: ...".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tcpcopy/protocol/mysql_hook.h"

namespace {

using namespace tcpcopy::protocol;
using namespace tcpcopy::protocol::mysql;

const Bytes kOnlineScramble = toBytes("online-scramble-0123");
constexpr std::uint32_t kCapturedStatementId = 77;

Bytes packet(std::uint8_t seq, const Bytes& payload) {
    Bytes out;
    appendHeader(out, payload.size(), seq);
    putBytes(out, payload);
    return out;
}

Bytes eof(std::uint8_t seq) { return packet(seq, Bytes{std::byte{0xfe}, {}, {}, std::byte{2}, {}}); }

Bytes column(std::uint8_t seq) {
    return packet(seq, toBytes("\x03"
                               "def"
                               "\x01"
                               "c"));
}

// The captured client: login, a query, prepare, execute(77, 41), close(77), quit.
Bytes capturedClient(const std::string& user) {
    HandshakeResponse h;
    h.capabilities = cap::kLongPassword | 0x4 | cap::kProtocol41 | 0x2000 | cap::kSecureConnection |
                     (1u << 17) | (1u << 18) | cap::kPluginAuth | cap::kPluginAuthLenencData |
                     cap::kConnectAttrs;
    h.maxPacketSize = 1 << 24;
    h.charset = 45;
    h.user = user;
    h.authResponse = nativePasswordResponse("the online password, unused", kOnlineScramble);
    h.authPlugin = "mysql_native_password";
    h.attributes = Bytes{std::byte{4}};
    putBytes(*h.attributes, toBytes("_pid"));
    putU8(*h.attributes, 2);
    putBytes(*h.attributes, toBytes("42"));
    Bytes out = packet(1, buildHandshakeResponse(h));
    putBytes(out, packet(0, toBytes("\x03SELECT 'probe-" + user + "'")));
    putBytes(out, packet(0, toBytes("\x16SELECT ? + 1")));
    Bytes execute{std::byte{0x17}};
    putU32(execute, kCapturedStatementId);
    putU8(execute, 0);   // no cursor
    putU32(execute, 1);  // iteration count
    putU8(execute, 0);   // null bitmap
    putU8(execute, 1);   // types follow
    putU16(execute, 0x08);
    putU32(execute, 41);
    putU32(execute, 0);
    putBytes(out, packet(0, execute));
    Bytes close{std::byte{0x19}};
    putU32(close, kCapturedStatementId);
    putBytes(out, packet(0, close));
    putBytes(out, packet(0, Bytes{std::byte{0x01}}));
    return out;
}

// What the online server answered in that capture.
Bytes capturedServer() {
    Greeting g;
    g.serverVersion = "5.5.5-10.11.6-MariaDB";
    g.scramble = kOnlineScramble;
    g.capabilities = 0xf7fe | (std::uint64_t{0x81bf} << 16);
    g.charset = 45;
    g.status = 2;
    g.authPlugin = "mysql_native_password";
    Bytes out = packet(0, buildGreeting(g));
    const Bytes ok{std::byte{0}, {}, {}, std::byte{2}, {}, {}, {}};
    putBytes(out, packet(2, ok));
    putBytes(out, packet(1, Bytes{std::byte{1}}));  // the query's result set
    putBytes(out, column(2));
    putBytes(out, eof(3));
    putBytes(out, packet(4, toBytes("\x07online!")));
    putBytes(out, eof(5));
    Bytes prepareOk{std::byte{0}};  // id 77, one column, one parameter
    putU32(prepareOk, kCapturedStatementId);
    putU16(prepareOk, 1);
    putU16(prepareOk, 1);
    putU8(prepareOk, 0);
    putU16(prepareOk, 0);
    putBytes(out, packet(1, prepareOk));
    putBytes(out, column(2));
    putBytes(out, eof(3));
    putBytes(out, column(4));
    putBytes(out, eof(5));
    putBytes(out, packet(1, Bytes{std::byte{1}}));  // the execute's binary result set
    putBytes(out, column(2));
    putBytes(out, eof(3));
    Bytes row(2);
    putU32(row, 42);
    putU32(row, 0);
    putBytes(out, packet(4, row));
    putBytes(out, eof(5));
    return out;
}

bool sendAll(int fd, const Bytes& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

int printKey(const std::string& password) {
    const Bytes key = ed25519PublicKey(password);
    unsigned char text[64] = {};
    const int n = EVP_EncodeBlock(text, reinterpret_cast<const unsigned char*>(key.data()), 32);
    std::printf("%.*s\n", n > 0 && text[n - 1] == '=' ? n - 1 : n, text);  // MariaDB drops the padding
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--ed25519-key") {
        return printKey(argv[2]);
    }
    if (argc != 5) {
        std::fprintf(stderr, "usage: mysql_hook_probe CREDENTIALS USER HOST PORT | --ed25519-key PASSWORD\n");
        return 2;
    }
    auto loaded = Credentials::load(argv[1]);
    if (!loaded) {
        std::fprintf(stderr, "mysql_hook_probe: %s\n", loaded.error().c_str());
        return 2;
    }
    auto credentials = std::make_shared<Credentials>();
    *credentials = loaded.value();
    MysqlHook hook(credentials);

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(argv[4])));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::inet_pton(AF_INET, argv[3], &addr.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::fprintf(stderr, "mysql_hook_probe: cannot connect to %s:%s: %s\n", argv[3], argv[4],
                     std::strerror(errno));
        return 2;
    }
    bool ok = sendAll(fd, hook.rewriteClient(capturedClient(argv[2])).send) &&
              sendAll(fd, hook.onCapturedServerBytes(capturedServer()));
    PacketAssembler answers;
    bool queryOk = false, executeOk = false, errors = false;
    const std::string marker = "probe-" + std::string(argv[2]);
    while (ok && !hook.refusal()) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20000) != 1) {
            std::printf("target silent for 20 s\n");
            ok = false;
            break;
        }
        std::byte buffer[65536];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            break;  // the target closed: COM_QUIT (or a refusal)
        }
        const ByteView bytes(buffer, static_cast<std::size_t>(n));
        answers.feed(bytes);
        while (auto a = answers.next()) {
            const std::string text = toString(a->payload);
            errors |= !a->payload.empty() && a->payload[0] == std::byte{0xff};
            queryOk |= text.find(marker) != std::string::npos;
            executeOk |=
                a->payload.size() == 10 && a->payload[0] == std::byte{0} && a->payload[2] == std::byte{42};
            if (errors) {
                std::printf("target error: %s\n", text.c_str() + std::min<std::size_t>(text.size(), 3));
            }
        }
        ok = sendAll(fd, hook.onTargetBytes(bytes));
    }
    ::close(fd);
    if (hook.refusal()) {
        std::printf("refused: %s: %s\n", std::string(hook.refusal()->reason).c_str(),
                    hook.refusal()->detail.c_str());
    }
    const MysqlHookStats& s = hook.stats();
    const bool loggedIn = !hook.refusal() && queryOk;  // a command was answered: the login passed
    std::printf("login: %s\nquery: %s\nexecute: %s\n", loggedIn ? "ok" : "no", queryOk ? "ok" : "no",
                executeOk ? "42" : "no");
    std::printf(
        "stats: logins=%llu auth_switches=%llu statements_mapped=%llu ids_rewritten=%llu unmapped=%llu\n",
        static_cast<unsigned long long>(s.loginsRewritten),
        static_cast<unsigned long long>(s.authSwitchesAnswered),
        static_cast<unsigned long long>(s.statementsMapped),
        static_cast<unsigned long long>(s.statementIdsRewritten),
        static_cast<unsigned long long>(s.unmappedStatementIds));
    return ok && !hook.refusal() && loggedIn && queryOk && executeOk && !errors ? 0 : 1;
}
