#include "tcpcopy/config/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "tcpcopy/config/address.h"

namespace tcpcopy::config {
namespace {

// Carriage returns count as blanks: CRLF files, and a stray CR can never end up in a value.
constexpr std::string_view kBlanks = " \t\r";

[[noreturn]] void declarationError(const std::string& what) {
    std::fprintf(stderr, "tcpcopy::config: bad option declaration: %s\n", what.c_str());
    std::abort();
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(kBlanks);
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(kBlanks);
    return s.substr(first, last - first + 1);
}

std::string numberText(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

bool isValidLongName(std::string_view name) {
    if (name.size() < 2 || name.front() == '-') {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    });
}

bool isValidShortName(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A value written to a config file so that applyConfigText() reads it back unchanged.
std::string fileValue(const std::string& v) {
    const bool needsQuotes = v.empty() || v.find_first_of(kBlanks) == 0 ||
                             v.find_last_of(kBlanks) == v.size() - 1 ||
                             (v.size() >= 2 && v.front() == '"' && v.back() == '"');
    return needsQuotes ? "\"" + v + "\"" : v;
}

}  // namespace

// ---- value parsers -------------------------------------------------------------------------

std::string parseBool(std::string_view text, bool& out) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
        out = true;
        return {};
    }
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0") {
        out = false;
        return {};
    }
    return fmt::format("expects true/false/yes/no/on/off/1/0, got '{}'", printable(text));
}

std::string parseSigned(std::string_view text, std::int64_t min, std::int64_t max, std::int64_t& out) {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, v);
    if (text.empty() || r.ptr != end) {
        return fmt::format("expects an integer, got '{}'", printable(text));
    }
    if (r.ec == std::errc::result_out_of_range || v < min || v > max) {
        return fmt::format("must be between {} and {}", min, max);
    }
    out = v;
    return {};
}

std::string parseUnsigned(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
    std::uint64_t v = 0;
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, v);
    if (text.empty() || r.ptr != end) {
        // A minus sign is a well-formed integer that is out of range, not a type error.
        std::int64_t negative = 0;
        const auto s = std::from_chars(text.data(), end, negative);
        if (!text.empty() && s.ptr == end) {
            return fmt::format("must be between {} and {}", min, max);
        }
        return fmt::format("expects a non-negative integer, got '{}'", printable(text));
    }
    if (r.ec == std::errc::result_out_of_range || v < min || v > max) {
        return fmt::format("must be between {} and {}", min, max);
    }
    out = v;
    return {};
}

std::string parseNumber(std::string_view text, double min, double max, double& out) {
    double v = 0;
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, v);
    if (text.empty() || r.ptr != end || r.ec == std::errc::invalid_argument) {
        return fmt::format("expects a number, got '{}'", printable(text));
    }
    if (r.ec == std::errc::result_out_of_range || !(v >= min && v <= max)) {
        return fmt::format("must be between {} and {}", numberText(min), numberText(max));
    }
    out = v;
    return {};
}

// ---- ParseResult ---------------------------------------------------------------------------

void ParseResult::print() const {
    if (text.empty()) {
        return;
    }
    std::FILE* out = outcome == Outcome::Error ? stderr : stdout;
    std::fputs(text.c_str(), out);
    if (text.back() != '\n') {
        std::fputc('\n', out);
    }
}

// ---- Option --------------------------------------------------------------------------------

Option& Option::group(std::string name) {
    group_ = std::move(name);
    return *this;
}

Option& Option::valueName(std::string name) {
    valueName_ = std::move(name);
    return *this;
}

Option& Option::required() {
    required_ = true;
    return *this;
}

Option& Option::implicitValue(std::string text) {
    implicit_ = std::move(text);
    return *this;
}

std::string Option::flagNames() const {
    if (shortName_ == '\0') {
        return "--" + longName_;
    }
    return fmt::format("-{}/--{}", shortName_, longName_);
}

std::string Option::typeDescription() const {
    switch (kind_) {
        case ValueKind::Flag:
            return "boolean";
        case ValueKind::Integer:
            return fmt::format("integer {}..{}", minSigned_, maxSigned_);
        case ValueKind::Unsigned:
            return fmt::format("integer {}..{}", minUnsigned_, maxUnsigned_);
        case ValueKind::Number:
            return fmt::format("number {}..{}", numberText(minNumber_), numberText(maxNumber_));
        case ValueKind::String:
            return "string";
        case ValueKind::List:
            return "repeatable";
        case ValueKind::Custom:
            return valueName_.empty() ? "string" : valueName_;
    }
    return "string";
}

