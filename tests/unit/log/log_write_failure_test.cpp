// A log file that cannot be written (full disk; /dev/full here) must not stop the process: the
// failure is said once on stderr, and logging goes on once the file is usable again.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tcpcopy/log/log.h"

namespace tcpcopy::log {
namespace {

TEST(Log, WriteFailureIsReportedOnceAndLoggingGoesOn) {
    Options options;
    options.file = "/dev/full";
    ASSERT_EQ(configure(options), "");
    auto logger = component("logtest");
    ::testing::internal::CaptureStderr();
    for (int i = 0; i < 5; ++i) logger->info("line {}", i);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("cannot write to /dev/full"), std::string::npos) << err;
    EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;

    // A reopened (rotated, or freed) file is a new episode: reported again if it fails again.
    reopen();
    ::testing::internal::CaptureStderr();
    logger->info("after reopen");
    logger->info("after reopen, again");
    const std::string again = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(again.begin(), again.end(), '\n'), 1) << again;

    configure(Options{});  // back to stderr for the other tests
}

}  // namespace
}  // namespace tcpcopy::log
