#include "tcpcopy/config/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace tcpcopy::config {
namespace {

using ::testing::HasSubstr;

// A toy daemon configuration covering every value kind.
struct ToyConfig {
    int accelerate = 1;
    bool daemon = false;
    bool pcapTime = true;
    std::string filter;
    std::string logFile = "/var/log/toy.log";
    std::vector<std::string> transfer;
    double ratio = 0.5;
    std::uint16_t port = 36524;
    std::int64_t offset = 0;
    std::string level = "info";  // set through a custom option
};

// Declares the toy table the way a daemon would.
struct Toy {
    ToyConfig cfg;
    OptionTable table{"toy", "A toy daemon for option table tests."};

    explicit Toy(bool requireTransfer = false) {
        table.setVersion("toy 1.2.3");
        table.integer('a', "accelerate", cfg.accelerate, 1, 1000000, "Replay faster by this factor")
            .group("Offline replay");
        table.flag('d', "daemon", cfg.daemon, "Run as a daemon");
        table.flag('\0', "pcap-time", cfg.pcapTime, "Use capture timestamps").group("Offline replay");
        table.string('F', "filter", cfg.filter, "Extra BPF filter").valueName("BPF");
        table.string('l', "log-file", cfg.logFile, "Log file");
        Option& transfer = table.list('x', "transfer", cfg.transfer, "Transfer rule");
        if (requireTransfer) {
            transfer.required();
        }
        table.number('r', "ratio", cfg.ratio, 0.0, 1.0, "Share of sessions to replay");
        table.integer('p', "port", cfg.port, std::uint16_t{1}, std::uint16_t{65535}, "Tunnel port");
        table.integer('\0', "offset", cfg.offset, std::int64_t{-100}, std::int64_t{100}, "Signed offset");
        table.custom(
            'g', "level", "LEVEL", "info",
            [this](std::string_view text) -> std::string {
                if (text == "debug" || text == "info" || text == "warn") {
                    cfg.level = std::string(text);
                    return {};
                }
                return "expects debug/info/warn, got '" + std::string(text) + "'";
            },
            "Log level");
    }