// ---- OptionTable ---------------------------------------------------------------------------

OptionTable::OptionTable(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

OptionTable::~OptionTable() = default;

void OptionTable::setVersion(std::string text, char shortName) {
    for (const auto& o : options_) {
        if (o->longName() == "version" || (shortName != '\0' && o->shortName() == shortName)) {
            declarationError("--version or its short flag is taken by " + o->flagNames());
        }
    }
    version_ = std::move(text);
    versionShort_ = shortName;
}

Option& OptionTable::declare(char shortName, std::string longName, ValueKind kind, std::string help) {
    if (!isValidLongName(longName)) {
        declarationError("invalid long name '" + longName + "'");
    }
    if (shortName != '\0' && !isValidShortName(shortName)) {
        declarationError(fmt::format("invalid short flag for --{}", longName));
    }
    if (longName == "help" || longName == "config" || longName == "dump-config" || shortName == 'h' ||
        (!version_.empty() && (longName == "version" || (shortName != '\0' && shortName == versionShort_)))) {
        declarationError(fmt::format("--{} or its short flag is reserved", longName));
    }
    for (const auto& o : options_) {
        if (o->longName() == longName || (shortName != '\0' && o->shortName() == shortName)) {
            declarationError(fmt::format("--{} clashes with {}", longName, o->flagNames()));
        }
    }
    auto option = std::unique_ptr<Option>(new Option());
    option->shortName_ = shortName;
    option->longName_ = std::move(longName);
    option->kind_ = kind;
    option->help_ = std::move(help);
    options_.push_back(std::move(option));
    return *options_.back();
}

Option& OptionTable::flag(char shortName, std::string longName, bool& target, std::string help) {
    Option& o = declare(shortName, std::move(longName), ValueKind::Flag, std::move(help));
    o.defaultText_ = target ? "true" : "false";
    o.flag_ = &target;
    return o;
}

Option& OptionTable::integerSigned(char shortName, std::string longName, std::int64_t min, std::int64_t max,
                                   std::function<std::int64_t()> load,
                                   std::function<void(std::int64_t)> store, std::string help) {
    if (min > max) {
        declarationError("empty range for --" + longName);
    }
    Option& o = declare(shortName, std::move(longName), ValueKind::Integer, std::move(help));
    o.minSigned_ = min;
    o.maxSigned_ = max;
    o.defaultText_ = std::to_string(load());
    o.valueName_ = "N";
    o.loadSigned_ = std::move(load);
    o.storeSigned_ = std::move(store);
    return o;
}

Option& OptionTable::integerUnsigned(char shortName, std::string longName, std::uint64_t min,
                                     std::uint64_t max, std::function<std::uint64_t()> load,
                                     std::function<void(std::uint64_t)> store, std::string help) {
    if (min > max) {
        declarationError("empty range for --" + longName);
    }
    Option& o = declare(shortName, std::move(longName), ValueKind::Unsigned, std::move(help));
    o.minUnsigned_ = min;
    o.maxUnsigned_ = max;
    o.defaultText_ = std::to_string(load());
    o.valueName_ = "N";
    o.loadUnsigned_ = std::move(load);
    o.storeUnsigned_ = std::move(store);
    return o;
}

Option& OptionTable::number(char shortName, std::string longName, double& target, double min, double max,
                            std::string help) {
    if (!(min <= max)) {
        declarationError("empty range for --" + longName);
    }
    Option& o = declare(shortName, std::move(longName), ValueKind::Number, std::move(help));
    o.minNumber_ = min;
    o.maxNumber_ = max;
    o.number_ = &target;
    o.defaultText_ = numberText(target);
    o.valueName_ = "X";
    return o;
}

Option& OptionTable::string(char shortName, std::string longName, std::string& target, std::string help) {
    Option& o = declare(shortName, std::move(longName), ValueKind::String, std::move(help));
    o.string_ = &target;
    o.defaultText_ = target;
    o.valueName_ = "TEXT";
    return o;
}

Option& OptionTable::list(char shortName, std::string longName, std::vector<std::string>& target,
                          std::string help) {
    Option& o = declare(shortName, std::move(longName), ValueKind::List, std::move(help));
    o.list_ = &target;
    std::string joined;
    for (const auto& v : target) {
        joined += (joined.empty() ? "" : ", ") + v;
    }
    o.defaultText_ = joined;
    o.valueName_ = "TEXT";
    return o;
}

Option& OptionTable::custom(char shortName, std::string longName, std::string valueName,
                            std::string defaultText, CustomApply apply, std::string help) {
    if (!apply) {
        declarationError("no apply function for --" + longName);
    }
    Option& o = declare(shortName, std::move(longName), ValueKind::Custom, std::move(help));
    o.valueName_ = std::move(valueName);
    o.defaultText_ = defaultText;
    o.customText_ = std::move(defaultText);
    o.custom_ = std::move(apply);
    return o;
}

const Option* OptionTable::find(std::string_view longName) const {
    for (const auto& o : options_) {
        if (o->longName() == longName) {
            return o.get();
        }
    }
    return nullptr;
}

bool OptionTable::isSet(std::string_view longName) const {
    const auto has = [longName](const std::vector<std::string>& names) {
        return std::find(names.begin(), names.end(), longName) != names.end();
    };
    return has(setFromFile_) || has(setFromCommandLine_);
}

std::string OptionTable::applyValue(Option& option, std::string_view text) {
    switch (option.kind()) {
        case ValueKind::Flag: {
            bool v = false;
            if (auto reason = parseBool(text, v); !reason.empty()) {
                return reason;
            }
            *option.flag_ = v;
            return {};
        }
        case ValueKind::Integer: {
            std::int64_t v = 0;
            if (auto reason = parseSigned(text, option.minSigned_, option.maxSigned_, v); !reason.empty()) {
                return reason;
            }
            option.storeSigned_(v);
            return {};
        }
        case ValueKind::Unsigned: {
            std::uint64_t v = 0;
            if (auto reason = parseUnsigned(text, option.minUnsigned_, option.maxUnsigned_, v);
                !reason.empty()) {
                return reason;
            }
            option.storeUnsigned_(v);
            return {};
        }
        case ValueKind::Number:
            return parseNumber(text, option.minNumber_, option.maxNumber_, *option.number_);
        case ValueKind::String:
            *option.string_ = std::string(text);
            return {};
        case ValueKind::List:
            option.list_->emplace_back(text);
            return {};
        case ValueKind::Custom: {
            std::string reason = option.custom_(text);
            if (reason.empty()) {
                option.customText_ = std::string(text);
            }
            return reason;
        }
    }
    return "has an unknown kind";
}

ParseResult OptionTable::applyConfigText(std::string_view text, std::string_view fileName) {
    // Line of the first occurrence of each key in this file, to refuse repeated scalars.
    std::vector<std::pair<const Option*, std::size_t>> seen;
    const auto fail = [fileName](std::size_t line, const std::string& reason) {
        return ParseResult{Outcome::Error, fmt::format("{}:{}: {}", fileName, line, reason)};
    };

    std::size_t lineNo = 0;
    std::size_t pos = 0;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") {  // a UTF-8 byte order mark some editors write
        pos = 3;
    }
    while (pos < text.size()) {
        ++lineNo;
        const std::size_t eol = text.find('\n', pos);
        std::string_view raw =
            text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        pos = eol == std::string_view::npos ? text.size() : eol + 1;
        if (!raw.empty() && raw.back() == '\r') {
            raw.remove_suffix(1);
        }
        const std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            return fail(lineNo, fmt::format("expected 'key = value', got '{}'", printable(line)));
        }
        const std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (key.empty()) {
            return fail(lineNo, "missing key before '='");
        }
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        Option* option = nullptr;
        for (const auto& o : options_) {
            if (o->longName() == key) {
                option = o.get();
                break;
            }
        }
        if (option == nullptr) {
            return fail(lineNo, fmt::format("unknown key '{}'", printable(key)));
        }
        const auto previous = std::find_if(seen.begin(), seen.end(),
                                           [option](const auto& entry) { return entry.first == option; });
        if (previous == seen.end()) {
            seen.emplace_back(option, lineNo);
            if (option->kind() == ValueKind::List) {
                option->list_->clear();  // the file's list replaces the default
            }
        } else if (option->kind() != ValueKind::List) {
            return fail(lineNo, fmt::format("'{}' is already set on line {}", key, previous->second));
        }
        if (std::string reason = applyValue(*option, value); !reason.empty()) {
            return fail(lineNo, fmt::format("'{}' {}", key, reason));
        }
        if (std::find(setFromFile_.begin(), setFromFile_.end(), key) == setFromFile_.end()) {
            setFromFile_.emplace_back(key);
        }
    }
    return {};
}

