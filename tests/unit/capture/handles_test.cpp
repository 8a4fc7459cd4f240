// The RAII owners the capture sources are built on: UniqueFd, PcapHandle, BpfProgram.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tcpcopy/capture/pcap_handle.h"
#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::capture {
namespace {

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFd, ClosesOnDestructionAndReset) {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(raw, 0);
    {
        os::UniqueFd fd(raw);
        EXPECT_TRUE(fd);
        EXPECT_EQ(fd.get(), raw);
    }
    EXPECT_FALSE(isOpen(raw));

    int a = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int b = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    os::UniqueFd fd(a);
    fd.reset(b);
    EXPECT_FALSE(isOpen(a));
    EXPECT_TRUE(isOpen(b));
    fd.reset();
    EXPECT_FALSE(fd);
    EXPECT_FALSE(isOpen(b));
}

TEST(UniqueFd, MoveTransfersOwnershipAndReleaseGivesItUp) {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    os::UniqueFd first(raw);
    os::UniqueFd second(std::move(first));
    EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(second.get(), raw);
    os::UniqueFd third;
    third = std::move(second);
    EXPECT_EQ(third.get(), raw);
    int released = third.release();
    EXPECT_FALSE(third);
    EXPECT_TRUE(isOpen(released));
    ::close(released);
}

TEST(PcapHandle, OwnsAndReleases) {
    PcapHandle handle(pcap_open_dead(DLT_EN10MB, 65535));
    ASSERT_TRUE(handle);
    PcapHandle moved(std::move(handle));
    EXPECT_FALSE(handle);  // NOLINT(bugprone-use-after-move)
    ASSERT_TRUE(moved);
    EXPECT_EQ(pcap_datalink(moved.get()), DLT_EN10MB);
    pcap_t* raw = moved.release();
    EXPECT_FALSE(moved);
    moved.reset(raw);  // takes it back; the destructor closes it (ASan reports a leak otherwise)
    EXPECT_EQ(moved.get(), raw);
}

TEST(BpfProgram, CompilesAndReportsErrorsNamingTheExpression) {
    PcapHandle handle(pcap_open_dead(DLT_RAW, 65535));
    BpfProgram program;
    EXPECT_FALSE(program);
    EXPECT_EQ(program.compile(handle.get(), "tcp and dst port 80"), "");
    EXPECT_TRUE(program);
    EXPECT_GT(program.get()->bf_len, 0u);
    BpfProgram moved(std::move(program));
    EXPECT_TRUE(moved);
    EXPECT_FALSE(program);  // NOLINT(bugprone-use-after-move)
    EXPECT_THAT(moved.compile(handle.get(), "tcp port"), ::testing::StartsWith("filter 'tcp port': "));
    EXPECT_FALSE(moved);
}

TEST(LinkTypeOf, MapsSupportedAndNamesUnsupported) {
    PcapHandle sll(pcap_open_dead(DLT_LINUX_SLL, 65535));
    LinkTypeLookup ok = linkTypeOf(sll.get());
    EXPECT_EQ(ok.type, net::LinkType::LinuxSll);
    EXPECT_EQ(ok.error, "");
    PcapHandle ppp(pcap_open_dead(DLT_PPP, 65535));
    LinkTypeLookup bad = linkTypeOf(ppp.get());
    EXPECT_FALSE(bad.type);
    EXPECT_EQ(bad.error, "unsupported link type DLT 9 (PPP)");
}

TEST(LinkTypeOf, EverySupportedDltTakesAFilter) {
    // Found by fuzz_pcap_file: DLT 14 (and LINKTYPE 101) were once mapped to raw IP, but libpcap on
    // Linux cannot compile a filter for them. Every DLT the decoder accepts must be filterable.
    int supported = 0;
    for (int dlt = 0; dlt < 300; ++dlt) {
        if (!net::linkTypeFromDlt(dlt)) continue;
        ++supported;
        PcapHandle handle(pcap_open_dead(dlt, 65535));
        BpfProgram program;
        EXPECT_EQ(program.compile(handle.get(), "tcp"), "") << "DLT " << dlt;
    }
    EXPECT_EQ(supported, 8);  // NULL, EN10MB, RAW, LOOP, LINUX_SLL, IPV4, IPV6, LINUX_SLL2
}

}  // namespace
}  // namespace tcpcopy::capture
