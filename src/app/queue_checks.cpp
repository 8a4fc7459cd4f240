// `intercept --nfqueue N --check`: is there a rule that queues to N, is the queue free, does the
// pass list parse. The rules are read from the kernel's nftables ruleset through libnftables
// (rules made with nft or with iptables-nft; the legacy x_tables backend is not read).

#include <nftables/libnftables.h>

#include <regex>
#include <string>

#include "tcpcopy/app/checks.h"
#include "tcpcopy/capture/nfqueue.h"

namespace tcpcopy::app {
namespace {

// The kernel's nftables ruleset as `nft list ruleset` prints it, read through libnftables (no
// shell-out); iptables-nft rules are nftables rules and appear in it too. "" when unreadable.
std::string nftRuleset() {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr) return {};
    std::string text;
    if (nft_ctx_buffer_output(ctx) == 0 && nft_ctx_buffer_error(ctx) == 0 &&
        nft_run_cmd_from_buffer(ctx, "list ruleset") == 0) {
        if (const char* out = nft_ctx_get_output_buffer(ctx)) text = out;
    }
    nft_ctx_free(ctx);
    return text;
}

}  // namespace

bool rulesetQueuesTo(std::string_view ruleset, std::uint16_t queue) {
    const std::string n = std::to_string(queue);
    const std::string text(ruleset);
    // nft: "queue num 7", "queue num 7 bypass", "queue flags bypass to 7", "queue to 7".
    // iptables-save: "-j NFQUEUE --queue-num 7"; "-j NFQUEUE" alone is queue 0.
    const std::regex pattern("(queue num " + n + "\\b)|(queue (flags [a-z,]+ )?to " + n +
                                 "\\b)|(--queue-num " + n + "\\b)" + (queue == 0 ? "|(-j NFQUEUE\\s*$)" : ""),
                             std::regex::multiline);
    return std::regex_search(text, pattern);
}

void checkQueue(const InterceptConfig& config, os::Preflight& report) {
    const std::uint16_t queue = *config.nfqueue;
    const std::string name = "NFQUEUE " + std::to_string(queue);
    const std::string rules = nftRuleset();
    if (rulesetQueuesTo(rules, queue)) {
        report.ok("a netfilter rule queues packets to " + name);
    } else {
        report.problem("no netfilter rule queues packets to " + name +
                       " (nft list ruleset) -> iptables -I OUTPUT -p tcp --sport PORT -j NFQUEUE "
                       "--queue-num " +
                       std::to_string(queue) + " --queue-bypass (docs/nfqueue.md)");
    }
    if (auto bound = capture::readKernelQueueCounters(queue)) {
        report.problem(name + " is already read by another program (" + std::to_string(bound->waiting) +
                       " packets waiting) -> stop it, or pick another --nfqueue");
    } else {
        report.ok(name + " is free");
    }
    if (!config.passList.empty()) {
        if (auto pass = tunnel::parseCidrList(config.passList); !pass) {
            report.problem("-x/--pass: " + pass.error());
        } else {
            report.ok("pass list: responses to " + config.passList + " are always let through");
        }
    } else {
        report.info("no pass list (-x): the target's real clients get their answers after --hold-ms");
    }
}

}  // namespace tcpcopy::app
