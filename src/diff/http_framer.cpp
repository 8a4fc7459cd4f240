// HTTP/1.x framing (RFC 9112): request line or status line, header fields, then a body delimited
// by Content-Length, the chunked transfer coding (with trailers) or, for responses only, the end
// of the connection. HEAD requests and 1xx/204/304 responses have no body; 1xx other than 101
// are interim and not emitted; 101 and a 2xx answer to CONNECT end the HTTP part of the stream.

#include "http_framer.h"

#include <charconv>

#include "framer_base.h"
#include "text.h"

namespace tcpcopy::diff::detail {
namespace {

bool isTokenChar(char c) {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!isTokenChar(c)) return false;
    return true;
}

// "HTTP/1.0" or "HTTP/1.1" (any single digit minor).
bool isHttp1Version(std::string_view v) {
    return v.size() == 8 && v.starts_with("HTTP/1.") && v[7] >= '0' && v[7] <= '9';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A Content-Length value: digits, or a list of equal values ("5, 5"); nullopt when invalid.
std::optional<std::uint64_t> parseContentLength(std::string_view v) {
    std::optional<std::uint64_t> result;
    while (!v.empty()) {
        const std::size_t comma = v.find(',');
        const std::string_view item = trim(v.substr(0, comma));
        std::uint64_t n = 0;
        const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
        if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || item.size() > 18)
            return {};
        if (result && *result != n) return {};
        result = n;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return result;
}

// The chunk-size line: hex digits, then optional whitespace and extensions.
std::optional<std::uint64_t> parseChunkSize(std::string_view line) {
    std::size_t digits = 0;
    while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) ++digits;
    if (digits == 0 || digits > 15) return {};
    const std::string_view rest = trim(line.substr(digits));
    if (!rest.empty() && rest.front() != ';') return {};
    std::uint64_t n = 0;
    std::from_chars(line.data(), line.data() + digits, n, 16);
    return n;
}

}  // namespace

HttpFramer::HttpFramer(Role role, const FramingLimits& limits, MessageSink& sink)
    : ByteFramer(limits, sink), role_(role) {}

void HttpFramer::fail(std::string_view reason) {
    // A message whose start line was not read yet is not emitted: it has no method or status.
    lose(reason, state_ != State::StartLine);
}

void HttpFramer::startMessage(Time time) {
    builder_.begin(position(), time);
    headerBytes_ = 0;
    chunked_ = false;
    contentLength_.reset();
    transferEncoding_ = false;
    lastHeaderKept_ = false;
}

std::size_t HttpFramer::onBytes(const std::byte* p, std::size_t n, Time time) {
    switch (state_) {
        case State::StartLine:
        case State::Headers:
        case State::ChunkSize:
        case State::ChunkEnd:
        case State::Trailers:
            return readLine(p, n, time);
        case State::Body:
        case State::ChunkData: {
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
            builder_.raw(p, take, time);
            builder_.body(p, take);
            remaining_ -= take;
            if (remaining_ == 0) bodyRunDone(take);
            return take;
        }
        case State::UntilClose:
            builder_.raw(p, n, time);
            builder_.body(p, n);
            return n;
        case State::Done:
            fail("data after the end of the stream");
            return 0;
    }
    return 0;
}

std::uint64_t HttpFramer::onGap(std::uint64_t n, Time time) {
    switch (state_) {
        case State::Body:
        case State::ChunkData: {
            const std::uint64_t take = std::min(n, remaining_);
            builder_.rawGap(time);
            builder_.bodyGap(take);
            remaining_ -= take;
            if (remaining_ == 0) bodyRunDone(take);
            return take;
        }
        case State::UntilClose:
            builder_.rawGap(time);
            builder_.bodyGap(n);
            return n;
        default:
            fail(state_ == State::StartLine && !builder_.active()
                     ? "payload not captured at the start of a message"
                     : "payload not captured inside the header");
            return 0;
    }
}

