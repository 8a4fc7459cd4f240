#include "tcpcopy/inject/next_hop.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include "link_query.h"
#include "tcpcopy/inject/ndp.h"
#include "tcpcopy/os/preflight.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::inject {
namespace {

constexpr int kResolveTries = 3;  // ARP requests or neighbour solicitations, a second apart
// The kernel's NUD_VALID (include/net/neighbour.h, not exported to user space).
constexpr std::uint16_t kNudValid =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

struct MnlSocketClose {
    void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

// The attributes of one neighbour message that we read, each checked for its length.
struct NeighbourAttributes {
    const nlattr* destination = nullptr;
    const nlattr* lladdr = nullptr;
};

int keepNeighbourAttribute(const nlattr* attribute, void* data) {
    auto& found = *static_cast<NeighbourAttributes*>(data);
    if (mnl_attr_type_valid(attribute, NDA_MAX) < 0) return MNL_CB_OK;  // newer than us: skip
    switch (mnl_attr_get_type(attribute)) {
        case NDA_DST:
            found.destination = attribute;
            break;
        case NDA_LLADDR:
            found.lladdr = attribute;
            break;
        default:
            break;
    }
    return MNL_CB_OK;
}

struct ScanContext {
    net::IpAddr ip;
    unsigned ifindex;
    NeighbourScan* scan;
};

int scanNeighbourMessage(const nlmsghdr* header, void* data) {
    auto& context = *static_cast<ScanContext*>(data);
    if (context.scan->mac) return MNL_CB_OK;
    const auto neighbour =
        parseNeighbourMessage(std::span(reinterpret_cast<const std::byte*>(header), header->nlmsg_len));
    if (neighbour && neighbour->address == context.ip && neighbour->ifindex == context.ifindex &&
        neighbour->usable()) {
        context.scan->mac = neighbour->lladdr;
    }
    return MNL_CB_OK;
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

// ARP requests for `ip` on `device` (kResolveTries, a second apart): the MAC of the first reply.
os::Result<std::optional<MacAddress>> askArp(const std::string& device, net::Ipv4Addr ip) {
    using R = os::Result<std::optional<MacAddress>>;
    auto own = deviceMac(device);
    if (!own) return R::fail(own.error());
    const unsigned ifindex = if_nametoindex(device.c_str());
    if (ifindex == 0) return R::fail("no such device");
    auto fd = openLinkSocket(ifindex, ETH_P_ARP);
    if (!fd) return R::fail(fd.error());
    const std::uint32_t sender = deviceIpv4(fd.value().get(), device);
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
    return askOnLink(fd.value().get(), request, kResolveTries,
                     [target](std::span<const std::uint8_t> reply) -> std::optional<MacAddress> {
                         if (reply.size() < 42 || reply[20] != 0x00 || reply[21] != 0x02) return std::nullopt;
                         if (std::memcmp(reply.data() + 28, &target, 4) != 0)
                             return std::nullopt;  // someone else
                         MacAddress mac{};
                         std::memcpy(mac.data(), reply.data() + 22, 6);
                         return mac;
                     });
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

net::IpAddr nextHopForIpv6(const net::IpAddr& target, const std::string& device,
                           std::string_view routeTable) {
    const os::KernelRoute6* best = nullptr;
    const std::vector<os::KernelRoute6> routes = os::parseRoute6Table(routeTable);
    for (const os::KernelRoute6& route : routes) {
        if (route.interface != device || (route.flags & RTF_UP) == 0 || route.rejects() ||
            !route.destination.contains(target)) {
            continue;
        }
        if (best == nullptr || route.destination.prefixLength > best->destination.prefixLength ||
            (route.destination.prefixLength == best->destination.prefixLength &&
             route.metric < best->metric)) {
            best = &route;
        }
    }
    if (best != nullptr && (best->flags & RTF_GATEWAY) != 0 && !best->nextHop.isUnspecified()) {
        return best->nextHop;
    }
    return target;
}

bool Neighbour::usable() const { return lladdr && (state & kNudValid) != 0; }

std::optional<Neighbour> parseNeighbourMessage(std::span<const std::byte> message) {
    if (message.size() < sizeof(nlmsghdr)) return std::nullopt;
    // The span need not be aligned for nlmsghdr: the message is read from an aligned copy.
    std::vector<std::uint32_t> aligned((message.size() + 3) / 4);
    std::memcpy(aligned.data(), message.data(), message.size());
    const auto* header = reinterpret_cast<const nlmsghdr*>(aligned.data());
    if (!mnl_nlmsg_ok(header, static_cast<int>(message.size()))) return std::nullopt;
    if (header->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(header) < sizeof(ndmsg)) {
        return std::nullopt;
    }
    const auto* entry = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(header));
    if (entry->ndm_family != AF_INET && entry->ndm_family != AF_INET6) return std::nullopt;
    const std::size_t addressLength = entry->ndm_family == AF_INET ? 4 : 16;
    NeighbourAttributes attributes;
    if (mnl_attr_parse(header, sizeof(ndmsg), keepNeighbourAttribute, &attributes) != MNL_CB_OK) {
        return std::nullopt;
    }
    if (attributes.destination == nullptr ||
        mnl_attr_get_payload_len(attributes.destination) != addressLength) {
        return std::nullopt;
    }
    Neighbour neighbour;
    const auto* destination = static_cast<const std::byte*>(mnl_attr_get_payload(attributes.destination));
    if (addressLength == 4) {
        std::uint32_t v4 = 0;  // network order
        std::memcpy(&v4, destination, 4);
        neighbour.address = net::Ipv4Addr(ntohl(v4));
    } else {
        neighbour.address = net::IpAddr::fromWire(destination);
    }
    neighbour.ifindex = static_cast<unsigned>(entry->ndm_ifindex);
    neighbour.state = entry->ndm_state;
    if (attributes.lladdr != nullptr && mnl_attr_get_payload_len(attributes.lladdr) == 6) {
        MacAddress mac{};
        std::memcpy(mac.data(), mnl_attr_get_payload(attributes.lladdr), mac.size());
        neighbour.lladdr = mac;
    }
    return neighbour;
}

std::vector<std::byte> neighbourDumpRequest(std::uint8_t family, std::uint32_t seq) {
    alignas(nlmsghdr) std::byte request[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(ndmsg))] = {};
    nlmsghdr* header = mnl_nlmsg_put_header(request);
    header->nlmsg_type = RTM_GETNEIGH;
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    header->nlmsg_seq = seq;
    auto* entry = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
    entry->ndm_family = family;
    return std::vector<std::byte>(request, request + header->nlmsg_len);
}

void scanNeighbourDatagram(std::span<const std::byte> datagram, std::uint32_t seq, std::uint32_t portid,
                           const net::IpAddr& ip, unsigned ifindex, NeighbourScan& scan) {
    std::vector<std::uint32_t> aligned((datagram.size() + 3) / 4);
    std::memcpy(aligned.data(), datagram.data(), datagram.size());
    ScanContext context{ip, ifindex, &scan};
    errno = 0;
    const int run = mnl_cb_run(aligned.data(), datagram.size(), seq, portid, scanNeighbourMessage, &context);
    if (run == MNL_CB_STOP) {
        scan.done = true;
    } else if (run == MNL_CB_ERROR) {
        scan.done = true;
        scan.error = errno != 0 ? std::strerror(errno) : "a malformed netlink message";
    }
}

os::Result<std::optional<MacAddress>> lookupNeighbour(const std::string& device, const net::IpAddr& ip) {
    using R = os::Result<std::optional<MacAddress>>;
    const std::string what = "-o " + device + ": reading the neighbour table (RTM_GETNEIGH)";
    const unsigned ifindex = if_nametoindex(device.c_str());
    if (ifindex == 0) return R::fail("-o " + device + ": no such device");
    MnlSocket socket(mnl_socket_open(NETLINK_ROUTE));
    if (!socket) return R::fail(what + ": socket: " + std::strerror(errno));
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
        return R::fail(what + ": bind: " + std::strerror(errno));
    }
    constexpr std::uint32_t kSeq = 1;
    const std::vector<std::byte> request = neighbourDumpRequest(ip.isV4() ? AF_INET : AF_INET6, kSeq);
    if (mnl_socket_sendto(socket.get(), request.data(), request.size()) < 0) {
        return R::fail(what + ": send: " + std::strerror(errno));
    }
    const std::uint32_t portid = mnl_socket_get_portid(socket.get());
    // 32 KiB: the most a dump datagram holds on any page size (MNL_SOCKET_BUFFER_SIZE caps at 8 KiB).
    std::vector<std::byte> buffer(32768);
    NeighbourScan scan;
    while (!scan.done) {
        const ssize_t n = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
        if (n < 0) return R::fail(what + ": receive: " + std::strerror(errno));
        scanNeighbourDatagram(std::span(buffer.data(), static_cast<std::size_t>(n)), kSeq, portid, ip,
                              ifindex, scan);
        if (!scan.error.empty()) return R::fail(what + ": " + scan.error);
    }
    return R::ok(scan.mac);
}

os::Result<ResolvedMac> resolveMac(const std::string& device, const net::IpAddr& ip) {
    using R = os::Result<ResolvedMac>;
    auto known = lookupNeighbour(device, ip);
    if (!known) return R::fail(known.error());
    if (known.value()) return R::ok(ResolvedMac{*known.value(), true});
    const std::string what = "-o " + device + ": cannot resolve the MAC address of " + ip.toString();
    auto asked = ip.isV4() ? askArp(device, ip.v4()) : solicitNeighbour(device, ip, kResolveTries);
    if (!asked) return R::fail(what + ": " + asked.error());
    if (asked.value()) return R::ok(ResolvedMac{*asked.value(), false});
    const std::string how = ip.isV4() ? " ARP requests" : " neighbour solicitations";
    const std::string rule = ip.isV4() ? "IP:PORT" : "[IP]:PORT";
    return R::fail(what + " (no neighbour entry, no answer to " + std::to_string(kResolveTries) + how +
                   ") -> give it in the -x rule: PORT@SRC_MAC-" + rule + "@DST_MAC");
}

}  // namespace tcpcopy::inject
