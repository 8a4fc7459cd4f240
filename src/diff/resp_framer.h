#pragma once
// RespFramer: one direction of a Redis connection (internal; see makeFramer).

#include <array>
#include <vector>

#include "framer_base.h"

namespace tcpcopy::diff::detail {

class RespFramer final : public ByteFramer {
  public:
    RespFramer(Role role, const FramingLimits& limits, MessageSink& sink);
    void finish(Time time) override;
    // Top-level RESP3 pushes seen (not emitted).
    std::uint64_t pushes() const { return pushes_; }

  protected:
    std::size_t onBytes(const std::byte* p, std::size_t n, Time time) override;
    std::uint64_t onGap(std::uint64_t n, Time time) override;

  private:
    enum class State { Type, Line, Inline, Bulk, BulkEnd, Done };
    struct Level {
        std::uint64_t remaining;  // elements still to read
        std::uint64_t index;      // of the element being read
    };

    void fail(std::string_view reason);
    void begin(Time time);
    std::size_t readLine(const std::byte* p, std::size_t n, Time time);
    void inlineCommand(std::string_view line, std::uint64_t end);
    void valueLine(std::string_view line, std::uint64_t end);
    void captureBulk(const std::byte* p, std::size_t n);
    void valueDone(std::uint64_t end, bool null = false);
    void complete(std::uint64_t end);
    static std::string kindName(char type, bool null);

    Role role_;
    State state_ = State::Type;
    LineReader line_;
    std::vector<Level> stack_;
    std::uint64_t remaining_ = 0;  // bulk bytes
    std::uint64_t bulkSeen_ = 0;
    unsigned crlfSeen_ = 0;
    char type_ = 0;     // of the value being read
    char topType_ = 0;  // of the top-level value
    bool nullTop_ = false;
    bool push_ = false;
    std::array<std::string, 3> words_;  // a command's first words (at most 64 bytes each)
    std::string errorText_;             // a top-level error's text
    std::uint64_t pushes_ = 0;
};

}  // namespace tcpcopy::diff::detail
