#include "tcpcopy/app/replay_options.h"

#include <algorithm>
#include <charconv>

#include "tcpcopy/config/address.h"
#include "tcpcopy/inject/link_injector.h"

namespace tcpcopy::app {
namespace {

using config::quote;

// The rule syntax, as the errors state it.
constexpr std::string_view kRuleForm = "[tcp:|udp:][onlineIP:]port-targetIP:port, IPv6 as [IP]:port";
// -c: prefixes expand to at most 65,535 addresses (an IPv4 /16, an IPv6 /112).
constexpr unsigned kMinPoolPrefixV4 = 16;
constexpr unsigned kMinPoolPrefixV6 = 112;

bool parseNumber(std::string_view text, unsigned min, unsigned max, unsigned& out) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) return false;
    out = value;
    return true;
}

std::string badRule(std::string_view element, std::string_view reason = {}) {
    return "bad rule " + quote(element) + " (want " + std::string(kRuleForm) + ")" +
           (reason.empty() ? "" : ": " + std::string(reason));
}

// The hosts of an IPv6 prefix of kMinPoolPrefixV6 bits or more, without its subnet-router anycast
// address (host part zero, RFC 4291 2.6.1) unless the prefix is /127 or /128 (RFC 6164).
void expandV6(const net::IpPrefix& prefix, std::vector<net::IpAddr>& pool) {
    const unsigned hostBits = 128u - prefix.prefixLength;
    const std::uint32_t size = std::uint32_t{1} << hostBits;
    net::IpAddr::Octets base = prefix.network.octets();
    const auto mask = static_cast<std::uint16_t>(0xFFFFu << hostBits);
    const auto low = static_cast<std::uint16_t>(((base[14] << 8) | base[15]) & mask);
    for (std::uint32_t host = prefix.prefixLength < 127 ? 1 : 0; host < size; ++host) {
        const auto value = static_cast<std::uint16_t>(low | host);
        base[14] = static_cast<std::uint8_t>(value >> 8);
        base[15] = static_cast<std::uint8_t>(value);
        pool.push_back(net::IpAddr::fromOctets(base));
    }
}

}  // namespace

bool parsePort(std::string_view text, net::Port& out) {
    unsigned value = 0;
    if (!parseNumber(text, 1, 65535, value)) return false;
    out = net::Port(static_cast<std::uint16_t>(value));
    return true;
}

std::string splitLinkMacs(std::string_view text, std::string& rules, std::vector<LinkRuleMacs>& macs) {
    constexpr std::size_t kMacText = 17;  // "00:11:22:33:44:55"
    constexpr std::string_view kMacForm = "[onlineIP:]port@SRC_MAC-targetIP:port@DST_MAC";
    std::vector<LinkRuleMacs> found;
    std::string stripped;
    bool firstElement = true;
    for (std::string_view element : config::splitList(text)) {
        std::string rule;
        LinkRuleMacs entry;
        bool pastDash = false;
        for (std::size_t i = 0; i < element.size(); ++i) {
            const char c = element[i];
            if (c == '@') {
                const std::string_view macText = element.substr(i + 1, kMacText);
                auto mac = inject::parseMac(macText);
                if (!mac) {
                    return "bad MAC address " + quote(macText) + " in rule " + quote(element) + " (want " +
                           std::string(kMacForm) + ", MACs as 00:11:22:33:44:55)";
                }
                (pastDash ? entry.nextHop : entry.source) = *mac;
                i += kMacText;
                continue;
            }
            if (c == '-') pastDash = true;
            rule += c;
        }
        if (entry.source || entry.nextHop) {
            const auto dash = rule.find('-');
            config::HostPort target;
            if (dash == std::string::npos || !config::parseHostPort(std::string_view(rule).substr(dash + 1),
                                                                    config::PortUse::Required, target)
                                                  .empty())
                return "bad rule " + quote(element) + " (want " + std::string(kMacForm) + ")";
            entry.target = target.addr;
            found.push_back(entry);
        }
        if (!firstElement) stripped += ',';
        stripped += rule;
        firstElement = false;
    }
    rules = std::move(stripped);
    macs.insert(macs.end(), found.begin(), found.end());
    return {};
}