// The body run (Content-Length body or one chunk's data) ended `consumed` bytes into this call.
void HttpFramer::bodyRunDone(std::uint64_t consumed) {
    if (state_ == State::ChunkData) {
        state_ = State::ChunkEnd;
        return;
    }
    emit(position() + consumed);
    state_ = State::StartLine;
}

std::size_t HttpFramer::readLine(const std::byte* p, std::size_t n, Time time) {
    if (state_ == State::StartLine && !builder_.active()) {
        if (line_.empty() && role_ == Role::Requests && (*p == std::byte{'\r'} || *p == std::byte{'\n'})) {
            return 1;  // empty lines before a request line are ignored (RFC 9112, 2.2)
        }
        startMessage(time);
    }
    const std::size_t max =
        state_ == State::StartLine || state_ == State::ChunkSize || state_ == State::ChunkEnd
            ? limits_.maxLine
            : std::min(limits_.maxLine,
                       limits_.maxHeaderBytes - std::min(headerBytes_, limits_.maxHeaderBytes));
    std::size_t used = 0;
    const auto status = line_.read(p, n, max, used);
    if (status == LineReader::Status::TooLong) {
        fail(state_ == State::StartLine                                ? "start line too long"
             : state_ == State::ChunkSize || state_ == State::ChunkEnd ? "chunk-size line too long"
                                                                       : "header block too large");
        return 0;
    }
    builder_.raw(p, used, time);
    if (status == LineReader::Status::NeedMore) return used;
    headerBytes_ += used;
    const std::uint64_t end = position() + used;
    const std::string_view line = line_.line();
    switch (state_) {
        case State::StartLine:
            if (role_ == Role::Requests ? requestLine(line) : statusLine(line)) state_ = State::Headers;
            break;
        case State::Headers:
            if (line.empty()) {
                headersDone(end);
            } else {
                headerLine(line);
            }
            break;
        case State::ChunkSize:
            if (const auto size = parseChunkSize(line)) {
                remaining_ = *size;
                state_ = *size == 0 ? State::Trailers : State::ChunkData;
            } else {
                fail("malformed chunk size");
            }
            break;
        case State::ChunkEnd:
            if (line.empty()) {
                state_ = State::ChunkSize;
            } else {
                fail("chunk data longer than its size");
            }
            break;
        case State::Trailers:
            if (line.empty()) {
                emit(end);
                state_ = State::StartLine;
            }
            break;
        default:
            break;
    }
    line_.clear();
    return isLost() ? 0 : used;
}

bool HttpFramer::requestLine(std::string_view line) {
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || !isToken(line.substr(0, sp1)) || sp2 == sp1 + 1 ||
        !isHttp1Version(line.substr(sp2 + 1))) {
        fail("not an HTTP/1.x request line");
        return false;
    }
    Message& m = builder_.message();
    m.method = std::string(line.substr(0, sp1));
    m.target = std::string(line.substr(sp1 + 1, std::min<std::size_t>(sp2 - sp1 - 1, kMaxTarget)));
    return true;
}

bool HttpFramer::statusLine(std::string_view line) {
    if (line.size() < 12 || !isHttp1Version(line.substr(0, 8)) || line[8] != ' ' ||
        (line.size() > 12 && line[12] != ' ')) {
        fail("not an HTTP/1.x status line");
        return false;
    }
    int status = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') {
            fail("not an HTTP/1.x status line");
            return false;
        }
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100) {
        fail("not an HTTP/1.x status line");
        return false;
    }
    Message& m = builder_.message();
    m.status = status;
    m.kind = std::to_string(status);
    return true;
}

