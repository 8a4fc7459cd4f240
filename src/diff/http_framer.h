#pragma once
// HttpFramer: one direction of an HTTP/1.x connection (internal; see makeFramer).

#include <optional>

#include "framer_base.h"

namespace tcpcopy::diff::detail {

class HttpFramer final : public ByteFramer {
  public:
    // Request targets longer than this are cut (the endpoint needs the path's start only).
    static constexpr std::size_t kMaxTarget = 2048;

    HttpFramer(Role role, const FramingLimits& limits, MessageSink& sink);
    void finish(Time time) override;

  protected:
    std::size_t onBytes(const std::byte* p, std::size_t n, Time time) override;
    std::uint64_t onGap(std::uint64_t n, Time time) override;

  private:
    enum class State { StartLine, Headers, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, UntilClose, Done };
    enum class Body { None, Length, Chunked, UntilClose };

    void fail(std::string_view reason);
    void startMessage(Time time);
    std::size_t readLine(const std::byte* p, std::size_t n, Time time);
    bool requestLine(std::string_view line);
    bool statusLine(std::string_view line);
    void headerLine(std::string_view line);
    void appendHeaderValue(Header& header, std::string_view value, bool folded);
    void headersDone(std::uint64_t end);
    void startBody(std::uint64_t end, Body body);
    void bodyRunDone(std::uint64_t consumed);

    Role role_;
    State state_ = State::StartLine;
    LineReader line_;
    std::uint64_t remaining_ = 0;  // of the body or the chunk
    std::size_t headerBytes_ = 0;
    std::optional<std::uint64_t> contentLength_;
    bool transferEncoding_ = false;
    bool chunked_ = false;
    bool lastHeaderKept_ = false;
    bool finished_ = false;
};

std::unique_ptr<Framer> makeHttpFramer(Role role, const FramingLimits& limits, MessageSink& sink);

}  // namespace tcpcopy::diff::detail
