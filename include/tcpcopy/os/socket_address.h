#pragma once
// IPv4 endpoints to and from the socket API's sockaddr_in (network byte order inside), in one
// place for every socket the daemons open.

#include <netinet/in.h>

#include "tcpcopy/net/types.h"

namespace tcpcopy::os {

inline sockaddr_in toSockaddr(const net::Endpoint& endpoint) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(endpoint.addr.value());
    sin.sin_port = htons(endpoint.port.value());
    return sin;
}

inline net::Endpoint fromSockaddr(const sockaddr_in& sin) {
    return net::Endpoint{net::Ipv4Addr(ntohl(sin.sin_addr.s_addr)), net::Port(ntohs(sin.sin_port))};
}

}  // namespace tcpcopy::os