void HttpFramer::headerLine(std::string_view line) {
    Message& m = builder_.message();
    if (line.front() == ' ' || line.front() == '\t') {  // obsolete line folding: continues the value
        if (lastHeaderKept_) appendHeaderValue(m.headers.back(), trim(line), true);
        return;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
        fail("malformed header line");
        return;
    }
    const std::string name = lowerAscii(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-length") {
        const auto length = parseContentLength(value);
        if (!length || (contentLength_ && *contentLength_ != *length)) {
            fail("invalid Content-Length");
            return;
        }
        contentLength_ = length;
    } else if (name == "transfer-encoding") {
        transferEncoding_ = true;
        // chunked must be the last coding; anything else makes a response read until close.
        const std::string coding = lowerAscii(
            trim(value.substr(value.rfind(',') == std::string_view::npos ? 0 : value.rfind(',') + 1)));
        chunked_ = coding == "chunked";
    }
    lastHeaderKept_ = false;
    if (role_ == Role::Requests) return;  // requests keep only their line
    if (m.headers.size() >= limits_.maxHeaders) {
        ++m.headersDropped;
        return;
    }
    m.headers.push_back(Header{name, {}});
    appendHeaderValue(m.headers.back(), value, false);
    lastHeaderKept_ = true;
}

void HttpFramer::appendHeaderValue(Header& header, std::string_view value, bool folded) {
    if (folded && !header.value.empty()) header.value += ' ';
    header.value.append(value);
    if (header.value.size() > limits_.maxHeaderValue) {  // keep the start and a digest of the whole
        const std::string digest = digestHex(digestOf(header.value));
        header.value.resize(limits_.maxHeaderValue);
        header.value += "...#" + digest;
    }
}

void HttpFramer::headersDone(std::uint64_t end) {
    Message& m = builder_.message();
    if (role_ == Role::Requests) {
        RequestTraits traits;
        traits.head = m.method == "HEAD";
        traits.connect = m.method == "CONNECT";
        sink_.onRequestHead(emitted_, m.begin, traits);
        if (transferEncoding_ && !chunked_) {
            fail("request with a transfer coding other than chunked");
            return;
        }
        startBody(end, chunked_ ? Body::Chunked : contentLength_.value_or(0) > 0 ? Body::Length : Body::None);
        return;
    }
    if (m.status < 200 && m.status != 101) {  // interim: the final response follows
        builder_.take(end, emitted_, false);
        state_ = State::StartLine;
        return;
    }
    const RequestTraits traits = sink_.requestTraits(emitted_).value_or(RequestTraits{});
    if (m.status == 101 || (traits.connect && m.status < 300)) {
        emit(end);
        state_ = State::Done;
        fail("the connection switched protocols (101, or 2xx to CONNECT)");
        return;
    }
    if (traits.head || m.status == 204 || m.status == 304) {
        startBody(end, Body::None);
    } else if (transferEncoding_) {
        startBody(end, chunked_ ? Body::Chunked : Body::UntilClose);
    } else if (contentLength_) {
        startBody(end, *contentLength_ > 0 ? Body::Length : Body::None);
    } else {
        startBody(end, Body::UntilClose);
    }
}

void HttpFramer::startBody(std::uint64_t end, Body body) {
    switch (body) {
        case Body::None:
            emit(end);
            state_ = State::StartLine;
            break;
        case Body::Length:
            remaining_ = *contentLength_;
            state_ = State::Body;
            break;
        case Body::Chunked:
            state_ = State::ChunkSize;
            break;
        case Body::UntilClose:
            state_ = State::UntilClose;
            break;
    }
}

void HttpFramer::finish(Time time) {
    if (isLost() || finished_) return;
    finished_ = true;
    (void)time;
    if (state_ == State::UntilClose) {
        emit(position());
    } else if (builder_.active() && state_ != State::StartLine) {
        emit(position(), true);
    }
    state_ = State::Done;
}

std::unique_ptr<Framer> makeHttpFramer(Role role, const FramingLimits& limits, MessageSink& sink) {
    return std::make_unique<HttpFramer>(role, limits, sink);
}

}  // namespace tcpcopy::diff::detail
