#include "tcpcopy/capture/raw_socket_capture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace tcpcopy::capture {
namespace {

std::string systemError(std::string_view what) {
    return "raw socket: " + std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

RawSocketCapture::Result RawSocketCapture::open(const RawSocketOptions& options) {
    os::UniqueFd fd(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) return Result::fail(std::string("raw socket: ") + std::strerror(errno));
    int on = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
        return Result::fail(systemError("SO_TIMESTAMPNS"));
    }
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0) {
        return Result::fail(systemError("SO_RXQ_OVFL"));
    }
    if (options.receiveBufferBytes > 0) {
        int size = options.receiveBufferBytes;
        // SO_RCVBUFFORCE passes rmem_max when privileged; fall back to the capped request.
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
            return Result::fail(systemError("SO_RCVBUF"));
        }
    }
    return Result::ok(RawSocketCapture(std::move(fd)));
}

int RawSocketCapture::dispatchRaw(int maxPackets, FrameFn fn, void* context) {
    int handled = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t))];
    while (maxPackets <= 0 || handled < maxPackets) {
        iovec iov{buffer_.data(), buffer_.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            error_ = systemError("recvmsg");
            return -1;
        }
        CapturedFrame frame;
        bool stamped = false;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SO_TIMESTAMPNS) {
                timespec ts;
                std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                frame.timestamp = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
                stamped = true;
            } else if (c->cmsg_type == SO_RXQ_OVFL) {
                std::memcpy(&dropped_, CMSG_DATA(c), sizeof dropped_);
            }
        }
        if (!stamped) {
            timespec now;
            ::clock_gettime(CLOCK_REALTIME, &now);
            frame.timestamp = std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
        }
        // With MSG_TRUNC, n is the datagram's real length even when the buffer was smaller.
        std::size_t wire = static_cast<std::size_t>(n);
        std::size_t caplen = std::min(wire, buffer_.size());
        frame.caplen = static_cast<std::uint32_t>(caplen);
        frame.wireLength = static_cast<std::uint32_t>(wire);
        frame.data = net::Bytes(buffer_.data(), caplen);
        ++received_;
        ++handled;
        fn(context, frame, net::LinkType::RawIp);
    }
    return handled;
}

}  // namespace tcpcopy::capture
