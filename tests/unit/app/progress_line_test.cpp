#include "tcpcopy/app/progress_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace tcpcopy::app {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string readAll(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string text;
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) text.append(buf, n);
    return text;
}

TEST(ProgressLine, RendersPercentSessionsRateAndEta) {
    EXPECT_EQ(ProgressLine::render(0.425, 3, 17, 250.0, std::chrono::seconds(72)),
              "replay  42.5% | sessions 3 active, 17 done | 250.0 req/s | ETA 1:12");
    EXPECT_EQ(ProgressLine::render(1.7, 0, 1, 0.0, std::nullopt),
              "replay 100.0% | sessions 0 active, 1 done | 0.0 req/s | ETA --:--");
    EXPECT_THAT(ProgressLine::render(0.1, 0, 0, 1.0, std::chrono::seconds(3725)), HasSubstr("ETA 1:02:05"));
}

TEST(ProgressLine, RedrawsInPlaceAndClearsTheLine) {
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    ProgressLine line(out, true);
    const auto t0 = ProgressLine::Clock::time_point(100s);
    line.update(0.0, 1, 0, 0, t0);
    line.update(0.5, 2, 4, 10, t0 + 5s);  // 10 requests in 5 s, half read: 5 s left
    line.clear();
    const std::string text = readAll(out);
    EXPECT_THAT(text, HasSubstr("\rreplay   0.0% | sessions 1 active, 0 done"));
    EXPECT_THAT(text, HasSubstr("\rreplay  50.0% | sessions 2 active, 4 done | 2.0 req/s | ETA 0:05"));
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_EQ(text.back(), '\r');
    std::fclose(out);
}

TEST(ProgressLine, WritesNothingWhenDisabled) {
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    ProgressLine line(out, false);
    line.update(0.5, 1, 1, 1, ProgressLine::Clock::now());
    line.clear();
    EXPECT_EQ(readAll(out), "");
    std::fclose(out);
}

}  // namespace
}  // namespace tcpcopy::app
