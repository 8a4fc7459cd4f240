#pragma once
// Endpoints to and from the socket API's addresses (network byte order inside), in one place for
// every socket the daemons open. IPv4 endpoints become sockaddr_in, IPv6 ones sockaddr_in6; an
// IPv4-mapped address a dual-stack socket reports (::ffff:192.0.2.1) reads back as IPv4.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "tcpcopy/net/types.h"

namespace tcpcopy::os {

// A socket address of either family, ready for bind/connect/sendto.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

inline SockAddr toSockaddr(const net::Endpoint& endpoint) {
    SockAddr out;
    if (endpoint.addr.isV4()) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(endpoint.addr.v4().value());
        sin.sin_port = htons(endpoint.port.value());
        std::memcpy(&out.storage, &sin, sizeof sin);
        out.length = sizeof sin;
    } else {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        std::memcpy(&sin6.sin6_addr, endpoint.addr.octets().data(), 16);
        sin6.sin6_port = htons(endpoint.port.value());
        std::memcpy(&out.storage, &sin6, sizeof sin6);
        out.length = sizeof sin6;
    }
    return out;
}

inline net::Endpoint fromSockaddr(const sockaddr_in& sin) {
    return net::Endpoint{net::Ipv4Addr(ntohl(sin.sin_addr.s_addr)), net::Port(ntohs(sin.sin_port))};
}

inline net::Endpoint fromSockaddr(const sockaddr_in6& sin6) {
    net::IpAddr::Octets octets{};
    std::memcpy(octets.data(), &sin6.sin6_addr, 16);
    return net::Endpoint{net::IpAddr::fromOctets(octets), net::Port(ntohs(sin6.sin6_port))};
}

// Either family; an unknown family gives the default endpoint.
inline net::Endpoint fromSockaddr(const SockAddr& address) {
    if (address.family() == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, &address.storage, sizeof sin);
        return fromSockaddr(sin);
    }
    if (address.family() == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, &address.storage, sizeof sin6);
        return fromSockaddr(sin6);
    }
    return {};
}

// The socket family for an address: AF_INET or AF_INET6.
inline int familyOf(const net::IpAddr& addr) { return addr.isV4() ? AF_INET : AF_INET6; }

}  // namespace tcpcopy::os
