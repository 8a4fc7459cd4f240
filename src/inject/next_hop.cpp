#include "tcpcopy/inject/next_hop.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tcpcopy/os/preflight.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::inject {
namespace {

constexpr int kArpTries = 3;
constexpr auto kArpWait = std::chrono::milliseconds(1000);

std::string readFile(const char* path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// DEV's first IPv4 address, or 0.0.0.0 (an ARP probe, which Linux answers too).
std::uint32_t deviceIpv4(int fd, const std::string& device) {
    ifreq request{};
    std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
    request.ifr_addr.sa_family = AF_INET;
    if (::ioctl(fd, SIOCGIFADDR, &request) != 0) return 0;
    sockaddr_in address{};
    std::memcpy(&address, &request.ifr_addr, sizeof address);
    return address.sin_addr.s_addr;  // network order
}

}  // namespace

os::Result<MacAddress> deviceMac(const std::string& device) {
    using R = os::Result<MacAddress>;
    os::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return R::fail("-o " + device + ": socket: " + std::strerror(errno));
    ifreq request{};
    std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd.get(), SIOCGIFHWADDR, &request) != 0) {
        return R::fail("-o " + device + ": cannot read its MAC address: " + std::strerror(errno));
    }
    MacAddress mac{};
    std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
    return R::ok(mac);
}

net::Ipv4Addr nextHopFor(net::Ipv4Addr target, const std::string& device, std::string_view routeTable) {
    int bestPrefix = -1;
    std::uint32_t gateway = 0;
    for (const os::KernelRoute& route : os::parseRouteTable(routeTable)) {
        if (route.interface != device || (target.value() & route.mask) != route.destination) continue;
        const int prefix = __builtin_popcount(route.mask);
        if (prefix <= bestPrefix) continue;
        bestPrefix = prefix;
        gateway = route.gateway;
    }
    return gateway != 0 ? net::Ipv4Addr(gateway) : target;
}

std::optional<MacAddress> findNeighbour(std::string_view arpTable, net::Ipv4Addr ip,
                                        const std::string& device) {
    std::istringstream lines{std::string(arpTable)};
    std::string line;
    std::getline(lines, line);  // header
    const std::string wanted = ip.toString();
    while (std::getline(lines, line)) {
        // IP address  HW type  Flags  HW address  Mask  Device
        std::istringstream fields(line);
        std::string address, type, flags, mac, mask, iface;
        if (!(fields >> address >> type >> flags >> mac >> mask >> iface)) continue;
        if (address != wanted || iface != device) continue;
        if ((std::stoul(flags, nullptr, 16) & 0x2) == 0) continue;  // ATF_COM: complete
        return parseMac(mac);
    }
    return std::nullopt;
}

os::Result<MacAddress> resolveMac(const std::string& device, net::Ipv4Addr ip) {
    using R = os::Result<MacAddress>;
    if (auto known = findNeighbour(readFile("/proc/net/arp"), ip, device)) return R::ok(*known);
    const std::string what = "-o " + device + ": cannot resolve the MAC address of " + ip.toString();
    auto own = deviceMac(device);
    if (!own) return R::fail(own.error());
    const unsigned ifindex = if_nametoindex(device.c_str());
    if (ifindex == 0) return R::fail("-o " + device + ": no such device");
    os::UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP)));
    if (!fd) return R::fail(what + ": packet socket: " + std::strerror(errno));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ARP);
    at.sll_ifindex = static_cast<int>(ifindex);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        return R::fail(what + ": bind: " + std::strerror(errno));
    }
    const std::uint32_t sender = deviceIpv4(fd.get(), device);
    const std::uint32_t target = htonl(ip.value());
    // Ethernet (14) + ARP for IPv4 over Ethernet (28).
    std::uint8_t request[42] = {};
    std::memset(request, 0xff, 6);
    std::memcpy(request + 6, own.value().data(), 6);
    request[12] = 0x08, request[13] = 0x06;            // ETH_P_ARP
    request[14] = 0x00, request[15] = 0x01;            // hardware: Ethernet
    request[16] = 0x08, request[17] = 0x00;            // protocol: IPv4
    request[18] = 6, request[19] = 4;                  // address lengths
    request[20] = 0x00, request[21] = 0x01;            // request
    std::memcpy(request + 22, own.value().data(), 6);  // sender MAC
    std::memcpy(request + 28, &sender, 4);             // sender IP (0: a probe)
    std::memcpy(request + 38, &target, 4);             // target IP
    for (int attempt = 0; attempt < kArpTries; ++attempt) {
        if (::send(fd.get(), request, sizeof request, 0) != static_cast<ssize_t>(sizeof request)) {
            return R::fail(what + ": sending ARP: " + std::strerror(errno));
        }
        const auto deadline = std::chrono::steady_clock::now() + kArpWait;
        for (auto now = std::chrono::steady_clock::now(); now < deadline;
             now = std::chrono::steady_clock::now()) {
            pollfd p{fd.get(), POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
            if (::poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
            std::uint8_t reply[128];
            const ssize_t n = ::recv(fd.get(), reply, sizeof reply, MSG_DONTWAIT);
            if (n < 42 || reply[20] != 0x00 || reply[21] != 0x02) continue;  // not an ARP reply
            if (std::memcmp(reply + 28, &target, 4) != 0) continue;          // from someone else
            MacAddress mac{};
            std::memcpy(mac.data(), reply + 22, 6);
            return R::ok(mac);
        }
    }
    return R::fail(what + " (no neighbour entry, no answer to " + std::to_string(kArpTries) +
                   " ARP requests) -> give it in the -x rule: PORT@SRC_MAC-IP:PORT@DST_MAC");
}

}  // namespace tcpcopy::inject
