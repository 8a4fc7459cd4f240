#pragma once

// MySQL sessions captured mid-stream (docs/protocols.md, "Sessions captured mid-stream"): their
// login is not in the capture, so the hook logs in afresh, for a user and schema taken from the
// last login the replay saw from the same client address, or else from --mysql-midstream-login.
// This header holds what the hooks of a rule share for that: the login to use and the memory of
// the logins seen, and the check that finds where a command starts in a cut client stream.

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tcpcopy/protocol/mysql_packet.h"

namespace tcpcopy::protocol::mysql {

// utf8mb4_general_ci: the character set of a fresh login unless the client's own is known.
inline constexpr std::uint8_t kUtf8mb4GeneralCi = 45;

// Who a fresh login logs in as. `capabilities` and `charset` are the captured client's when the
// login was learned from one of its sessions; the hook's own choice otherwise.
struct MidstreamLogin {
    std::string user;
    std::optional<std::string> schema;
    std::optional<std::uint64_t> capabilities;
    std::optional<std::uint8_t> charset;
};

// "USER" or "USER/SCHEMA" (--mysql-midstream-login); the reason when the text is not one.
struct ParsedMidstreamLogin {
    std::optional<MidstreamLogin> login;
    std::string error;
};
ParsedMidstreamLogin parseMidstreamLogin(std::string_view text);

// The capabilities a fresh login asks for when no captured login of the client says otherwise
// (docs/protocols.md lists them and why): protocol 4.1, secure connection, plugin auth with
// length-encoded data, transactions, multi statements and results, LOCAL INFILE, long column
// flags; not CLIENT_DEPRECATE_EOF (the hook reads either form), TLS, compression or attributes.
std::uint64_t midstreamCapabilities(bool withSchema);
// A learned client's capabilities made fit for a login the hook writes: TLS, compression and
// connection attributes off (the hook sends none), the auth flags the hook needs on, connect-with-db
// as `withSchema` says.
std::uint64_t adaptCapabilities(std::uint64_t captured, bool withSchema);

// The logins a rule's hooks have seen, by captured client address (no port), the most recent
// kept. Bounded: beyond `capacity` addresses the one whose login is oldest is forgotten. Not
// thread-safe: one engine thread drives every hook of a rule.
class LoginMemory {
  public:
    static constexpr std::size_t kDefaultCapacity = 65536;
    explicit LoginMemory(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

    void remember(const std::string& client, MidstreamLogin login);
    // The last login seen from `client`, or null.
    const MidstreamLogin* find(const std::string& client) const;
    std::size_t size() const { return index_.size(); }

  private:
    using Entry = std::pair<std::string, MidstreamLogin>;
    std::size_t capacity_;
    std::list<Entry> order_;  // oldest login first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

// What a cut client stream holds at `offset`: the start of a command packet (a 4-byte header with
// sequence id 0, a command byte the hook knows and a length that command can have, followed by
// the next command's header if more bytes are there), not one, or too few bytes to tell.
enum class CommandStart : std::uint8_t { kYes, kNo, kNeedMore };
CommandStart commandStartAt(ByteView stream, std::size_t offset);

// Finds the first command of a client stream cut anywhere, fed in pieces of any size. The first
// offset where a whole command starts wins (strong evidence); offsets that may start one once
// more bytes come keep the bytes from the earliest of them. Each byte is looked at once, plus a
// bounded number of waiting candidates.
class CommandFinder {
  public:
    // The stream from the first command on, once found (the finder is then done).
    std::optional<Bytes> feed(ByteView bytes);
    std::uint64_t skipped() const { return skipped_; }
    std::size_t buffered() const { return buffer_.size(); }

  private:
    static constexpr std::size_t kMaxCandidates = 16;
    Bytes buffer_;
    std::size_t scan_ = 0;              // offsets before it were looked at
    std::vector<std::size_t> waiting_;  // candidates that need more bytes, in order
    std::uint64_t skipped_ = 0;
};

}  // namespace tcpcopy::protocol::mysql
