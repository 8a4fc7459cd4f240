// The shared secret file, as both daemons read it (tunnel/secret.h).
#include "tcpcopy/tunnel/secret.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tcpcopy/tunnel/codec.h"

namespace tcpcopy::tunnel {
namespace {

std::string secretOf(std::string_view content) {
    auto r = parseSecret(content, "f");
    return r ? r.value() : "ERROR: " + r.error();
}

TEST(Secret, FirstLineWithoutItsLineEndAndTrailingBlanks) {
    EXPECT_EQ(secretOf("s3cret\n"), "s3cret");
    EXPECT_EQ(secretOf("s3cret"), "s3cret");
    EXPECT_EQ(secretOf("s3cret \t\nsecond line\n"), "s3cret");
    EXPECT_EQ(secretOf("  leading blanks stay\n"), "  leading blanks stay");
}

// A file written on Windows, or with `printf 'x\r\n'`: the same secret as with LF, so both
// daemons (one given the CRLF file, one an LF copy) derive the same MAC.
TEST(Secret, CrlfLineEndReadsTheSameAsLf) {
    EXPECT_EQ(secretOf("s3cret\r\n"), "s3cret");
    EXPECT_EQ(secretOf("s3cret\r\nnext\r\n"), "s3cret");
    Nonce nonce{};
    nonce[0] = std::byte{7};
    EXPECT_EQ(computeHelloMac(secretOf("s3cret\r\n"), nonce, nonce),
              computeHelloMac(secretOf("s3cret\n"), nonce, nonce));
}

TEST(Secret, EmptyOrOversizeSecretsAreRefusedNamingTheFile) {
    for (std::string_view empty : {"", "\n", "\r\n", " \t\r\n", "\nsecond line"}) {
        auto r = parseSecret(empty, "/etc/tcpcopy/tunnel.secret");
        ASSERT_FALSE(r) << "'" << empty << "'";
        EXPECT_EQ(r.error(), "/etc/tcpcopy/tunnel.secret: the secret (its first line) is empty");
    }
    EXPECT_EQ(secretOf(std::string(kMaxSecretSize, 'k') + "\n"), std::string(kMaxSecretSize, 'k'));
    auto longer = parseSecret(std::string(kMaxSecretSize + 1, 'k') + "\n", "f");
    ASSERT_FALSE(longer);
    EXPECT_NE(longer.error().find("at most 1024"), std::string::npos) << longer.error();
    auto noLine = parseSecret(std::string(kMaxSecretFileRead, 'k'), "f");
    ASSERT_FALSE(noLine);
    EXPECT_NE(noLine.error().find("not a secret file"), std::string::npos) << noLine.error();
}

TEST(Secret, ReadsAFileAndNamesItWhenItCannot) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("tcpcopy_secret_" + std::to_string(::getpid()))).string();
    std::ofstream(path) << "from-a-file\r\n";
    auto r = readSecretFile(path);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r.value(), "from-a-file");
    std::filesystem::remove(path);
    auto missing = readSecretFile(path);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), path + ": cannot read the secret file: No such file or directory");
}

}  // namespace
}  // namespace tcpcopy::tunnel
