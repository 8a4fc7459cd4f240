// Redis RESP framing: one top-level value per reply, one array of bulk strings (or one inline
// line) per command. RESP2 types and the RESP3 types that have a length or fit on one line
// (null, boolean, double, big number, blob error, verbatim string, map, set, attribute, push);
// RESP3 streamed strings and aggregates ("$?", "*?") stop the framing. A top-level push is not a
// reply to a command and is not emitted.

#include "resp_framer.h"

#include <charconv>

#include "text.h"

namespace tcpcopy::diff::detail {
namespace {

constexpr std::string_view kTypes = "+-:$*_,#!=(%~>|";
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 32;

std::optional<std::int64_t> parseInteger(std::string_view s) {
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return {};
    return v;
}

// "ERR", "WRONGTYPE", ...: the error's first word, at most 32 characters.
std::string errorCode(std::string_view message) {
    const std::size_t end = std::min(message.find(' '), std::size_t{32});
    return "error " + displayLine(message.substr(0, end));
}

bool isContainerCommand(std::string_view name) {
    static constexpr std::string_view kContainers[] = {
        "ACL",    "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG",   "FUNCTION", "LATENCY",
        "MEMORY", "MODULE", "OBJECT",  "PUBSUB",  "SCRIPT", "SLOWLOG", "XGROUP",   "XINFO"};
    for (std::string_view c : kContainers)
        if (c == name) return true;
    return false;
}

}  // namespace

RespFramer::RespFramer(Role role, const FramingLimits& limits, MessageSink& sink)
    : ByteFramer(limits, sink), role_(role) {}

std::size_t RespFramer::onBytes(const std::byte* p, std::size_t n, Time time) {
    switch (state_) {
        case State::Type: {
            const char c = static_cast<char>(*p);
            if (!builder_.active()) {
                if (role_ == Role::Requests && c != '*') {
                    if (c == '\r' || c == '\n') return 1;  // redis-server skips empty inline lines
                    begin(time);
                    state_ = State::Inline;
                    return readLine(p, n, time);
                }
                if (kTypes.find(c) == std::string_view::npos) {
                    fail("not a RESP reply");
                    return 0;
                }
                begin(time);
            } else if (kTypes.find(c) == std::string_view::npos) {
                fail("not a RESP type byte inside an aggregate");
                return 0;
            }
            builder_.raw(p, 1, time);
            builder_.body(p, 1);
            type_ = c;
            if (stack_.empty()) topType_ = c;
            state_ = State::Line;
            return 1;
        }
        case State::Line:
        case State::Inline:
            return readLine(p, n, time);
        case State::Bulk: {
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
            builder_.raw(p, take, time);
            builder_.body(p, take);
            captureBulk(p, take);
            remaining_ -= take;
            if (remaining_ == 0) state_ = State::BulkEnd;
            return take;
        }
        case State::BulkEnd: {
            const char want = crlfSeen_ == 0 ? '\r' : '\n';
            if (static_cast<char>(*p) != want) {
                fail("bulk string longer than its length");
                return 0;
            }
            builder_.raw(p, 1, time);
            builder_.body(p, 1);
            if (++crlfSeen_ == 2) valueDone(position() + 1);
            return 1;
        }
        case State::Done:
            fail("data after the end of the stream");
            return 0;
    }
    return 0;
}

std::uint64_t RespFramer::onGap(std::uint64_t n, Time time) {
    if (state_ == State::Bulk) {
        const std::uint64_t take = std::min(n, remaining_);
        builder_.rawGap(time);
        builder_.bodyGap(take);
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::BulkEnd;
        return take;
    }
    if (state_ == State::BulkEnd) {  // the length is known: the CRLF can be stepped over unseen
        const std::uint64_t take = std::min<std::uint64_t>(n, 2 - crlfSeen_);
        builder_.rawGap(time);
        builder_.bodyGap(take);
        crlfSeen_ += static_cast<unsigned>(take);
        if (crlfSeen_ == 2) valueDone(position() + take);
        return take;
    }
    fail("payload not captured where a RESP line is");
    return 0;
}

void RespFramer::begin(Time time) {
    builder_.begin(position(), time);
    stack_.clear();
    for (auto& w : words_) w.clear();
    push_ = false;
    nullTop_ = false;
}

void RespFramer::fail(std::string_view reason) { lose(reason, builder_.active() && state_ != State::Inline); }

std::size_t RespFramer::readLine(const std::byte* p, std::size_t n, Time time) {
    std::size_t used = 0;
    const auto status = line_.read(p, n, limits_.maxLine, used);
    if (status == LineReader::Status::TooLong) {
        fail("RESP line too long");
        return 0;
    }
    builder_.raw(p, used, time);
    builder_.body(p, used);
    if (status == LineReader::Status::NeedMore) return used;
    const std::uint64_t end = position() + used;
    if (state_ == State::Inline) {
        inlineCommand(line_.line(), end);
    } else {
        valueLine(line_.line(), end);
    }
    line_.clear();
    return isLost() ? 0 : used;
}

void RespFramer::inlineCommand(std::string_view line, std::uint64_t end) {
    std::size_t word = 0;
    for (std::size_t i = 0; i < line.size() && word < words_.size();) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) words_[word++] = std::string(line.substr(start, std::min<std::size_t>(i - start, 64)));
    }
    state_ = State::Type;
    complete(end);
}

