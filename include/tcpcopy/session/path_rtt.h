#pragma once
// The round-trip time of the replay path (tcpcopy -> target -> intercept -> tunnel -> tcpcopy),
// estimated as RFC 6298 does for one connection but from the samples of every session: they all
// share that path, so a new session starts with what the others measured (as Linux caches RTT
// per destination). Under load the path slows down; a fixed 200 ms timeout then resends what is
// only late, which adds load (the spiral of issue 11). The timeout follows the path instead.

#include <algorithm>
#include <chrono>

#include "tcpcopy/session/time.h"

namespace tcpcopy::session {

class PathRtt {
  public:
    // Largest timeout derived from samples (RFC 6298 allows 60 s).
    static constexpr Time kMaxRto = std::chrono::seconds(60);

    // One measurement (Karn: never of a retransmitted segment).
    void sample(Time rtt) {
        rtt = std::max(rtt, Time(0));
        if (samples_ == 0) {
            srtt_ = rtt;
            rttvar_ = rtt / 2;
        } else {
            const Time delta = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
            rttvar_ = (3 * rttvar_ + delta) / 4;
            srtt_ = (7 * srtt_ + rtt) / 8;
        }
        ++samples_;
    }
    bool measured() const { return samples_ > 0; }
    Time srtt() const { return srtt_; }
    Time rttvar() const { return rttvar_; }
    std::uint64_t samples() const { return samples_; }
    // The retransmission timeout: `floor` until the path is measured, then SRTT + 4 RTTVAR, never
    // below `floor` nor above kMaxRto.
    Time rto(Time floor) const {
        if (samples_ == 0) return floor;
        return std::clamp(srtt_ + 4 * rttvar_, floor, std::max(floor, kMaxRto));
    }

  private:
    Time srtt_{0};
    Time rttvar_{0};
    std::uint64_t samples_ = 0;
};

}  // namespace tcpcopy::session
