// Peer-supplied text on its way into the log: escaped and cut (log::printable), and the
// once-per-interval gate for conditions that could otherwise flood the log (log::Throttle).
#include <gtest/gtest.h>

#include <string>

#include "tcpcopy/log/log.h"

namespace tcpcopy::log {
namespace {

using namespace std::chrono_literals;

TEST(Printable, PlainTextIsKept) { EXPECT_EQ(printable("tcpcopy pid 42"), "tcpcopy pid 42"); }

TEST(Printable, ControlCharactersCannotForgeALogLine) {
    const std::string forged =
        "x\n2024-01-01 00:00:00.000 info  [intercept] tcpcopy peer 1 connected\r\x1b[2J";
    const std::string shown = printable(forged);
    EXPECT_EQ(shown.find('\n'), std::string::npos);
    EXPECT_EQ(shown.find('\r'), std::string::npos);
    EXPECT_EQ(shown.find('\x1b'), std::string::npos);
    EXPECT_EQ(shown.substr(0, 5), "x\\x0a");
    EXPECT_NE(shown.find("\\x0d\\x1b[2J"), std::string::npos);
}

TEST(Printable, BackslashAndHighBytesAreEscapedSoTheEscapesStayUnambiguous) {
    EXPECT_EQ(printable("a\\x0a"), "a\\x5cx0a");
    EXPECT_EQ(printable(std::string("\xff\x7f\x00", 3)), "\\xff\\x7f\\x00");
}

TEST(Printable, LongTextIsCutAndSaysHowLongItWas) {
    const std::string text(65535, 'A');
    const std::string shown = printable(text, 16);
    EXPECT_EQ(shown, std::string(16, 'A') + "...(65535 bytes)");
    EXPECT_EQ(printable(std::string(16, 'B'), 16), std::string(16, 'B'));
}

TEST(Throttle, AllowsOncePerIntervalAndCountsWhatItSuppressed) {
    Throttle gate(10s);
    const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
    EXPECT_TRUE(gate.allow(t0));
    EXPECT_EQ(gate.suppressed(), 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_FALSE(gate.allow(t0 + 1ms * i));
    EXPECT_FALSE(gate.allow(t0 + 9s));
    EXPECT_TRUE(gate.allow(t0 + 10s));
    EXPECT_EQ(gate.suppressed(), 1001u);
    EXPECT_TRUE(gate.allow(t0 + 30s));
    EXPECT_EQ(gate.suppressed(), 0u);
}

TEST(Throttle, ABurstOfSeveralPerIntervalThenQuiet) {
    Throttle gate(10s, 3);
    const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
    int allowed = 0;
    for (int i = 0; i < 100; ++i) allowed += gate.allow(t0 + 1ms * i) ? 1 : 0;
    EXPECT_EQ(allowed, 3);
    EXPECT_TRUE(gate.allow(t0 + 10s));
    EXPECT_EQ(gate.suppressed(), 97u);
}

}  // namespace
}  // namespace tcpcopy::log