void RespFramer::valueLine(std::string_view line, std::uint64_t end) {
    const char type = type_;
    if (stack_.empty() && type == '-') errorText_ = std::string(line.substr(0, 64));
    switch (type) {
        case '+':
        case '-':
        case ':':
        case ',':
        case '(':
        case '#':
        case '_':
            valueDone(end);
            return;
        case '$':
        case '!':
        case '=': {
            const auto length = parseInteger(line);
            if (line == "?") return fail("RESP3 streamed strings are not supported");
            if (length && *length == -1 && type == '$') return valueDone(end, true);
            if (!length || *length < 0 || static_cast<std::uint64_t>(*length) > limits_.maxRespBulk) {
                return fail("invalid RESP bulk length");
            }
            remaining_ = static_cast<std::uint64_t>(*length);
            crlfSeen_ = 0;
            bulkSeen_ = 0;
            state_ = remaining_ == 0 ? State::BulkEnd : State::Bulk;
            return;
        }
        default: {  // aggregates: * ~ > % |
            const auto count = parseInteger(line);
            if (line == "?") return fail("RESP3 streamed aggregates are not supported");
            if (count && *count == -1 && type == '*') return valueDone(end, true);
            if (!count || *count < 0 || static_cast<std::uint64_t>(*count) > kMaxCount) {
                return fail("invalid RESP aggregate length");
            }
            std::uint64_t elements = static_cast<std::uint64_t>(*count);
            if (type == '%' || type == '|') elements *= 2;
            if (type == '|') elements += 1;  // the attributed value follows the attribute's pairs
            if (stack_.empty() && type == '>') push_ = true;
            if (elements == 0) return valueDone(end);
            if (stack_.size() >= limits_.maxRespDepth) return fail("RESP values nested too deeply");
            stack_.push_back(Level{elements, 0});
            state_ = State::Type;
            return;
        }
    }
}

void RespFramer::captureBulk(const std::byte* p, std::size_t n) {
    // The command name, subcommand and first argument: elements 0 to 2 of a command's array; the code of a
    // top-level blob error.
    std::string* into = nullptr;
    if (role_ == Role::Requests && stack_.size() == 1 && stack_.back().index < words_.size()) {
        into = &words_[stack_.back().index];
    } else if (role_ == Role::Responses && stack_.empty() && type_ == '!') {
        into = &errorText_;
        if (bulkSeen_ == 0) errorText_.clear();
    }
    bulkSeen_ += n;
    if (into != nullptr && into->size() < 64)
        into->append(asText(p, std::min<std::size_t>(n, 64 - into->size())));
}

void RespFramer::valueDone(std::uint64_t end, bool null) {
    if (stack_.empty()) nullTop_ = null;
    while (!stack_.empty()) {
        Level& top = stack_.back();
        ++top.index;
        if (--top.remaining != 0) {
            state_ = State::Type;
            return;
        }
        stack_.pop_back();
    }
    state_ = State::Type;
    complete(end);
}

void RespFramer::complete(std::uint64_t end) {
    Message& m = builder_.message();
    if (role_ == Role::Requests) {
        m.method = displayLine(upperAscii(words_[0]), 64);
        if (isContainerCommand(m.method) && !words_[1].empty()) {
            m.method += ' ';  // not " " + string: that trips GCC 12's -Wrestrict at -O3
            m.method += displayLine(upperAscii(words_[1]), 64);
        }
        RequestTraits traits;
        const std::string_view name = m.method;
        traits.endsPairing = name == "SUBSCRIBE" || name == "PSUBSCRIBE" || name == "SSUBSCRIBE" ||
                             name == "MONITOR" || name == "SYNC" || name == "PSYNC" ||
                             (name == "CLIENT REPLY" && upperAscii(words_[2]) != "ON");
        sink_.onRequestHead(emitted_, m.begin, traits);
        emit(end);
        return;
    }
    if (push_) {  // out-of-band data, not an answer
        builder_.take(end, emitted_, false);
        ++pushes_;
        return;
    }
    m.kind = kindName(topType_, nullTop_);
    if (topType_ == '-' || topType_ == '!') m.kind = errorCode(errorText_);
    emit(end);
}

std::string RespFramer::kindName(char type, bool null) {
    switch (type) {
        case '+':
            return "simple";
        case ':':
            return "integer";
        case '$':
            return null ? "null" : "bulk";
        case '*':
            return null ? "null" : "array";
        case '_':
            return "null";
        case ',':
            return "double";
        case '#':
            return "boolean";
        case '(':
            return "bignum";
        case '=':
            return "verbatim";
        case '%':
            return "map";
        case '~':
            return "set";
        case '|':
            return "attribute";
        default:
            return "error";
    }
}

void RespFramer::finish(Time /*time*/) {
    if (isLost() || state_ == State::Done) return;
    if (builder_.active() && state_ != State::Inline) emit(position(), true);
    state_ = State::Done;
}

}  // namespace tcpcopy::diff::detail
