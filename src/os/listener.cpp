#include "tcpcopy/os/listener.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "tcpcopy/os/socket_address.h"

namespace tcpcopy::os {

Result<std::unique_ptr<Listener>> Listener::listen(EventBase& base, const net::Endpoint& at,
                                                   AcceptFn onAccept, ErrorFn onError, Duration pause) {
    using R = Result<std::unique_ptr<Listener>>;
    UniqueFd fd(::socket(familyOf(at.addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return R::fail(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!at.addr.isV4()) {
        // "::" is dual stack (IPv4 peers arrive as ::ffff:a.b.c.d), whatever bindv6only says.
        const int v6only = at.addr.isUnspecified() ? 0 : 1;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    SockAddr sin = toSockaddr(at);
    if (::bind(fd.get(), sin.get(), sin.length) != 0) return R::fail(std::strerror(errno));
    if (::listen(fd.get(), 128) != 0) return R::fail(std::string("listen: ") + std::strerror(errno));
    socklen_t len = sizeof sin.storage;
    if (::getsockname(fd.get(), sin.get(), &len) != 0) {
        return R::fail(std::string("getsockname: ") + std::strerror(errno));
    }
    const net::Endpoint local = fromSockaddr(sin);
    std::unique_ptr<Listener> listener(
        new Listener(std::move(fd), local, std::move(onAccept), std::move(onError), pause));
    Listener* raw = listener.get();
    auto readable = Event::fd(base, raw->fd_.get(), EV_READ, [raw](short) { raw->onReadable(); });
    if (!readable) return R::fail(readable.error());
    auto resume = Event::timer(base, [raw](short) { raw->readable_->add(); });
    if (!resume) return R::fail(resume.error());
    raw->readable_ = std::move(readable).value();
    raw->resume_ = std::move(resume).value();
    raw->readable_->add();
    return R::ok(std::move(listener));
}

Listener::Listener(UniqueFd fd, net::Endpoint local, AcceptFn onAccept, ErrorFn onError, Duration pause)
    : fd_(std::move(fd)),
      local_(local),
      onAccept_(std::move(onAccept)),
      onError_(std::move(onError)),
      pause_(pause) {}

Listener::~Listener() = default;

void Listener::onReadable() {
    for (;;) {
        SockAddr sin;
        socklen_t len = sizeof sin.storage;
        UniqueFd socket(::accept4(fd_.get(), sin.get(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!socket) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
            // The connection is still pending: watching the socket now would wake us at once.
            const std::string reason = std::strerror(errno);
            ++errors_;
            readable_->del();
            resume_->add(pause_);
            if (onError_) onError_(reason);
            return;
        }
        onAccept_(std::move(socket), fromSockaddr(sin));
    }
}

}  // namespace tcpcopy::os
