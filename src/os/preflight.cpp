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

// A hex field of /proc/net/route or /proc/net/ipv6_route, the whole of it.
template <typename T>
std::optional<T> hexNumber(std::string_view field) {
    T value = 0;
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 16);
    if (field.empty() || ec != std::errc() || ptr != field.data() + field.size()) return std::nullopt;
    return value;
}

// One address field of /proc/net/route: the network-order 32-bit value printed as 8 hex digits.
std::optional<std::uint32_t> hexAddress(std::string_view field) {
    const auto value = hexNumber<std::uint32_t>(field);
    return value ? std::optional<std::uint32_t>(ntohl(*value)) : std::nullopt;
}

std::string readProcFile(const char* path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<KernelRoute> readRoutes() { return parseRouteTable(readProcFile("/proc/net/route")); }

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

namespace {

// 32 hex digits, the 16 bytes in network order as /proc/net/ipv6_route and if_inet6 print them.
std::optional<net::IpAddr> hexAddress6(std::string_view field) {
    if (field.size() != 32) return std::nullopt;
    net::IpAddr::Octets octets{};
    for (std::size_t i = 0; i < 16; ++i) {
        const auto [ptr, ec] = std::from_chars(field.data() + 2 * i, field.data() + 2 * i + 2, octets[i], 16);
        if (ec != std::errc() || ptr != field.data() + 2 * i + 2) return std::nullopt;
    }
    return net::IpAddr::fromOctets(octets);
}

// The interface of the longest prefix covering `to` (the lowest metric among equals); "" when none.
std::string interfaceFor(const net::IpAddr& to) {
    std::string interface;
    if (to.isV4()) {
        int bestBits = -1;
        for (const auto& r : readRoutes()) {
            if ((to.v4().value() & r.mask) != (r.destination & r.mask)) continue;
            const int bits = __builtin_popcount(r.mask);
            if (bits > bestBits) {
                bestBits = bits;
                interface = r.interface;
            }
        }
        return interface;
    }
    const KernelRoute6* best = nullptr;
    const auto routes = parseRoute6Table(readProcFile("/proc/net/ipv6_route"));
    for (const auto& r : routes) {
        if (r.rejects() || !r.destination.contains(to)) continue;
        if (best == nullptr || r.destination.prefixLength > best->destination.prefixLength ||
            (r.destination.prefixLength == best->destination.prefixLength && r.metric < best->metric))
            best = &r;
    }
    return best == nullptr ? std::string() : best->interface;
}

}  // namespace

std::vector<KernelRoute6> parseRoute6Table(std::string_view text) {
    std::vector<KernelRoute6> routes;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string dest, destLength, src, srcLength, nextHop, metric, refcnt, use, flags, iface;
        if (!(fields >> dest >> destLength >> src >> srcLength >> nextHop >> metric >> refcnt >> use >>
              flags >> iface))
            continue;
        const auto destination = hexAddress6(dest);
        const auto length = hexNumber<unsigned>(destLength);
        const auto via = hexAddress6(nextHop);
        const auto metricValue = hexNumber<std::uint32_t>(metric);
        const auto flagBits = hexNumber<std::uint32_t>(flags);
        if (!destination || !length || *length > 128 || !via || !metricValue || !flagBits) continue;
        // A route to IPv4-mapped addresses (::ffff:0:0/96) carries no IPv6 traffic: not an IPv6 prefix here.
        if (destination->isV4()) continue;
        const net::IpPrefix prefix{*destination, static_cast<std::uint8_t>(*length)};
        routes.push_back(KernelRoute6{iface, prefix, *via, *metricValue, *flagBits});
    }
    return routes;
}

bool hasDefaultRoute6() {
    for (const auto& r : parseRoute6Table(readProcFile("/proc/net/ipv6_route"))) {
        if (r.destination.prefixLength == 0 && !r.rejects()) return true;
    }
    return false;
}

std::vector<InterfaceAddress6> parseIfInet6(std::string_view text) {
    std::vector<InterfaceAddress6> addresses;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string addr, index, length, scope, flags, iface;
        if (!(fields >> addr >> index >> length >> scope >> flags >> iface)) continue;
        const auto address = hexAddress6(addr);
        const auto prefixLength = hexNumber<unsigned>(length);
        const auto scopeValue = hexNumber<unsigned>(scope);
        const auto flagBits = hexNumber<unsigned>(flags);
        if (!address || !prefixLength || *prefixLength > 128 || !scopeValue || *scopeValue > 0xFF ||
            !flagBits || *flagBits > 0xFF)
            continue;
        addresses.push_back(InterfaceAddress6{iface, *address, static_cast<std::uint8_t>(*prefixLength),
                                              static_cast<std::uint8_t>(*scopeValue),
                                              static_cast<std::uint8_t>(*flagBits)});
    }
    return addresses;
}

std::vector<InterfaceAddress6> interfaceAddresses6() {
    return parseIfInet6(readProcFile("/proc/net/if_inet6"));
}

Result<RouteInfo> routeTo(const net::IpAddr& to) {
    using R = Result<RouteInfo>;
    UniqueFd fd(::socket(familyOf(to), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return R::fail(std::string("socket: ") + std::strerror(errno));
    const SockAddr remote = toSockaddr(net::Endpoint{to, net::Port(9)});
    if (::connect(fd.get(), remote.get(), remote.length) != 0) return R::fail(std::strerror(errno));
    SockAddr local;
    socklen_t len = sizeof local.storage;
    if (::getsockname(fd.get(), local.get(), &len) != 0) {
        return R::fail(std::string("getsockname: ") + std::strerror(errno));
    }
    local.length = len;
    const net::IpAddr source = fromSockaddr(local).addr;
    // Loopback, or an address of this host: the local table sends it over lo, whatever the main
    // table (which is all /proc/net/route shows) says.
    if (to.isLoopback() || source == to) return R::ok(RouteInfo{source, "lo"});
    return R::ok(RouteInfo{source, interfaceFor(to)});
}

std::string checkListen(const net::Endpoint& at) {
    UniqueFd fd(::socket(familyOf(at.addr), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return std::string("socket: ") + std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!at.addr.isV4()) {
        // As os::Listener binds: "::" dual stack (so an IPv4 listener on the port is a conflict).
        const int v6only = at.addr.isUnspecified() ? 0 : 1;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
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
