#pragma once
// The comparison of an exchange's two answers, with rules a config file sets.
//
// HTTP: the status code, then the headers (those named by `headers`, or every header but the
// ignored ones; Set-Cookie by cookie names only), then the body: its digest, or its size within a
// tolerance. RESP: the reply's type (error codes included), then its value, except for commands
// whose answers vary by nature (TIME, RANDOMKEY, ...), compared by type only. Generic: equal
// bytes, else the first offset where they differ.
//
// Where a payload was only partly captured (intercept --payload N, a snaplen) the bodies cannot
// be digested: their sizes are compared, and their bytes as far as both were seen; an exchange
// that agrees that far counts as a match and is marked partial.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpcopy/diff/exchange.h"

namespace tcpcopy::diff {

enum class BodyRule : std::uint8_t {
    Hash,  // equal bodies (digest and size)
    Size,  // sizes within sizeTolerancePercent
    None,  // bodies not compared
};
std::string_view bodyRuleName(BodyRule rule);  // "hash", "size", "none"
std::optional<BodyRule> parseBodyRule(std::string_view text);

// Headers that differ between two correct answers by nature: times, server identity, request
// ids, caching validators, and the framing headers (the body is compared on its own).
std::vector<std::string> defaultIgnoredHeaders();
// Redis commands whose answers differ between two correct servers.
std::vector<std::string> defaultTypeOnlyCommands();

struct CompareRules {
    std::vector<std::string> headers;  // lower case; empty: every header not in ignoreHeaders
    std::vector<std::string> ignoreHeaders = defaultIgnoredHeaders();  // lower case
    BodyRule body = BodyRule::Hash;
    double sizeTolerancePercent = 0;  // BodyRule::Size: |target - online| <= online * this / 100
    std::vector<std::string> typeOnlyCommands = defaultTypeOnlyCommands();  // upper case
    // A request is "slower" when the target took more than slowerFactor times the online
    // server's time and at least slowerMargin more.
    double slowerFactor = 2.0;
    Time slowerMargin = std::chrono::milliseconds(20);
};

// Config-file values (the wiring's option table calls these). Each returns "" on success or a
// reason phrase that reads after the option's name ("expects hash, size or none, got 'x'").
// Lists are comma-separated; blanks around items are trimmed; "" empties the list.
std::string parseHeaderList(std::string_view text, std::vector<std::string>& out);
std::string parseCommandList(std::string_view text, std::vector<std::string>& out);
// The rules as a whole: tolerance 0..1000 %, factor >= 1, margin >= 0.
std::string validateRules(const CompareRules& rules);

enum class Category : std::uint8_t {
    Status,   // HTTP status code
    Header,   // an HTTP header compared
    Body,     // the body's bytes
    Size,     // the body's size
    Type,     // RESP reply type (or error code)
    Value,    // RESP reply value
    Bytes,    // generic: the bytes
    Missing,  // the target did not answer
    Cut,      // the target's answer ended early (the connection closed inside it)
    Count,
};
inline constexpr std::size_t kCategoryCount = static_cast<std::size_t>(Category::Count);
std::string_view categoryName(Category category);  // "status", "header", ...

struct Difference {
    Category category = Category::Body;
    std::string detail;  // one line, e.g. "status 200 -> 500", "header content-type: text/html -> text/plain"
};

enum class Outcome : std::uint8_t { Match, Differ, NotCompared };

struct Verdict {
    Outcome outcome = Outcome::NotCompared;
    Skip skip = Skip::None;               // why, for NotCompared
    bool partial = false;                 // a match as far as the captured bytes go
    bool slower = false;                  // see CompareRules::slowerFactor
    std::vector<Difference> differences;  // in the order of the rules, at most one per header
};

class Comparator {
  public:
    explicit Comparator(CompareRules rules = {});
    Verdict compare(const Exchange& exchange) const;
    const CompareRules& rules() const { return rules_; }

  private:
    void compareHttp(const Message& online, const Message& target, Verdict& verdict) const;
    void compareHeaders(const Message& online, const Message& target, Verdict& verdict) const;
    void compareResp(const Exchange& exchange, const Message& online, const Message& target,
                     Verdict& verdict) const;
    // Body bytes and size by the rules: Category::Body/Size for HTTP, Value for RESP, Bytes for generic.
    void compareBody(const Message& online, const Message& target, BodyRule rule, Category category,
                     Verdict& verdict) const;
    bool ignored(std::string_view header) const;

    CompareRules rules_;
};

// The first offset at which `a` and `b` differ over their common length, or npos.
std::size_t firstDifference(std::string_view a, std::string_view b);

}  // namespace tcpcopy::diff