    ParseResult parse(const std::vector<std::string>& args) { return table.parse(args); }
    ParseResult text(std::string_view content) { return table.applyConfigText(content, "toy.conf"); }
};

// A config file in a private temporary directory, removed with the test.
class TempFile {
  public:
    explicit TempFile(const std::string& content) {
        char dir[] = "/tmp/config_test_XXXXXX";
        dir_ = ::mkdtemp(dir);
        path_ = dir_ + "/toy.conf";
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~TempFile() {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }

  private:
    std::string dir_;
    std::string path_;
};

void expectError(const ParseResult& r, const std::string& message) {
    EXPECT_EQ(r.outcome, Outcome::Error);
    EXPECT_EQ(r.text, message);
    EXPECT_EQ(r.exitCode(), 2);
}

TEST(OptionTable, LeavesDefaultsWhenNothingIsGiven) {
    Toy toy;
    const ParseResult r = toy.parse({});
    EXPECT_EQ(r.outcome, Outcome::Run);
    EXPECT_EQ(r.exitCode(), 0);
    EXPECT_EQ(toy.cfg.accelerate, 1);
    EXPECT_FALSE(toy.cfg.daemon);
    EXPECT_TRUE(toy.cfg.pcapTime);
    EXPECT_EQ(toy.cfg.logFile, "/var/log/toy.log");
    EXPECT_TRUE(toy.cfg.transfer.empty());
    EXPECT_EQ(toy.cfg.port, 36524);
    EXPECT_EQ(toy.cfg.level, "info");
    EXPECT_FALSE(toy.table.isSet("accelerate"));
}

TEST(OptionTable, FillsEveryKindFromShortAndLongFlags) {
    Toy toy;
    const ParseResult r = toy.parse({"-a", "20", "-d", "--filter", "tcp port 80", "-l/tmp/x.log", "-x",
                                     "80-198.18.0.2:8080", "--transfer=443-198.18.0.2:8443", "-r", "0.25",
                                     "--port=1", "--offset", "-100", "-g", "debug", "--pcap-time=no"});
    ASSERT_EQ(r.outcome, Outcome::Run) << r.text;
    EXPECT_EQ(toy.cfg.accelerate, 20);
    EXPECT_TRUE(toy.cfg.daemon);
    EXPECT_FALSE(toy.cfg.pcapTime);
    EXPECT_EQ(toy.cfg.filter, "tcp port 80");
    EXPECT_EQ(toy.cfg.logFile, "/tmp/x.log");
    EXPECT_THAT(toy.cfg.transfer, ::testing::ElementsAre("80-198.18.0.2:8080", "443-198.18.0.2:8443"));
    EXPECT_DOUBLE_EQ(toy.cfg.ratio, 0.25);
    EXPECT_EQ(toy.cfg.port, 1);
    EXPECT_EQ(toy.cfg.offset, -100);
    EXPECT_EQ(toy.cfg.level, "debug");
    EXPECT_TRUE(toy.table.isSet("accelerate"));
    EXPECT_FALSE(toy.table.isSet("ratio") && !toy.table.isSet("port"));
}

TEST(OptionTable, FillsEveryKindFromConfigFile) {
    Toy toy;
    TempFile file(
        "accelerate = 7\n"
        "daemon = yes\n"
        "pcap-time = off\n"
        "filter = tcp and port 80\n"
        "transfer = 80-198.18.0.2:8080\n"
        "transfer = 81-198.18.0.2:8081\n"
        "ratio = 1\n"
        "port = 65535\n"
        "offset = 100\n"
        "level = warn\n");
    const ParseResult r = toy.parse({"--config", file.path()});
    ASSERT_EQ(r.outcome, Outcome::Run) << r.text;
    EXPECT_EQ(toy.table.configPath(), file.path());
    EXPECT_EQ(toy.cfg.accelerate, 7);
    EXPECT_TRUE(toy.cfg.daemon);
    EXPECT_FALSE(toy.cfg.pcapTime);
    EXPECT_EQ(toy.cfg.filter, "tcp and port 80");
    EXPECT_THAT(toy.cfg.transfer, ::testing::ElementsAre("80-198.18.0.2:8080", "81-198.18.0.2:8081"));
    EXPECT_DOUBLE_EQ(toy.cfg.ratio, 1.0);
    EXPECT_EQ(toy.cfg.port, 65535);
    EXPECT_EQ(toy.cfg.offset, 100);
    EXPECT_EQ(toy.cfg.level, "warn");
    EXPECT_TRUE(toy.table.isSet("level"));
    EXPECT_FALSE(toy.table.isSet("log-file"));
}

TEST(OptionTable, CommandLineOverridesConfigFile) {
    Toy toy;
    TempFile file(
        "accelerate = 7\ndaemon = true\nfilter = from-file\ntransfer = a\ntransfer = b\nlevel = warn\n");
    // The flags come before and after --config: the order on the command line does not matter.
    const ParseResult r =
        toy.parse({"-a", "9", "--config", file.path(), "--daemon=false", "-x", "c", "-g", "debug"});
    ASSERT_EQ(r.outcome, Outcome::Run) << r.text;
    EXPECT_EQ(toy.cfg.accelerate, 9);
    EXPECT_FALSE(toy.cfg.daemon);
    EXPECT_EQ(toy.cfg.filter, "from-file");
    EXPECT_THAT(toy.cfg.transfer, ::testing::ElementsAre("c"));  // replaced, not appended
    EXPECT_EQ(toy.cfg.level, "debug");
}

TEST(OptionTable, FileListReplacesDefaultList) {
    Toy toy;
    toy.cfg.transfer = {"default"};
    EXPECT_EQ(toy.text("transfer = one\ntransfer = two\n").outcome, Outcome::Run);
    EXPECT_THAT(toy.cfg.transfer, ::testing::ElementsAre("one", "two"));
}

TEST(OptionTable, RefusesUnknownKeyWithFileAndLine) {
    Toy toy;
    expectError(toy.text("# comment\n\naccelerate = 2\nacelerate = 3\n"),
                "toy.conf:4: unknown key 'acelerate'");
}

TEST(OptionTable, RefusesOutOfRangeNumbersInFile) {
    Toy toy;
    expectError(toy.text("\n\naccelerate = 0\n"), "toy.conf:3: 'accelerate' must be between 1 and 1000000");
    Toy big;
    expectError(big.text("accelerate = 1000001"), "toy.conf:1: 'accelerate' must be between 1 and 1000000");
    Toy port;
    expectError(port.text("port = 65536\n"), "toy.conf:1: 'port' must be between 1 and 65535");
    Toy negative;
    expectError(negative.text("port = -1\n"), "toy.conf:1: 'port' must be between 1 and 65535");
    Toy offset;
    expectError(offset.text("offset = -101\n"), "toy.conf:1: 'offset' must be between -100 and 100");
    Toy overflow;
    expectError(overflow.text("offset = 99999999999999999999\n"),
                "toy.conf:1: 'offset' must be between -100 and 100");
    Toy ratio;
    expectError(ratio.text("ratio = 1.5\n"), "toy.conf:1: 'ratio' must be between 0 and 1");
    Toy nan;
    expectError(nan.text("ratio = nan\n"), "toy.conf:1: 'ratio' must be between 0 and 1");
}

TEST(OptionTable, AcceptsRangeBounds) {
    Toy toy;
    ASSERT_EQ(toy.text("accelerate = 1000000\nport = 1\nratio = 0\noffset = -100\n").outcome, Outcome::Run);
    EXPECT_EQ(toy.cfg.accelerate, 1000000);
    EXPECT_EQ(toy.cfg.port, 1);
    EXPECT_DOUBLE_EQ(toy.cfg.ratio, 0.0);
    EXPECT_EQ(toy.cfg.offset, -100);
}

TEST(OptionTable, RefusesMalformedNumbersInFile) {
    Toy toy;
    expectError(toy.text("accelerate = fast\n"), "toy.conf:1: 'accelerate' expects an integer, got 'fast'");
    Toy trailing;
    expectError(trailing.text("accelerate = 10x\n"),
                "toy.conf:1: 'accelerate' expects an integer, got '10x'");
    Toy empty;
    expectError(empty.text("accelerate =\n"), "toy.conf:1: 'accelerate' expects an integer, got ''");
    Toy fraction;
    expectError(fraction.text("port = 1.5\n"),
                "toy.conf:1: 'port' expects a non-negative integer, got '1.5'");
    Toy ratio;
    expectError(ratio.text("ratio = half\n"), "toy.conf:1: 'ratio' expects a number, got 'half'");
}

TEST(OptionTable, AcceptsEveryBooleanSpelling) {
    const std::vector<std::pair<std::string, bool>> spellings = {
        {"true", true}, {"false", false}, {"yes", true},  {"no", false},  {"1", true},
        {"0", false},   {"on", true},     {"off", false}, {"TRUE", true}, {"No", false}};
    for (const auto& [text, expected] : spellings) {
        Toy toy;
        toy.cfg.daemon = !expected;
        ASSERT_EQ(toy.text("daemon = " + text + "\n").outcome, Outcome::Run) << text;
        EXPECT_EQ(toy.cfg.daemon, expected) << text;
    }
}

TEST(OptionTable, RefusesBadBooleans) {
    Toy toy;
    expectError(toy.text("daemon = maybe\n"),
                "toy.conf:1: 'daemon' expects true/false/yes/no/on/off/1/0, got 'maybe'");
    Toy cli;
    expectError(cli.parse({"--daemon=2"}), "-d/--daemon expects true/false/yes/no/on/off/1/0, got '2'");
}

TEST(OptionTable, RefusesRepeatedScalarKeyNamingFirstLine) {
    Toy toy;
    expectError(toy.text("accelerate = 2\n# again\naccelerate = 3\n"),
                "toy.conf:3: 'accelerate' is already set on line 1");
}

TEST(OptionTable, SkipsCommentsBlankLinesAndHandlesCrlf) {
    Toy toy;
    const ParseResult r = toy.text(
        "# leading comment\r\n"
        "\r\n"
        "   # indented comment\r\n"
        "\t accelerate\t=\t42 \r\n"
        "filter = \"  tcp port 80 # not a comment  \"\r\n"
        "log-file = /tmp/a#b\r\n"
        "   \r\n"
        "daemon=yes");  // no final newline
    ASSERT_EQ(r.outcome, Outcome::Run) << r.text;
    EXPECT_EQ(toy.cfg.accelerate, 42);
    EXPECT_EQ(toy.cfg.filter, "  tcp port 80 # not a comment  ");
    EXPECT_EQ(toy.cfg.logFile, "/tmp/a#b");
    EXPECT_TRUE(toy.cfg.daemon);
}

TEST(OptionTable, CountsLinesAcrossCrlfForErrors) {
    Toy toy;
    expectError(toy.text("accelerate = 2\r\n\r\nport = 0\r\n"),
                "toy.conf:3: 'port' must be between 1 and 65535");
}

TEST(OptionTable, SkipsUtf8ByteOrderMark) {
    Toy toy;
    ASSERT_EQ(toy.text("\xEF\xBB\xBF"
                       "accelerate = 5\n")
                  .outcome,
              Outcome::Run);
    EXPECT_EQ(toy.cfg.accelerate, 5);
}

TEST(OptionTable, RefusesLineWithoutEquals) {
    Toy toy;
    expectError(toy.text("accelerate 5\n"), "toy.conf:1: expected 'key = value', got 'accelerate 5'");
    Toy noKey;
    expectError(noKey.text("  = 5\n"), "toy.conf:1: missing key before '='");
}

TEST(OptionTable, EchoesBinaryGarbageSafely) {
    Toy toy;
    expectError(toy.text(std::string("\x01\xff key = 1\n", 11)), "toy.conf:1: unknown key '\\x01\\xff key'");
}

TEST(OptionTable, RefusesCustomValueWithItsReason) {
    Toy toy;
    expectError(toy.text("level = loud\n"), "toy.conf:1: 'level' expects debug/info/warn, got 'loud'");
    Toy cli;
    expectError(cli.parse({"-g", "loud"}), "-g/--level expects debug/info/warn, got 'loud'");
}

TEST(OptionTable, ReportsMissingConfigFile) {
    Toy toy;
    expectError(toy.parse({"--config", "/nonexistent/toy.conf"}),
                "/nonexistent/toy.conf: cannot open: No such file or directory");
}

TEST(OptionTable, ReportsFileErrorsWithThePathAsGiven) {
    Toy toy;
    TempFile file("accelerate = 2\nbogus = 1\n");
    expectError(toy.parse({"--config", file.path()}), file.path() + ":2: unknown key 'bogus'");
}

// A config file is read with a size cap: something huge (a log given by mistake, /dev/zero) is
// refused after kMaxConfigFileSize bytes instead of being read whole into memory.
TEST(OptionTable, RefusesAConfigFileLargerThanTheCap) {
    std::string big;
    while (big.size() <= kMaxConfigFileSize) big += "# a comment line that is perfectly valid on its own\n";
    big += "accelerate = 2\n";
    TempFile file(big);
    Toy toy;
    expectError(toy.parse({"--config", file.path()}),
                file.path() + ": larger than 1024 KiB, not a configuration file");
    // Just under the cap is fine.
    TempFile fits(big.substr(0, big.rfind('\n', kMaxConfigFileSize - 1) + 1));
    Toy ok;
    EXPECT_EQ(ok.parse({"--config", fits.path()}).outcome, Outcome::Run);
}

TEST(OptionTable, RefusesBadFlagsInOneLine) {
    Toy range;
    expectError(range.parse({"-a", "0"}), "-a/--accelerate must be between 1 and 1000000");
    Toy type;
    expectError(type.parse({"--accelerate=abc"}), "-a/--accelerate expects an integer, got 'abc'");
    Toy unknown;
    expectError(unknown.parse({"--acelerate", "3"}),
                "The following arguments were not expected: 3 --acelerate");
    Toy missing;
    expectError(missing.parse({"-a"}), "--accelerate: 1 required N missing");
    Toy twice;
    expectError(twice.parse({"-a", "2", "-a", "3"}), "-a/--accelerate was given more than once");
    Toy noShort;
    expectError(noShort.parse({"--offset=200"}), "--offset must be between -100 and 100");
    Toy positional;
    expectError(positional.parse({"stray"}), "The following argument was not expected: stray");
}

TEST(OptionTable, RequiredOptionMustComeFromSomewhere) {
    Toy missing(true);
    expectError(missing.parse({}),
                "-x/--transfer is required (on the command line, or as 'transfer' in a config file)");
    Toy fromFile(true);
    TempFile file("transfer = 80-198.18.0.2:80\n");
    EXPECT_EQ(fromFile.parse({"--config", file.path()}).outcome, Outcome::Run);
    Toy fromCli(true);
    EXPECT_EQ(fromCli.parse({"-x", "80-198.18.0.2:80"}).outcome, Outcome::Run);
}

TEST(OptionTable, HelpListsEveryOptionWithGroupsAndDefaults) {
    Toy toy;
    const ParseResult r = toy.parse({"--help"});
    EXPECT_EQ(r.outcome, Outcome::Exit);
    EXPECT_EQ(r.exitCode(), 0);
    EXPECT_EQ(r.text, toy.table.helpText());
    EXPECT_THAT(r.text, HasSubstr("A toy daemon for option table tests."));
    EXPECT_THAT(r.text, HasSubstr("-a,--accelerate N"));
    EXPECT_THAT(r.text, HasSubstr("Replay faster by this factor (integer 1..1000000)"));
    EXPECT_THAT(r.text, HasSubstr("Offline replay:"));
    EXPECT_THAT(r.text, HasSubstr("-F,--filter BPF"));
    EXPECT_THAT(r.text, HasSubstr("-g,--level LEVEL"));
    EXPECT_THAT(r.text, HasSubstr("--config FILE"));
    EXPECT_THAT(r.text, HasSubstr("--dump-config"));
    EXPECT_THAT(r.text, HasSubstr("-v,--version"));
    EXPECT_THAT(r.text, HasSubstr("36524"));
    // -h works like --help even after a bad value: help wins.
    Toy shortHelp;
    EXPECT_EQ(shortHelp.parse({"-h"}).outcome, Outcome::Exit);
}

TEST(OptionTable, VersionExits) {
    Toy toy;
    const ParseResult r = toy.parse({"-v"});
    EXPECT_EQ(r.outcome, Outcome::Exit);
    EXPECT_EQ(r.text, "toy 1.2.3");
}

TEST(OptionTable, DumpConfigHoldsEveryKeyWithEffectiveValues) {
    Toy toy;
    const ParseResult r = toy.parse({"-a", "3", "-x", "a", "-x", "b", "--dump-config"});
    ASSERT_EQ(r.outcome, Outcome::Exit) << r.text;
    EXPECT_THAT(
        r.text,
        HasSubstr(
            "\n# Replay faster by this factor\n# (-a, integer 1..1000000, default 1)\naccelerate = 3\n"));
    EXPECT_THAT(r.text, HasSubstr("\n# ---- Offline replay ----\n"));
    EXPECT_THAT(r.text, HasSubstr("\ntransfer = a\ntransfer = b\n"));
    EXPECT_THAT(r.text, HasSubstr("\n# filter =\n"));  // empty, commented out
    EXPECT_THAT(r.text, HasSubstr("\nlevel = info\n"));
    EXPECT_THAT(r.text, HasSubstr("\nport = 36524\n"));
    // Every key appears, set or commented out when empty, exactly once.
    for (const auto& option : toy.table.options()) {
        const std::string active = "\n" + option->longName() + " =";
        const std::string commented = "\n# " + option->longName() + " =";
        const bool hasActive = r.text.find(active) != std::string::npos;
        const bool hasCommented = r.text.find(commented) != std::string::npos;
        EXPECT_NE(hasActive, hasCommented) << option->longName();
    }
    // Groups come after the ungrouped options, in declaration order.
    EXPECT_LT(r.text.find("\nport ="), r.text.find("# ---- Offline replay ----"));
}

TEST(OptionTable, DumpConfigReadsBackToTheSameConfiguration) {
    Toy source;
    ASSERT_EQ(source
                  .parse({"-a",       "77", "-d",    "-F",   "  padded  ",
                          "-l",       "",   "-x",    "one",  "-x",
                          "two",      "-r", "0.125", "-p",   "8080",
                          "--offset", "-5", "-g",    "warn", "--pcap-time=false"})
                  .outcome,
              Outcome::Run);
    const std::string dump = source.table.dumpConfig();

    Toy copy;
    const ParseResult r = copy.text(dump);
    ASSERT_EQ(r.outcome, Outcome::Run) << r.text << "\n" << dump;
    EXPECT_EQ(copy.cfg.accelerate, 77);
    EXPECT_TRUE(copy.cfg.daemon);
    EXPECT_FALSE(copy.cfg.pcapTime);
    EXPECT_EQ(copy.cfg.filter, "  padded  ");
    EXPECT_EQ(copy.cfg.logFile, "");
    EXPECT_EQ(copy.cfg.transfer, source.cfg.transfer);
    EXPECT_DOUBLE_EQ(copy.cfg.ratio, 0.125);
    EXPECT_EQ(copy.cfg.port, 8080);
    EXPECT_EQ(copy.cfg.offset, -5);
    EXPECT_EQ(copy.cfg.level, "warn");
    EXPECT_EQ(copy.table.dumpConfig(), dump);
}

// Found by fuzz_config: an emptied custom value and a stray CR must survive the dump.
TEST(OptionTable, DumpConfigKeepsEmptiedCustomValuesAndStrayCarriageReturns) {
    Toy source;
    ASSERT_EQ(source.text("filter = \" x \"   y \"\r \n").outcome, Outcome::Run);
    EXPECT_EQ(source.cfg.filter, " x \"   y ");  // the CR and blank are trimmed, then the quotes
    Toy copy;
    ASSERT_EQ(copy.text(source.table.dumpConfig()).outcome, Outcome::Run);
    EXPECT_EQ(copy.cfg.filter, source.cfg.filter);

    Toy level;
    level.table.custom(
        '\0', "color", "WHEN", "auto", [](std::string_view) { return std::string(); }, "Color");
    ASSERT_EQ(level.text("color =\n").outcome, Outcome::Run);
    EXPECT_THAT(level.table.dumpConfig(), HasSubstr("\ncolor = \"\"\n"));
}

TEST(OptionTable, DescribesOptionsForDocumentationChecks) {
    Toy toy;
    const Option* accelerate = toy.table.find("accelerate");
    ASSERT_NE(accelerate, nullptr);
    EXPECT_EQ(accelerate->flagNames(), "-a/--accelerate");
    EXPECT_EQ(accelerate->typeDescription(), "integer 1..1000000");
    EXPECT_EQ(accelerate->defaultText(), "1");
    EXPECT_EQ(accelerate->groupName(), "Offline replay");
    EXPECT_EQ(toy.table.find("pcap-time")->flagNames(), "--pcap-time");
    EXPECT_EQ(toy.table.find("nothing"), nullptr);
}

TEST(ValueParsers, ParseWithRanges) {
    std::int64_t s = 0;
    EXPECT_EQ(parseSigned("-7", -10, 10, s), "");
    EXPECT_EQ(s, -7);
    EXPECT_EQ(parseSigned("11", -10, 10, s), "must be between -10 and 10");
    std::uint64_t u = 0;
    EXPECT_EQ(parseUnsigned("18446744073709551615", 0, UINT64_MAX, u), "");
    EXPECT_EQ(u, UINT64_MAX);
    EXPECT_EQ(parseUnsigned("18446744073709551616", 0, UINT64_MAX, u),
              "must be between 0 and 18446744073709551615");
    double d = 0;
    EXPECT_EQ(parseNumber("2.5", 0, 10, d), "");
    EXPECT_DOUBLE_EQ(d, 2.5);
    bool b = false;
    EXPECT_EQ(parseBool("Yes", b), "");
    EXPECT_TRUE(b);
}

TEST(OptionTableDeathTest, RefusesClashingDeclarations) {
    EXPECT_DEATH(
        {
            int a = 0;
            int b = 0;
            OptionTable table("t", "d");
            table.integer('a', "alpha", a, 0, 1, "x");
            table.integer('a', "beta", b, 0, 1, "y");
        },
        "--beta clashes with -a/--alpha");
    EXPECT_DEATH(
        {
            bool h = false;
            OptionTable table("t", "d");
            table.flag('h', "hold", h, "x");
        },
        "reserved");
}

TEST(OptionTable, VersionWithoutShortFlagLeavesMinusVToTheDaemon) {
    bool verbose = false;
    OptionTable table("d", "A daemon whose -v means verbose.");
    table.flag('v', "verbose", verbose, "Log more");
    table.setVersion("d 9.9", '\0');
    ParseResult r = table.parse(std::vector<std::string>{"--version"});
    EXPECT_EQ(r.outcome, Outcome::Exit);
    EXPECT_EQ(r.text, "d 9.9");
    r = table.parse(std::vector<std::string>{"-v"});
    EXPECT_EQ(r.outcome, Outcome::Run);
    EXPECT_TRUE(verbose);
    EXPECT_THAT(table.helpText(), HasSubstr("--version"));
}

TEST(OptionTable, ImplicitValueFillsABareFlagOnly) {
    unsigned ramp = 0;
    bool wait = false;
    auto parseRamp = [&](std::vector<std::string> args) {
        ramp = 0;
        wait = false;
        OptionTable t("toy", "");
        t.integer('g', "ramp", ramp, 0u, 86400u, "Ramp").implicitValue("100");
        t.flag('W', "no-wait", wait, "No wait");
        return t.parse(args);
    };
    EXPECT_EQ(parseRamp({}).outcome, Outcome::Run);
    EXPECT_EQ(ramp, 0u);  // the default, not the implicit value
    EXPECT_EQ(parseRamp({"-g"}).outcome, Outcome::Run);
    EXPECT_EQ(ramp, 100u);
    EXPECT_EQ(parseRamp({"-g", "-W"}).outcome, Outcome::Run);  // the next flag is not its value
    EXPECT_EQ(ramp, 100u);
    EXPECT_TRUE(wait);
    EXPECT_EQ(parseRamp({"--ramp"}).outcome, Outcome::Run);
    EXPECT_EQ(ramp, 100u);
    EXPECT_EQ(parseRamp({"-g", "5"}).outcome, Outcome::Run);
    EXPECT_EQ(ramp, 5u);
    EXPECT_EQ(parseRamp({"-g", "0"}).outcome, Outcome::Run);
    EXPECT_EQ(ramp, 0u);
    const ParseResult bad = parseRamp({"-g", "x"});
    EXPECT_EQ(bad.outcome, Outcome::Error);
    EXPECT_THAT(bad.text, HasSubstr("-g/--ramp"));
}

}  // namespace
}  // namespace tcpcopy::config
