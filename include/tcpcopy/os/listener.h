#pragma once
// A listening TCP socket on the event loop, shared by the tunnel server and the metrics endpoint.
//
// Accepts in a loop; each accepted socket (non-blocking, close-on-exec) goes to onAccept, which
// owns it from then on. When accept() fails for want of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) the connection stays pending and the listen socket readable, so retrying at
// once would spin: the listener stops watching the socket for `pause` (pending connections wait
// in the backlog) and calls onError with the system's text; the owner decides how often to log.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/event.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::os {

class Listener {
  public:
    using AcceptFn = std::function<void(UniqueFd socket, const net::Endpoint& from)>;
    using ErrorFn = std::function<void(const std::string& reason)>;

    // Binds (SO_REUSEADDR) and listens. The error is the system's text, prefixed with the step
    // when it is not bind(): "Address already in use", "listen: ...".
    static Result<std::unique_ptr<Listener>> listen(EventBase& base, const net::Endpoint& at,
                                                    AcceptFn onAccept, ErrorFn onError,
                                                    Duration pause = std::chrono::milliseconds(100));
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // The bound address (the actual port when 0 was asked for).
    net::Endpoint local() const { return local_; }
    // accept() failures that paused accepting.
    std::uint64_t errors() const { return errors_; }

  private:
    Listener(UniqueFd fd, net::Endpoint local, AcceptFn onAccept, ErrorFn onError, Duration pause);
    void onReadable();

    UniqueFd fd_;
    net::Endpoint local_;
    AcceptFn onAccept_;
    ErrorFn onError_;
    Duration pause_;
    std::optional<Event> readable_;
    std::optional<Event> resume_;
    std::uint64_t errors_ = 0;
};

}  // namespace tcpcopy::os
