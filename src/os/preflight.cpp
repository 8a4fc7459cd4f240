#include "tcpcopy/os/preflight.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "tcpcopy/os/socket_address.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::os {

void Preflight::ok(std::string_view line) {
    std::fprintf(out_, "ok: %.*s\n", static_cast<int>(line.size()), line.data());
}

void Preflight::info(std::string_view line) {
    std::fprintf(out_, "info: %.*s\n", static_cast<int>(line.size()), line.data());
}

void Preflight::warning(std::string_view line) {
    std::fprintf(out_, "warning: %.*s\n", static_cast<int>(line.size()), line.data());
}

void Preflight::problem(std::string_view line) {
    ++problems_;
    std::fprintf(out_, "problem: %.*s\n", static_cast<int>(line.size()), line.data());
}

int Preflight::finish(std::string_view program) {
    const int n = static_cast<int>(program.size());
    if (problems_ == 0) {
        std::fprintf(out_, "%.*s --check: all checks passed\n", n, program.data());
    } else {
        std::fprintf(out_, "%.*s --check: %zu problem(s)\n", n, program.data(), problems_);
    }
    std::fflush(out_);
    return problems_ == 0 ? 0 : 1;
}

bool interfaceExists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

std::optional<std::string> readSysctl(const std::string& path) {
    std::ifstream in("/proc/sys/" + path);
    std::string value;
    if (!in || !std::getline(in, value)) return std::nullopt;
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    return value;
}

namespace {

// One hex field of /proc/net/route: the network-order 32-bit value printed as 8 hex digits.
std::optional<std::uint32_t> hexAddress(std::string_view field) {
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 16);
    if (ec != std::errc() || ptr != field.data() + field.size() || field.empty()) return std::nullopt;
    return ntohl(value);
}

std::vector<KernelRoute> readRoutes() {
    std::ifstream in("/proc/net/route");
    std::ostringstream text;
    text << in.rdbuf();
    return parseRouteTable(text.str());
}

}  // namespace

std::vector<KernelRoute> parseRouteTable(std::string_view text) {
    std::vector<KernelRoute> routes;
    std::istringstream in{std::string(text)};
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
        if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
        // A line that does not parse is skipped, never a reason to stop (or throw).
        const auto destination = hexAddress(dest);
        const auto netmask = hexAddress(mask);
        const auto via = hexAddress(gateway);
        if (!destination || !netmask || !via) continue;
        routes.push_back(KernelRoute{iface, *destination, *netmask, *via});
    }
    return routes;
}

bool hasDefaultRoute() {
    for (const auto& r : readRoutes()) {
        if (r.destination == 0 && r.mask == 0) return true;
    }
    return false;
}

Result<RouteInfo> routeTo(net::Ipv4Addr to) {
    using R = Result<RouteInfo>;
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return R::fail(std::string("socket: ") + std::strerror(errno));
    const SockAddr sin = toSockaddr(net::Endpoint{to, net::Port(9)});
    if (::connect(fd.get(), sin.get(), sin.length) != 0) return R::fail(std::strerror(errno));
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
        return R::fail(std::string("getsockname: ") + std::strerror(errno));
    }
    RouteInfo info{fromSockaddr(local).addr.v4(), {}};
    int bestBits = -1;
    for (const auto& r : readRoutes()) {
        if ((to.value() & r.mask) != (r.destination & r.mask)) continue;
        const int bits = __builtin_popcount(r.mask);
        if (bits > bestBits) {
            bestBits = bits;
            info.interface = r.interface;
        }
    }
    if (info.interface.empty() && (to.value() >> 24) == 127) info.interface = "lo";
    return R::ok(info);
}

std::string checkListen(const net::Endpoint& at) {
    UniqueFd fd(::socket(familyOf(at.addr), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return std::string("socket: ") + std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const SockAddr sin = toSockaddr(at);
    if (::bind(fd.get(), sin.get(), sin.length) != 0) return std::strerror(errno);
    if (::listen(fd.get(), 1) != 0) return std::strerror(errno);
    return {};
}

std::string tcpConnect(const net::Endpoint& to, std::chrono::milliseconds timeout) {
    UniqueFd fd(::socket(familyOf(to.addr), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return std::string("socket: ") + std::strerror(errno);
    const SockAddr sin = toSockaddr(to);
    if (::connect(fd.get(), sin.get(), sin.length) == 0) return {};
    if (errno != EINPROGRESS) return std::strerror(errno);
    pollfd p{fd.get(), POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0) return "no answer within " + std::to_string(timeout.count()) + " ms";
    if (n < 0) return std::string("poll: ") + std::strerror(errno);
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    return error == 0 ? std::string() : std::string(std::strerror(error));
}

}  // namespace tcpcopy::os