ParseResult OptionTable::applyConfigFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {Outcome::Error, fmt::format("{}: cannot open: {}", path, std::strerror(errno))};
    }
    // At most kMaxConfigFileSize bytes are read: /dev/zero or a huge file is refused, not slurped.
    std::string content(kMaxConfigFileSize + 1, '\0');
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    if (in.bad()) {
        return {Outcome::Error, fmt::format("{}: cannot read: {}", path, std::strerror(errno))};
    }
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (content.size() > kMaxConfigFileSize) {
        return {Outcome::Error, fmt::format("{}: larger than {} KiB, not a configuration file", path,
                                            kMaxConfigFileSize / 1024)};
    }
    return applyConfigText(content, path);
}

// Every CLI11 option takes raw strings, so the command line goes through the same checks as the file.
struct OptionTable::CliApp {
    CLI::App app;
    std::vector<std::pair<Option*, CLI::Option*>> bound;
    CLI::Option* config = nullptr;
    CLI::Option* dump = nullptr;
    CLI::Option* version = nullptr;

    CliApp(const std::string& description, const std::string& program) : app(description, program) {}
};

std::unique_ptr<OptionTable::CliApp> OptionTable::buildCli() const {
    auto cli = std::make_unique<CliApp>(description_, program_);
    CLI::App& app = cli->app;
    try {
        app.set_help_flag("-h,--help", "Print this help and exit");
        app.get_formatter()->column_width(34);
        for (const auto& o : options_) {
            const std::string names = o->shortName() == '\0'
                                          ? "--" + o->longName()
                                          : fmt::format("-{},--{}", o->shortName(), o->longName());
            std::string help = o->help();
            if (o->kind() != ValueKind::Flag && o->kind() != ValueKind::String &&
                o->kind() != ValueKind::Custom) {
                help += " (" + o->typeDescription() + ")";
            }
            if (o->isRequired()) {
                help += " [required]";
            }
            CLI::Option* c = nullptr;
            if (o->kind() == ValueKind::Flag) {
                c = app.add_flag(names)->description(help);
                if (o->defaultText() == "true") {
                    c->default_str("true");
                }
            } else {
                c = app.add_option(names)->description(help);
                c->type_name(o->valueName_.empty() ? "TEXT" : o->valueName_);
                c->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
                if (!o->implicit_.empty()) {
                    // CLI11 would hand a bare flag its default text: no default_str here (parse()
                    // puts the implicit value in), and "N=default" in the help by hand.
                    c->expected(0, 1);
                    c->type_name((o->valueName_.empty() ? "TEXT" : o->valueName_) + "=" + o->defaultText());
                } else if (!o->defaultText().empty()) {
                    c->default_str(o->defaultText());
                }
            }
            if (!o->groupName().empty()) {
                c->group(o->groupName());
            }
            cli->bound.emplace_back(o.get(), c);
        }
        cli->config = app.add_option("--config")
                          ->description("Read options from FILE (keys are the long option names)")
                          ->type_name("FILE");
        cli->dump = app.add_flag("--dump-config")
                        ->description("Print the effective configuration as a config file and exit");
        if (!version_.empty()) {
            const std::string names = versionShort_ == '\0' ? std::string("--version")
                                                            : fmt::format("-{},--version", versionShort_);
            cli->version = app.add_flag(names)->description("Print the version and exit");
        }
    } catch (const CLI::Error& e) {
        declarationError(e.what());
    }
    return cli;
}