std::string parseRules(std::string_view text, std::vector<session::AddressRule>& tcp,
                       std::vector<session::AddressRule>& udp) {
    std::vector<session::AddressRule> tcpRules;
    std::vector<session::AddressRule> udpRules;
    for (const std::string_view element : config::splitList(text)) {
        std::string_view body = element;
        std::vector<session::AddressRule>* rules = &tcpRules;
        if (body.starts_with("udp:")) {
            rules = &udpRules;
            body.remove_prefix(4);
        } else if (body.starts_with("tcp:")) {
            body.remove_prefix(4);
        }
        const auto dash = body.find('-');
        if (dash == std::string_view::npos) return badRule(element);
        const std::string_view online = body.substr(0, dash);
        session::AddressRule rule;
        // The online side: a port alone, or an address with its port.
        if (online.find_first_of(":[") == std::string_view::npos) {
            if (!parsePort(online, rule.onlinePort)) return badRule(element);
        } else {
            config::HostPort side;
            if (std::string reason = config::parseHostPort(online, config::PortUse::Required, side);
                !reason.empty())
                return badRule(element, reason);
            rule.onlineAddr = side.addr;
            rule.onlinePort = *side.port;
        }
        config::HostPort target;
        if (std::string reason =
                config::parseHostPort(body.substr(dash + 1), config::PortUse::Required, target);
            !reason.empty())
            return badRule(element, reason);
        rule.target = net::Endpoint{target.addr, *target.port};
        if (rules == &udpRules && (rule.target.addr.isV6() || (rule.onlineAddr && rule.onlineAddr->isV6())))
            return "rule " + quote(element) + ": udp: rules are IPv4 only (UDP copy sends no IPv6)";
        for (const auto& existing : *rules) {
            if (existing.onlinePort == rule.onlinePort && existing.onlineAddr == rule.onlineAddr) {
                return "rule " + quote(element) + " repeats the online side of an earlier rule";
            }
        }
        rules->push_back(rule);
    }
    tcp.insert(tcp.end(), tcpRules.begin(), tcpRules.end());
    udp.insert(udp.end(), udpRules.begin(), udpRules.end());
    return {};
}

std::string parseAddressPool(std::string_view text, std::vector<net::IpAddr>& out) {
    std::vector<net::IpAddr> pool;
    for (std::string_view element : config::splitList(text)) {
        std::string bad = "bad client address " + quote(element) +
                          " (want a.b.c.d, a.b.c.d/n, a.b.c.x, an IPv6 address or IPv6/n)";
        if (element.ends_with(".x")) {
            auto base = net::Ipv4Addr::parse(std::string(element.substr(0, element.size() - 2)) + ".0");
            if (!base) return bad;
            for (std::uint32_t host = 1; host <= 254; ++host)
                pool.emplace_back(net::Ipv4Addr(base->value() + host));
            continue;
        }
        if (element.find('/') != std::string_view::npos) {
            const auto prefix = net::IpPrefix::parse(element);
            const unsigned minLength = prefix && prefix->network.isV6() ? kMinPoolPrefixV6 : kMinPoolPrefixV4;
            if (!prefix || prefix->prefixLength < minLength) {
                return bad + "; prefixes from /" + std::to_string(kMinPoolPrefixV4) + " to /32 for IPv4, /" +
                       std::to_string(kMinPoolPrefixV6) + " to /128 for IPv6 (at most 65,535 addresses each)";
            }
            if (prefix->network.isV6()) {
                expandV6(*prefix, pool);
                continue;
            }
            const unsigned bits = prefix->prefixLength;
            const std::uint32_t mask = ~std::uint32_t{0} << (32 - bits);
            const std::uint32_t network = prefix->network.v4().value() & mask;
            const std::uint32_t size = bits == 32 ? 1 : (std::uint32_t{1} << (32 - bits));
            const std::uint32_t first = bits < 31 ? 1 : 0;
            const std::uint32_t last = bits < 31 ? size - 2 : size - 1;
            for (std::uint32_t host = first; host <= last; ++host)
                pool.emplace_back(net::Ipv4Addr(network + host));
            continue;
        }
        net::IpAddr addr;
        if (!config::parseAddress(element, addr).empty()) return bad;
        pool.push_back(addr);
    }
    out.insert(out.end(), pool.begin(), pool.end());
    return {};
}

std::string checkRuleFamilies(const session::EngineConfig& engine) {
    for (const session::AddressRule& rule : engine.rules) {
        if (!rule.onlineAddr || rule.onlineAddr->isV4() == rule.target.addr.isV4()) continue;
        const bool poolHasFamily =
            std::any_of(engine.clientPool.begin(), engine.clientPool.end(),
                        [&](const net::IpAddr& a) { return a.isV4() == rule.target.addr.isV4(); });
        if (poolHasFamily) continue;
        const std::string targetFamily(config::familyName(rule.target.addr));
        std::string text = "-x/--transfer: the rule for ";
        text += net::Endpoint{*rule.onlineAddr, rule.onlinePort}.toString();
        text += " sends ";
        text += config::familyName(*rule.onlineAddr);
        text += " clients to the " + targetFamily + " target " + rule.target.toString();
        text += ": give -c/--client-ips " + targetFamily + " addresses for them to replay from";
        return text;
    }
    return {};
}

}  // namespace tcpcopy::app
