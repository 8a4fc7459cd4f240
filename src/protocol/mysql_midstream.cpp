// What the MySQL hooks of a rule share for sessions captured mid-stream (mysql_midstream.h).

#include "tcpcopy/protocol/mysql_midstream.h"

#include "tcpcopy/protocol/mysql_handshake.h"

namespace tcpcopy::protocol::mysql {
namespace {

// MariaDB's and MySQL's longest user name and schema name, in characters; a byte bound here.
constexpr std::size_t kMaxUserBytes = 80 * 4;
constexpr std::size_t kMaxSchemaBytes = 64 * 4;

bool printable(std::string_view text) {
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    return true;
}

// The payload lengths a command the hook knows can have (command byte included); false for a
// command byte it does not know. Exact where the command has a fixed layout.
bool plausibleCommand(std::uint8_t command, std::size_t length) {
    switch (command) {
        case 0x01:  // COM_QUIT
        case 0x09:  // COM_STATISTICS
        case 0x0A:  // COM_PROCESS_INFO
        case 0x0D:  // COM_DEBUG
        case 0x0E:  // COM_PING
        case 0x1F:  // COM_RESET_CONNECTION
            return length == 1;
        case 0x0C:  // COM_PROCESS_KILL: a 4-byte id
        case 0x19:  // COM_STMT_CLOSE
        case 0x1A:  // COM_STMT_RESET
            return length == 5;
        case 0x07:  // COM_REFRESH: one flag byte
            return length == 2;
        case 0x1B:  // COM_SET_OPTION: a 2-byte option
            return length == 3;
        case 0x1C:  // COM_STMT_FETCH: id, row count
            return length == 9;
        case 0x02:  // COM_INIT_DB
        case 0x03:  // COM_QUERY
        case 0x04:  // COM_FIELD_LIST
        case 0x16:  // COM_STMT_PREPARE
            return length >= 2;
        case 0x11:  // COM_CHANGE_USER: a user, an auth length, a schema
            return length >= 3;
        case 0x17:  // COM_STMT_EXECUTE: id, flags, iteration count
            return length >= 10;
        case 0x18:  // COM_STMT_SEND_LONG_DATA: id, parameter
        case 0xFA:  // MariaDB's COM_STMT_BULK_EXECUTE: id, flags
            return length >= 7;
        default:
            return false;
    }
}

struct Header {
    std::size_t length;
    std::uint8_t seq;
};

Header headerAt(ByteView stream, std::size_t offset) {
    Reader r(stream.subspan(offset, kHeaderSize));
    const std::uint32_t length = r.u24();
    return {length, r.u8()};
}

}  // namespace

ParsedMidstreamLogin parseMidstreamLogin(std::string_view text) {
    const std::size_t slash = text.find('/');
    const std::string_view user = text.substr(0, slash);
    MidstreamLogin login;
    login.user = std::string(user);
    if (user.empty()) return {std::nullopt, "expects USER[/SCHEMA], got '" + std::string(text) + "'"};
    if (user.size() > kMaxUserBytes || !printable(user))
        return {std::nullopt, "names an impossible user '" + std::string(user) + "'"};
    if (slash != std::string_view::npos) {
        const std::string_view schema = text.substr(slash + 1);
        if (schema.empty()) return {std::nullopt, "has an empty schema after '/' (give USER alone for none)"};
        if (schema.size() > kMaxSchemaBytes || !printable(schema))
            return {std::nullopt, "names an impossible schema '" + std::string(schema) + "'"};
        login.schema = std::string(schema);
    }
    return {std::move(login), {}};
}

std::uint64_t midstreamCapabilities(bool withSchema) {
    return cap::kLongPassword | cap::kLongFlag | cap::kLocalFiles | cap::kProtocol41 | cap::kTransactions |
           cap::kSecureConnection | cap::kMultiStatements | cap::kMultiResults | cap::kPsMultiResults |
           cap::kPluginAuth | cap::kPluginAuthLenencData | (withSchema ? cap::kConnectWithDb : 0);
}

std::uint64_t adaptCapabilities(std::uint64_t captured, bool withSchema) {
    std::uint64_t caps = captured & ~(cap::kSsl | cap::kCompress | cap::kZstdCompression |
                                      cap::kConnectAttrs | cap::kConnectWithDb);
    caps |= cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth;
    return withSchema ? caps | cap::kConnectWithDb : caps;
}

void LoginMemory::remember(const std::string& client, MidstreamLogin login) {
    if (capacity_ == 0) return;
    if (const auto it = index_.find(client); it != index_.end()) {
        it->second->second = std::move(login);
        order_.splice(order_.end(), order_, it->second);
        return;
    }
    if (index_.size() >= capacity_) {
        index_.erase(order_.front().first);
        order_.pop_front();
    }
    order_.emplace_back(client, std::move(login));
    index_.emplace(client, std::prev(order_.end()));
}

const MidstreamLogin* LoginMemory::find(const std::string& client) const {
    const auto it = index_.find(client);
    return it == index_.end() ? nullptr : &it->second->second;
}

CommandStart commandStartAt(ByteView stream, std::size_t offset) {
    if (stream.size() - offset < kHeaderSize + 1) return CommandStart::kNeedMore;
    const Header h = headerAt(stream, offset);
    const auto command = std::to_integer<std::uint8_t>(stream[offset + kHeaderSize]);
    if (h.seq != 0 || !plausibleCommand(command, h.length)) return CommandStart::kNo;
    const std::size_t end = offset + kHeaderSize + h.length;
    if (end > stream.size()) return CommandStart::kNeedMore;
    // A command of 16 MiB or more goes on in the next packet; otherwise what follows, when it is
    // there, starts the next command (or, after a query, LOCAL INFILE data: sequence id 2).
    if (h.length == kMaxPacketPayload || stream.size() - end < kHeaderSize + 1) return CommandStart::kYes;
    const Header next = headerAt(stream, end);
    const auto nextCommand = std::to_integer<std::uint8_t>(stream[end + kHeaderSize]);
    if (next.seq == 0 && plausibleCommand(nextCommand, next.length)) return CommandStart::kYes;
    if (command == 0x03 && next.seq == 2) return CommandStart::kYes;
    return CommandStart::kNo;
}

std::optional<Bytes> CommandFinder::feed(ByteView bytes) {
    putBytes(buffer_, bytes);
    std::optional<std::size_t> found;
    for (auto it = waiting_.begin(); it != waiting_.end() && !found;) {
        const CommandStart start = commandStartAt(buffer_, *it);
        if (start == CommandStart::kYes) {
            found = *it;
        } else if (start == CommandStart::kNo) {
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    for (; !found && buffer_.size() - scan_ >= kHeaderSize + 1; ++scan_) {
        const CommandStart start = commandStartAt(buffer_, scan_);
        if (start == CommandStart::kYes) {
            found = scan_;
        } else if (start == CommandStart::kNeedMore && waiting_.size() < kMaxCandidates) {
            waiting_.push_back(scan_);
        }
    }
    if (found) {
        skipped_ += *found;
        Bytes rest(buffer_.begin() + static_cast<std::ptrdiff_t>(*found), buffer_.end());
        buffer_ = Bytes();
        waiting_.clear();
        scan_ = 0;
        return rest;
    }
    const std::size_t keep = waiting_.empty() ? scan_ : waiting_.front();
    skipped_ += keep;
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(keep));
    for (std::size_t& offset : waiting_) {
        offset -= keep;
    }
    scan_ -= keep;
    return std::nullopt;
}

}  // namespace tcpcopy::protocol::mysql