std::string OptionTable::helpText() const { return buildCli()->app.help(); }

ParseResult OptionTable::parse(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    argv.reserve(args.size() + 1);
    argv.push_back(program_.c_str());
    for (const auto& a : args) {
        argv.push_back(a.c_str());
    }
    return parse(static_cast<int>(argv.size()), argv.data());
}

ParseResult OptionTable::parse(int argc, const char* const* argv) {
    auto cli = buildCli();
    try {
        cli->app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return {Outcome::Exit, cli->app.help()};
    } catch (const CLI::ParseError& e) {
        return {Outcome::Error, e.what()};
    }

    if (cli->version != nullptr && cli->version->count() > 0) {
        return {Outcome::Exit, version_};
    }
    if (cli->config->count() > 0) {
        const auto& paths = cli->config->results();
        if (paths.size() != 1) {
            return {Outcome::Error, "--config was given more than once"};
        }
        configPath_ = paths.front();
        if (ParseResult r = applyConfigFile(configPath_); r.outcome == Outcome::Error) {
            return r;
        }
    }
    for (auto& [option, c] : cli->bound) {
        if (c->count() == 0) {
            continue;
        }
        std::vector<std::string> values = c->results();
        if (!option->implicit_.empty()) {
            // A bare flag leaves no value, or an empty one.
            if (values.empty()) values.emplace_back();
            for (auto& v : values) {
                if (v.empty()) v = option->implicit_;
            }
        }
        if (option->kind() == ValueKind::List) {
            option->list_->clear();  // the command line's list replaces the file's
        } else if (values.size() != 1) {
            return {Outcome::Error, option->flagNames() + " was given more than once"};
        }
        for (const auto& v : values) {
            if (std::string reason = applyValue(*option, v); !reason.empty()) {
                return {Outcome::Error, option->flagNames() + " " + reason};
            }
        }
        setFromCommandLine_.push_back(option->longName());
    }
    if (cli->dump->count() > 0) {
        return {Outcome::Exit, dumpConfig()};
    }
    for (const auto& o : options_) {
        if (o->isRequired() && !isSet(o->longName())) {
            return {Outcome::Error,
                    fmt::format("{} is required (on the command line, or as '{}' in a config file)",
                                o->flagNames(), o->longName())};
        }
    }
    return {};
}

