#pragma once
// GenericFramer: a message is the bytes one side sends between two changes of direction
// (internal; see makeFramer).

#include "framer_base.h"

namespace tcpcopy::diff::detail {

class GenericFramer final : public ByteFramer {
  public:
    GenericFramer(Role role, const FramingLimits& limits, MessageSink& sink)
        : ByteFramer(limits, sink), role_(role) {}

    // The other side spoke: the message being read ends. A server that speaks first gets an
    // empty request 0 (its greeting answers no request).
    void turn(Time time) override;
    // Ends the message being read, or emits an empty one when nothing came since the last: the
    // collector cuts the target's stream where the replay sent the next request, so that the
    // i-th message is always the answer to request i.
    void cut(Time time);
    void finish(Time time) override;

  protected:
    std::size_t onBytes(const std::byte* p, std::size_t n, Time time) override;
    std::uint64_t onGap(std::uint64_t n, Time time) override;

  private:
    void start(Time time);
    void done();

    Role role_;
    bool finished_ = false;
};

}  // namespace tcpcopy::diff::detail
