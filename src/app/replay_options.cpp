#include "tcpcopy/app/replay_options.h"

#include <charconv>

#include "tcpcopy/inject/link_injector.h"

namespace tcpcopy::app {
namespace {

std::vector<std::string_view> splitList(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        parts.push_back(part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return parts;
}

bool parseNumber(std::string_view text, unsigned min, unsigned max, unsigned& out) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) return false;
    out = value;
    return true;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

bool parsePort(std::string_view text, net::Port& out) {
    unsigned value = 0;
    if (!parseNumber(text, 1, 65535, value)) return false;
    out = net::Port(static_cast<std::uint16_t>(value));
    return true;
}

std::string splitLinkMacs(std::string_view text, std::string& rules, std::vector<LinkRuleMacs>& macs) {
    constexpr std::size_t kMacText = 17;  // "00:11:22:33:44:55"
    std::vector<LinkRuleMacs> found;
    std::string stripped;
    bool firstElement = true;
    for (std::string_view element : splitList(text)) {
        std::string rule;
        LinkRuleMacs entry;
        bool pastDash = false;
        for (std::size_t i = 0; i < element.size(); ++i) {
            const char c = element[i];
            if (c == '@') {
                const std::string_view macText = element.substr(i + 1, kMacText);
                auto mac = inject::parseMac(macText);
                if (!mac) {
                    return "bad MAC address " + quoted(macText) + " in rule " + quoted(element) +
                           " (want [onlineIP:]port@SRC_MAC-targetIP:port@DST_MAC, MACs as 00:11:22:33:44:55)";
                }
                (pastDash ? entry.nextHop : entry.source) = *mac;
                i += kMacText;
                continue;
            }
            if (c == '-') pastDash = true;
            rule += c;
        }
        if (entry.source || entry.nextHop) {
            const auto colon = rule.rfind(':');
            const auto dash = rule.find('-');
            auto target =
                colon != std::string::npos && dash != std::string::npos && colon > dash
                    ? net::Ipv4Addr::parse(std::string_view(rule).substr(dash + 1, colon - dash - 1))
                    : std::nullopt;
            if (!target)
                return "bad rule " + quoted(element) +
                       " (want [onlineIP:]port@SRC_MAC-targetIP:port@DST_MAC)";
            entry.target = *target;
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
    for (const std::string_view element : splitList(text)) {
        std::string bad = "bad rule " + quoted(element) + " (want [tcp:|udp:][onlineIP:]port-targetIP:port)";
        std::string_view body = element;
        std::vector<session::AddressRule>* rules = &tcpRules;
        if (body.starts_with("udp:")) {
            rules = &udpRules;
            body.remove_prefix(4);
        } else if (body.starts_with("tcp:")) {
            body.remove_prefix(4);
        }
        const auto dash = body.find('-');
        if (dash == std::string_view::npos) return bad;
        std::string_view online = body.substr(0, dash);
        std::string_view target = body.substr(dash + 1);
        session::AddressRule rule;
        if (auto colon = online.rfind(':'); colon != std::string_view::npos) {
            auto addr = net::Ipv4Addr::parse(online.substr(0, colon));
            if (!addr) return bad;
            rule.onlineAddr = *addr;
            online = online.substr(colon + 1);
        }
        if (!parsePort(online, rule.onlinePort)) return bad;
        const auto colon = target.rfind(':');
        if (colon == std::string_view::npos) return bad;
        auto addr = net::Ipv4Addr::parse(target.substr(0, colon));
        if (!addr || !parsePort(target.substr(colon + 1), rule.target.port)) return bad;
        rule.target.addr = *addr;
        for (const auto& existing : *rules) {
            if (existing.onlinePort == rule.onlinePort && existing.onlineAddr == rule.onlineAddr) {
                return "rule " + quoted(element) + " repeats the online side of an earlier rule";
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
    for (std::string_view element : splitList(text)) {
        std::string bad = "bad client address " + quoted(element) + " (want a.b.c.d, a.b.c.d/n or a.b.c.x)";
        if (element.ends_with(".x")) {
            auto base = net::Ipv4Addr::parse(std::string(element.substr(0, element.size() - 2)) + ".0");
            if (!base) return bad;
            for (std::uint32_t host = 1; host <= 254; ++host)
                pool.emplace_back(net::Ipv4Addr(base->value() + host));
            continue;
        }
        if (auto slash = element.find('/'); slash != std::string_view::npos) {
            auto base = net::Ipv4Addr::parse(element.substr(0, slash));
            unsigned bits = 0;
            if (!base || !parseNumber(element.substr(slash + 1), 16, 32, bits)) {
                return bad + "; CIDR prefixes from /16 to /32";
            }
            const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
            const std::uint32_t network = base->value() & mask;
            const std::uint32_t size = bits == 32 ? 1 : (std::uint32_t{1} << (32 - bits));
            const std::uint32_t first = bits < 31 ? 1 : 0;
            const std::uint32_t last = bits < 31 ? size - 2 : size - 1;
            for (std::uint32_t host = first; host <= last; ++host)
                pool.emplace_back(net::Ipv4Addr(network + host));
            continue;
        }
        auto addr = net::Ipv4Addr::parse(element);
        if (!addr) return bad;
        pool.push_back(*addr);
    }
    out.insert(out.end(), pool.begin(), pool.end());
    return {};
}

}  // namespace tcpcopy::app
