// libFuzzer target for the config-file parser (config::OptionTable::applyConfigText) and the
// address values of option texts (config::parseHostPort, as the `listen` key here).
// Properties: nothing crashes or reads out of bounds; an accepted file, dumped with
// --dump-config and read back into a fresh table, gives the same dump (the dump is a faithful
// config file); a refused file yields one line starting with "fuzz.conf:"; an accepted address,
// printed as the daemons print it, reads back as the same address and port.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/config/address.h"
#include "tcpcopy/config/options.h"

namespace {

struct Toy {
    int accelerate = 1;
    bool daemon = false;
    std::string filter;
    std::string logFile = "/var/log/toy.log";
    std::vector<std::string> transfer;
    double ratio = 0.5;
    std::uint16_t port = 36524;
    std::int64_t offset = 0;
    std::uint64_t big = 0;
    std::string level = "info";
    tcpcopy::config::HostPort listen;
    tcpcopy::config::OptionTable table{"toy", "fuzz"};

    Toy() {
        table.integer('a', "accelerate", accelerate, 1, 1000000, "a").group("G");
        table.flag('d', "daemon", daemon, "d");
        table.string('F', "filter", filter, "f");
        table.string('l', "log-file", logFile, "l");
        table.list('x', "transfer", transfer, "x");
        table.number('r', "ratio", ratio, 0.0, 1.0, "r");
        table.integer('p', "port", port, std::uint16_t{1}, std::uint16_t{65535}, "p");
        table.integer('\0', "offset", offset, std::int64_t{-100}, std::int64_t{100}, "o");
        table.integer('\0', "big", big, std::uint64_t{0}, UINT64_MAX, "b");
        table.custom(
            'g', "level", "LEVEL", "info",
            [this](std::string_view t) -> std::string {
                if (t.size() > 8) return "too long";
                level = std::string(t);
                return {};
            },
            "g");
        table.custom(
            '\0', "listen", "ADDR", "",
            [this](std::string_view t) -> std::string {
                using tcpcopy::config::PortUse;
                std::string reason = tcpcopy::config::parseHostPort(t, PortUse::Optional, listen, 0);
                if (!reason.empty()) return reason;
                const std::string printed = listen.port
                                                ? tcpcopy::net::Endpoint{listen.addr, *listen.port}.toString()
                                                : listen.addr.toString();
                tcpcopy::config::HostPort again;
                if (!tcpcopy::config::parseHostPort(printed, PortUse::Optional, again, 0).empty() ||
                    again.addr != listen.addr || again.port != listen.port)
                    std::abort();
                return {};
            },
            "l");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Toy first;
    const auto r = first.table.applyConfigText(text, "fuzz.conf");
    if (r.outcome == tcpcopy::config::Outcome::Error) {
        if (r.text.rfind("fuzz.conf:", 0) != 0 || r.text.find('\n') != std::string::npos) std::abort();
        return 0;
    }
    const std::string dump = first.table.dumpConfig();
    Toy second;
    const auto again = second.table.applyConfigText(dump, "dump.conf");
    if (again.outcome != tcpcopy::config::Outcome::Run || second.table.dumpConfig() != dump) std::abort();
    return 0;
}
