// The credentials file: format, duplicates, and the mode check on the opened file.

#include "tcpcopy/protocol/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace tcpcopy::protocol {
namespace {

TEST(Credentials, ParsesUsersPasswordsCommentsAndBlankLines) {
    auto r = Credentials::parse(
        "# replay users\n\napp s3cret\n  report\tpass with spaces \r\nnopass\n   # indented comment\n",
        "creds");
    ASSERT_TRUE(r) << r.error();
    const Credentials& c = r.value();
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(*c.password("app"), "s3cret");
    EXPECT_EQ(*c.password("report"), "pass with spaces ");
    EXPECT_EQ(*c.password("nopass"), "");
    EXPECT_EQ(c.password("root"), nullptr);
}

TEST(Credentials, DuplicateUserIsAnErrorNamingFileAndLine) {
    auto r = Credentials::parse("app a\n\napp b\n", "/etc/tcpcopy/mysql.creds");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "/etc/tcpcopy/mysql.creds:3: user 'app' appears twice");
}

class CredentialsFile : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/tcpcopy-creds-XXXXXX";
        const int fd = ::mkstemp(pattern);
        ASSERT_GE(fd, 0);
        ::close(fd);
        path_ = pattern;
        std::ofstream(path_) << "app s3cret\n";
    }
    void TearDown() override { ::unlink(path_.c_str()); }
    std::string path_;
};

TEST_F(CredentialsFile, LoadsAFileOnlyItsOwnerCanRead) {
    for (const mode_t mode : {0600, 0400}) {
        ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
        auto r = Credentials::load(path_);
        ASSERT_TRUE(r) << r.error();
        EXPECT_EQ(*r.value().password("app"), "s3cret");
    }
}

TEST_F(CredentialsFile, RefusesAFileOpenToGroupOrOthers) {
    for (const mode_t mode : {0644, 0640, 0604, 0620, 0602}) {
        ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
        auto r = Credentials::load(path_);
        ASSERT_FALSE(r) << std::oct << mode;
        EXPECT_NE(r.error().find(path_), std::string::npos) << r.error();
        EXPECT_NE(r.error().find("0600 or stricter"), std::string::npos) << r.error();
        EXPECT_EQ(r.error().find('\n'), std::string::npos);
    }
}

TEST_F(CredentialsFile, MissingFileAndDirectoryAreErrorsNamingThem) {
    const auto missing = Credentials::load(path_ + ".absent");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find(path_ + ".absent"), std::string::npos);
    const auto dir = Credentials::load("/tmp");
    ASSERT_FALSE(dir);
    EXPECT_NE(dir.error().find("not a regular file"), std::string::npos) << dir.error();
}

}  // namespace
}  // namespace tcpcopy::protocol