std::string OptionTable::dumpConfig() const {
    std::string out;
    out += fmt::format("# {} configuration file, written by `{} --dump-config`.\n", program_, program_);
    out += "# One `key = value` per line; keys are the long option names. `#` starts a comment line.\n";
    out += "# Booleans: true/false/yes/no/on/off/1/0. Quote a value to keep leading or trailing blanks.\n";
    out += "# A flag given on the command line overrides its key here.\n";

    // Groups in order of first declaration; ungrouped options first.
    std::vector<std::string> groups{""};
    for (const auto& o : options_) {
        if (std::find(groups.begin(), groups.end(), o->groupName()) == groups.end()) {
            groups.push_back(o->groupName());
        }
    }
    for (const auto& group : groups) {
        bool headerWritten = group.empty();
        for (const auto& o : options_) {
            if (o->groupName() != group) {
                continue;
            }
            if (!headerWritten) {
                out += fmt::format("\n# ---- {} ----\n", group);
                headerWritten = true;
            }
            out += "\n# " + o->help() + "\n";
            std::string meta = o->shortName() == '\0' ? "" : fmt::format("-{}, ", o->shortName());
            meta += o->typeDescription();
            if (o->isRequired()) {
                meta += ", required";
            }
            meta += o->defaultText().empty() ? ", no default" : ", default " + o->defaultText();
            out += "# (" + meta + ")\n";

            const std::string& key = o->longName();
            switch (o->kind()) {
                case ValueKind::List:
                    if (o->list_->empty()) {
                        out += "# " + key + " =\n";
                    }
                    for (const auto& v : *o->list_) {
                        out += key + " = " + fileValue(v) + "\n";
                    }
                    break;
                case ValueKind::Custom:
                    out += (o->customText_.empty() && o->defaultText().empty())
                               ? "# " + key + " =\n"
                               : key + " = " + fileValue(o->customText_) + "\n";
                    break;
                case ValueKind::String:
                    out += (o->string_->empty() && o->defaultText().empty())
                               ? "# " + key + " =\n"
                               : key + " = " + fileValue(*o->string_) + "\n";
                    break;
                case ValueKind::Flag:
                    out += key + " = " + (*o->flag_ ? "true" : "false") + "\n";
                    break;
                case ValueKind::Integer:
                    out += key + " = " + std::to_string(o->loadSigned_()) + "\n";
                    break;
                case ValueKind::Unsigned:
                    out += key + " = " + std::to_string(o->loadUnsigned_()) + "\n";
                    break;
                case ValueKind::Number:
                    out += key + " = " + numberText(*o->number_) + "\n";
                    break;
            }
        }
    }
    return out;
}

}  // namespace tcpcopy::config
