#pragma once
// UniqueFd: the one owner of a file descriptor. Move-only; closes on destruction and reset().

#include <unistd.h>

#include <utility>

namespace tcpcopy::os {

class UniqueFd {
  public:
    UniqueFd() = default;
    // Takes ownership of `fd` (-1: owns nothing).
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // Gives up ownership without closing; the caller now owns the returned descriptor.
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }
    // Closes the owned descriptor (if any) and takes `fd` instead.
    void reset(int fd = -1) {
        int old = std::exchange(fd_, fd);
        if (old >= 0) ::close(old);
    }

  private:
    int fd_ = -1;
};

}  // namespace tcpcopy::os
