#include "link_query.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace tcpcopy::inject {
namespace {

constexpr auto kAnswerWait = std::chrono::milliseconds(1000);

}  // namespace

os::Result<os::UniqueFd> openLinkSocket(unsigned ifindex, std::uint16_t ethertype) {
    using R = os::Result<os::UniqueFd>;
    os::UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype)));
    if (!fd) return R::fail(std::string("packet socket: ") + std::strerror(errno));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ethertype);
    at.sll_ifindex = static_cast<int>(ifindex);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        return R::fail(std::string("bind: ") + std::strerror(errno));
    }
    return R::ok(std::move(fd));
}

os::Result<std::optional<MacAddress>> askOnLink(
    int fd, std::span<const std::uint8_t> request, int tries,
    const std::function<std::optional<MacAddress>(std::span<const std::uint8_t>)>& answer) {
    using R = os::Result<std::optional<MacAddress>>;
    for (int attempt = 0; attempt < tries; ++attempt) {
        if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
            return R::fail(std::string("sending: ") + std::strerror(errno));
        }
        const auto deadline = std::chrono::steady_clock::now() + kAnswerWait;
        for (auto now = std::chrono::steady_clock::now(); now < deadline;
             now = std::chrono::steady_clock::now()) {
            pollfd p{fd, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
            if (::poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
            std::uint8_t frame[1600];
            const ssize_t n = ::recv(fd, frame, sizeof frame, MSG_DONTWAIT);
            if (n <= 0) continue;
            if (auto mac = answer(std::span<const std::uint8_t>(frame, static_cast<std::size_t>(n)))) {
                return R::ok(mac);
            }
        }
    }
    return R::ok(std::nullopt);
}

}  // namespace tcpcopy::inject
