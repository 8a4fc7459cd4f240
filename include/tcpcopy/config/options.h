#pragma once
// A declarative option table shared by both daemons: every option is declared once (short flag,
// long name, target, range, help, default) and that one declaration fills the configuration from
// the command line and from a config file given with `--config FILE`.
//
// Usage (in a daemon's wiring code):
//
//     Config cfg;                                   // member initialisers are the defaults
//     config::OptionTable table("tcpcopy", "Replays live or recorded TCP traffic.");
//     table.setVersion("tcpcopy 0.1.0");            // adds -v/--version
//     table.integer('a', "accelerate", cfg.accelerate, 1, 1000000,
//                   "Replay an offline capture this many times faster").group("Offline replay");
//     table.flag('d', "daemon", cfg.daemon, "Run as a daemon");
//     const config::ParseResult r = table.parse(argc, argv);
//     if (r.outcome != config::Outcome::Run) { r.print(); return r.exitCode(); }
//
// Config file syntax: one `key = value` per line, keys are the long option names, `#` starts a
// comment line (only at the start of a line, after optional blanks), blank lines are ignored,
// CRLF line ends are accepted, a value may be wrapped in double quotes to keep surrounding blanks.
// Booleans accept true/false/yes/no/on/off/1/0. A scalar key may appear once per file; a list
// key appends on every occurrence.
//
// Precedence: declared default < config file < command line. A list given on the command line
// replaces the file's list entirely.
//
// Errors (returned, never thrown): a file error reads `FILE:LINE: reason`, e.g.
//     tcpcopy.conf:12: unknown key 'acelerate'
//     tcpcopy.conf:3: 'accelerate' must be between 1 and 1000000
// and a command-line error is one line naming the flag, e.g.
//     -a/--accelerate must be between 1 and 1000000
//
// Built-in options: -h/--help, --config FILE, --dump-config (print the effective configuration as
// a commented config file holding every key, then exit), and -v/--version when setVersion() was
// called. The table holds raw pointers to the targets: they must outlive parse().

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tcpcopy::config {

// A configuration file is a few KiB; anything this large is a mistake (or /dev/zero).
inline constexpr std::size_t kMaxConfigFileSize = 1024 * 1024;

enum class Outcome {
    Run,    // targets are filled in; go on
    Exit,   // help, version or dump-config was requested: print `text` to stdout, exit 0
    Error,  // `text` is one line naming the flag or FILE:LINE: print to stderr, exit non-zero
};

struct ParseResult {
    Outcome outcome = Outcome::Run;
    std::string text;

    // 0 for Run and Exit, 2 for Error (the usual status for a usage error).
    int exitCode() const { return outcome == Outcome::Error ? 2 : 0; }
    // Prints `text` (if any) to stdout for Exit, to stderr for Error.
    void print() const;
};

enum class ValueKind { Flag, Integer, Unsigned, Number, String, List, Custom };

// Applies a raw text to a custom target. Returns an empty string on success, otherwise a reason
// phrase that reads after the option's name, e.g. "expects ADDR:PORT, got 'x'".
using CustomApply = std::function<std::string(std::string_view text)>;

// One declared option. Modifiers return *this so a declaration reads as one statement.
class Option {
  public:
    Option& group(std::string name);      // section in --help and --dump-config
    Option& valueName(std::string name);  // placeholder in --help ("N", "FILE", "ADDR:PORT")
    Option& required();                   // must come from the command line or the file
    // On the command line the value may be left out ("-g" alone): then it is `text`. For letters
    // the original tools gave without a value. Not for the short-flag bundles ("-gx"): a value
    // must follow as a separate word or after "=".
    Option& implicitValue(std::string text);

    char shortName() const { return shortName_; }  // '\0' when the option has none
    const std::string& longName() const { return longName_; }
    const std::string& help() const { return help_; }
    const std::string& groupName() const { return group_; }
    ValueKind kind() const { return kind_; }
    bool isRequired() const { return required_; }
    // "-a/--accelerate", or "--accelerate" without a short flag.
    std::string flagNames() const;
    // The default as config-file text, captured when the option was declared.
    const std::string& defaultText() const { return defaultText_; }
    // A short description of the accepted values, e.g. "integer 1..1000000", "boolean".
    std::string typeDescription() const;

  private:
    friend class OptionTable;
    Option() = default;

    char shortName_ = '\0';
    std::string longName_;
    std::string help_;
    std::string group_;
    std::string valueName_;
    std::string defaultText_;
    std::string implicit_;  // the value of the bare flag on the command line; "" when it needs one
    ValueKind kind_ = ValueKind::String;
    bool required_ = false;

    // Range, for Integer (signed), Unsigned and Number.
    std::int64_t minSigned_ = 0, maxSigned_ = 0;
    std::uint64_t minUnsigned_ = 0, maxUnsigned_ = 0;
    double minNumber_ = 0, maxNumber_ = 0;

    // Stores a checked value into the target; exactly one is set, matching kind_.
    std::function<void(std::int64_t)> storeSigned_;
    std::function<void(std::uint64_t)> storeUnsigned_;
    std::function<std::int64_t()> loadSigned_;
    std::function<std::uint64_t()> loadUnsigned_;
    bool* flag_ = nullptr;
    double* number_ = nullptr;
    std::string* string_ = nullptr;
    std::vector<std::string>* list_ = nullptr;
    CustomApply custom_;

    std::string customText_;  // last text applied to a Custom option
};

class OptionTable {
  public:
    OptionTable(std::string program, std::string description);
    ~OptionTable();
    OptionTable(const OptionTable&) = delete;
    OptionTable& operator=(const OptionTable&) = delete;

    // Adds -v/--version (or --version alone when `shortName` is '\0', for a daemon whose -v
    // means something else), printing `text` and exiting.
    void setVersion(std::string text, char shortName = 'v');

    // Declarations. `shortName` is '\0' for none. The target's value at declaration is the default.
    // Declaring a long name or short flag twice is a programming error and aborts.
    Option& flag(char shortName, std::string longName, bool& target, std::string help);
    template <std::integral T>
    requires(!std::same_as<T, bool>) Option& integer(char shortName, std::string longName, T& target, T min,
                                                     T max, std::string help);
    Option& number(char shortName, std::string longName, double& target, double min, double max,
                   std::string help);
    Option& string(char shortName, std::string longName, std::string& target, std::string help);
    // Repeatable: every occurrence (on the command line or as a file key) appends one value.
    Option& list(char shortName, std::string longName, std::vector<std::string>& target, std::string help);
    // A value the daemon parses itself (addresses, rules, log levels). `defaultText` is shown in
    // --help and --dump-config; `apply` is not called for the default.
    Option& custom(char shortName, std::string longName, std::string valueName, std::string defaultText,
                   CustomApply apply, std::string help);

    // Parses the command line (argv[0] is the program path) and the file named by --config.
    ParseResult parse(int argc, const char* const* argv);
    // Same, with the arguments after the program name.
    ParseResult parse(const std::vector<std::string>& args);

    // Applies config-file text directly (no command line); `fileName` prefixes error messages.
    // Exposed for tests and fuzzing; parse() uses it for --config.
    ParseResult applyConfigText(std::string_view text, std::string_view fileName);
    // Reads and applies a config file; a missing or unreadable file is `FILE: reason`, and so is
    // one larger than kMaxConfigFileSize (nothing beyond that is read).
    ParseResult applyConfigFile(const std::string& path);

    // True when the option was given on the command line or in the file.
    bool isSet(std::string_view longName) const;
    // The path given with --config, or empty.
    const std::string& configPath() const { return configPath_; }

    // CLI11's --help text.
    std::string helpText() const;
    // A commented config file with every key and its current value (defaults before parse()).
    std::string dumpConfig() const;

    const std::vector<std::unique_ptr<Option>>& options() const { return options_; }
    const Option* find(std::string_view longName) const;

  private:
    struct CliApp;  // the CLI11 application mirroring this table, built by buildCli()

    Option& declare(char shortName, std::string longName, ValueKind kind, std::string help);
    Option& integerSigned(char shortName, std::string longName, std::int64_t min, std::int64_t max,
                          std::function<std::int64_t()> load, std::function<void(std::int64_t)> store,
                          std::string help);
    Option& integerUnsigned(char shortName, std::string longName, std::uint64_t min, std::uint64_t max,
                            std::function<std::uint64_t()> load, std::function<void(std::uint64_t)> store,
                            std::string help);
    std::unique_ptr<CliApp> buildCli() const;
    // Checks one raw value and stores it into the option's target; returns the reason on failure.
    static std::string applyValue(Option& option, std::string_view text);

    std::string program_;
    std::string description_;
    std::string version_;
    char versionShort_ = 'v';
    std::string configPath_;
    std::vector<std::unique_ptr<Option>> options_;
    std::vector<std::string> setFromFile_;
    std::vector<std::string> setFromCommandLine_;
};

template <std::integral T>
requires(!std::same_as<T, bool>) Option& OptionTable::integer(char shortName, std::string longName, T& target,
                                                              T min, T max, std::string help) {
    if constexpr (std::is_signed_v<T>) {
        return integerSigned(
            shortName, std::move(longName), min, max, [&target] { return static_cast<std::int64_t>(target); },
            [&target](std::int64_t v) { target = static_cast<T>(v); }, std::move(help));
    } else {
        return integerUnsigned(
            shortName, std::move(longName), min, max,
            [&target] { return static_cast<std::uint64_t>(target); },
            [&target](std::uint64_t v) { target = static_cast<T>(v); }, std::move(help));
    }
}

// Value parsers shared with daemons that read their own sub-syntax. Each returns an empty string
// on success or a reason phrase ("expects an integer, got 'x'", "must be between 1 and 10").
std::string parseBool(std::string_view text, bool& out);
std::string parseSigned(std::string_view text, std::int64_t min, std::int64_t max, std::int64_t& out);
std::string parseUnsigned(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
std::string parseNumber(std::string_view text, double min, double max, double& out);

}  // namespace tcpcopy::config
