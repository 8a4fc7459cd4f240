#include "tcpcopy/protocol/mysql_handshake.h"

#include <algorithm>

namespace tcpcopy::protocol::mysql {
namespace {

ByteView dropTrailingNul(ByteView data) {
    if (!data.empty() && data.back() == std::byte{0}) {
        return data.first(data.size() - 1);
    }
    return data;
}

// A NUL-terminated string that some servers and clients leave unterminated at the packet's end.
ByteView nulOrRest(Reader& r) {
    Reader probe = r;
    const ByteView terminated = probe.nulTerminated();
    if (!probe.failed()) {
        r = probe;
        return terminated;
    }
    return r.rest();
}

}  // namespace

std::optional<Greeting> parseGreeting(ByteView payload) {
    Reader r(payload);
    Greeting g;
    g.protocolVersion = r.u8();
    if (r.failed() || g.protocolVersion != 10) {
        return std::nullopt;
    }
    g.serverVersion = toString(r.nulTerminated());
    g.connectionId = r.u32();
    const ByteView part1 = r.fixed(8);
    r.u8();  // filler
    g.capabilities = r.u16();
    if (r.failed()) {
        return std::nullopt;
    }
    g.scramble.assign(part1.begin(), part1.end());
    if (r.remaining() == 0) {
        return g;
    }
    g.charset = r.u8();
    g.status = r.u16();
    g.capabilities |= static_cast<std::uint64_t>(r.u16()) << 16;
    const std::uint8_t authDataLength = r.u8();
    r.fixed(6);
    const std::uint32_t mariaDbCaps = r.u32();
    if (r.failed()) {
        return std::nullopt;
    }
    if ((g.capabilities & cap::kLongPassword) == 0) {  // MariaDB announces its extensions so
        g.capabilities |= static_cast<std::uint64_t>(mariaDbCaps) << 32;
    }
    if (g.capabilities & cap::kSecureConnection) {
        // The auth data length counts only with CLIENT_PLUGIN_AUTH; servers send 12 bytes + NUL.
        // Scrambles hold no NUL (servers draw them from printable bytes): the first one ends it.
        const std::size_t announced =
            (g.capabilities & cap::kPluginAuth) && authDataLength > 8 ? authDataLength - 8u : 0u;
        const ByteView part2 = r.fixed(std::min(std::max<std::size_t>(13, announced), r.remaining()));
        const ByteView kept = part2.first(
            static_cast<std::size_t>(std::find(part2.begin(), part2.end(), std::byte{0}) - part2.begin()));
        g.scramble.insert(g.scramble.end(), kept.begin(), kept.end());
    }
    if (g.capabilities & cap::kPluginAuth) {
        g.authPlugin = toString(nulOrRest(r));
    }
    if (r.failed()) {
        return std::nullopt;
    }
    return g;
}

Bytes buildGreeting(const Greeting& g) {
    Bytes out;
    putU8(out, g.protocolVersion);
    putNulTerminated(out, toBytes(g.serverVersion));
    putU32(out, g.connectionId);
    const ByteView scramble(g.scramble);
    const std::size_t part1 = std::min<std::size_t>(8, scramble.size());
    putBytes(out, scramble.first(part1));
    out.resize(out.size() + (8 - part1));
    putU8(out, 0);
    putU16(out, static_cast<std::uint16_t>(g.capabilities));
    putU8(out, g.charset);
    putU16(out, g.status);
    putU16(out, static_cast<std::uint16_t>(g.capabilities >> 16));
    putU8(out, (g.capabilities & cap::kPluginAuth) ? static_cast<std::uint8_t>(scramble.size() + 1) : 0);
    out.resize(out.size() + 6);
    putU32(out, static_cast<std::uint32_t>(g.capabilities >> 32));
    if (g.capabilities & cap::kSecureConnection) {
        const ByteView part2 = scramble.subspan(part1);
        putNulTerminated(out, part2);
        if (part2.size() < 12) {
            out.resize(out.size() + (12 - part2.size()));
        }
    }
    if (g.capabilities & cap::kPluginAuth) {
        putNulTerminated(out, toBytes(g.authPlugin));
    }
    return out;
}

std::optional<HandshakeResponse> parseHandshakeResponse(ByteView payload) {
    Reader r(payload);
    HandshakeResponse h;
    h.capabilities = r.u32();
    if (r.failed() || (h.capabilities & cap::kProtocol41) == 0) {
        return std::nullopt;
    }
    h.maxPacketSize = r.u32();
    h.charset = r.u8();
    const ByteView filler = r.fixed(19);
    const std::uint32_t mariaDbCaps = r.u32();
    if (r.failed()) {
        return std::nullopt;
    }
    h.filler.assign(filler.begin(), filler.end());
    if ((h.capabilities & cap::kLongPassword) == 0) {
        h.capabilities |= static_cast<std::uint64_t>(mariaDbCaps) << 32;
    } else if (mariaDbCaps != 0) {
        return std::nullopt;  // reserved bytes a MySQL client must leave zero
    }
    if ((h.capabilities & cap::kSsl) && r.remaining() == 0) {
        h.sslRequest = true;
        return h;
    }
    h.user = toString(r.nulTerminated());
    ByteView auth;
    if (h.capabilities & cap::kPluginAuthLenencData) {
        auth = r.lenencBytes();
    } else if (h.capabilities & cap::kSecureConnection) {
        auth = r.fixed(r.u8());
    } else {
        auth = r.nulTerminated();
    }
    h.authResponse.assign(auth.begin(), auth.end());
    if ((h.capabilities & cap::kConnectWithDb) && r.remaining() > 0) {
        h.database = toString(r.nulTerminated());
    }
    if ((h.capabilities & cap::kPluginAuth) && r.remaining() > 0) {
        h.authPlugin = toString(nulOrRest(r));
    }
    if ((h.capabilities & cap::kConnectAttrs) && r.remaining() > 0) {
        const ByteView attrs = r.lenencBytes();
        h.attributes = Bytes(attrs.begin(), attrs.end());
    }
    const ByteView trailing = r.rest();
    h.trailing.assign(trailing.begin(), trailing.end());
    if (r.failed()) {
        return std::nullopt;
    }
    return h;
}

Bytes buildHandshakeResponse(const HandshakeResponse& h) {
    Bytes out;
    putU32(out, static_cast<std::uint32_t>(h.capabilities));
    putU32(out, h.maxPacketSize);
    putU8(out, h.charset);
    Bytes filler = h.filler;
    filler.resize(19);
    putBytes(out, filler);
    putU32(out, static_cast<std::uint32_t>(h.capabilities >> 32));
    if (h.sslRequest) {
        return out;
    }
    putNulTerminated(out, toBytes(h.user));
    if (h.capabilities & cap::kPluginAuthLenencData) {
        putLenencBytes(out, h.authResponse);
    } else if (h.capabilities & cap::kSecureConnection) {
        putU8(out, static_cast<std::uint8_t>(std::min<std::size_t>(h.authResponse.size(), 255)));
        putBytes(out, ByteView(h.authResponse).first(std::min<std::size_t>(h.authResponse.size(), 255)));
    } else {
        putNulTerminated(out, h.authResponse);
    }
    if (h.database) {
        putNulTerminated(out, toBytes(*h.database));
    }
    if (h.authPlugin) {
        putNulTerminated(out, toBytes(*h.authPlugin));
    }
    if (h.attributes) {
        putLenencBytes(out, *h.attributes);
    }
    putBytes(out, h.trailing);
    return out;
}

std::optional<AuthSwitchRequest> parseAuthSwitchRequest(ByteView payload) {
    Reader r(payload);
    if (r.u8() != 0xFE || r.remaining() == 0) {
        return std::nullopt;  // a lone 0xFE is the pre-4.1 "old password" request
    }
    AuthSwitchRequest s;
    s.plugin = toString(r.nulTerminated());
    const ByteView data = dropTrailingNul(r.rest());
    if (r.failed()) {
        return std::nullopt;
    }
    s.data.assign(data.begin(), data.end());
    return s;
}

Bytes buildAuthSwitchRequest(const AuthSwitchRequest& s) {
    Bytes out;
    putU8(out, 0xFE);
    putNulTerminated(out, toBytes(s.plugin));
    putNulTerminated(out, s.data);
    return out;
}

std::optional<ChangeUser> parseChangeUser(ByteView payload, std::uint64_t capabilities) {
    Reader r(payload);
    if (r.u8() != kComChangeUser) {
        return std::nullopt;
    }
    ChangeUser c;
    c.user = toString(r.nulTerminated());
    const ByteView auth = (capabilities & cap::kSecureConnection) ? r.fixed(r.u8()) : r.nulTerminated();
    c.authResponse.assign(auth.begin(), auth.end());
    c.database = toString(r.nulTerminated());
    if (r.remaining() >= 2) {
        c.charset = r.u16();
        if ((capabilities & cap::kPluginAuth) && r.remaining() > 0) {
            c.authPlugin = toString(nulOrRest(r));
        }
        if ((capabilities & cap::kConnectAttrs) && r.remaining() > 0) {
            const ByteView attrs = r.lenencBytes();
            c.attributes = Bytes(attrs.begin(), attrs.end());
        }
    }
    if (r.failed() || r.remaining() != 0) {
        return std::nullopt;
    }
    return c;
}

Bytes buildChangeUser(const ChangeUser& c, std::uint64_t capabilities) {
    Bytes out;
    putU8(out, kComChangeUser);
    putNulTerminated(out, toBytes(c.user));
    if (capabilities & cap::kSecureConnection) {
        const std::size_t n = std::min<std::size_t>(c.authResponse.size(), 255);
        putU8(out, static_cast<std::uint8_t>(n));
        putBytes(out, ByteView(c.authResponse).first(n));
    } else {
        putNulTerminated(out, c.authResponse);
    }
    putNulTerminated(out, toBytes(c.database));
    if (c.charset) {
        putU16(out, *c.charset);
        if (c.authPlugin) {
            putNulTerminated(out, toBytes(*c.authPlugin));
        }
        if (c.attributes) {
            putLenencBytes(out, *c.attributes);
        }
    }
    return out;
}

}  // namespace tcpcopy::protocol::mysql
