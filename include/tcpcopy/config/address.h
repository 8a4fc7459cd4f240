#pragma once
// Addresses in option values: one reading for every flag of both daemons that takes one (tcpcopy's
// -x, -s, -c, -H, --metrics; intercept's -b, -D, --nat-client, --metrics), on the command line and
// in config files alike.
//
//   198.18.0.1             an IPv4 address
//   2001:db8::1            an IPv6 address; no port can follow (its last group would read as one)
//   [2001:db8::1]          the same, in brackets
//   198.18.0.1:80          IPv4 with a port
//   [2001:db8::1]:80       IPv6 with a port: the bracket form of URLs (RFC 3986)
//
// The reasons returned read after the flag's name ("-s/--intercept: '198.18.0.300' is not an IPv4
// or IPv6 address"), quote what was given (at most 80 characters of it) and never throw.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/net/types.h"

namespace tcpcopy::config {

// Whether the text may, or must, carry a port.
enum class PortUse {
    None,      // the address alone (-b, -H): "ADDR", "[IPv6]"
    Optional,  // "ADDR" or "ADDR:PORT" (-s: a default port otherwise)
    Required,  // "ADDR:PORT" (--metrics, -x targets)
};

struct HostPort {
    net::IpAddr addr;
    std::optional<net::Port> port;  // set when the text had one
};

// Parses one address (with a port as `use` allows) into `out`: "" on success, otherwise the
// reason (and `out` untouched). Ports are minPort..65535 (--metrics takes 0: any free port).
std::string parseHostPort(std::string_view text, PortUse use, HostPort& out, std::uint16_t minPort = 1);
// An address alone ("198.18.0.1", "2001:db8::1", "[2001:db8::1]"), for flags with no port.
std::string parseAddress(std::string_view text, net::IpAddr& out);

// "IPv4" or "IPv6", for messages.
std::string_view familyName(const net::IpAddr& addr);

// The elements of a comma-separated list, blanks around each trimmed; empty elements are kept
// (for the caller to refuse, naming the list).
std::vector<std::string_view> splitList(std::string_view text);

// What a user gave, made safe for an error line: printable ASCII as is, other bytes as \xNN, cut
// to 80 characters ("..." after), so a binary file cannot flood the terminal.
std::string printable(std::string_view text);
// The same inside single quotes.
std::string quote(std::string_view text);

}  // namespace tcpcopy::config
