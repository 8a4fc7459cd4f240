#include "tcpcopy/capture/pcap_file_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <string>

#include "capture_files.h"
#include "tcpcopy/net/decode.h"

namespace tcpcopy::capture {
namespace {

using namespace std::chrono_literals;
using test::bytes;
using test::ByteVec;
using test::concat;
using test::Record;
using test::synPacket;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct LinkCase {
    const char* name;
    std::uint32_t dlt;
    net::LinkType expected;
    ByteVec linkHeader;
    bool ipv6 = false;
};

ByteVec ipv6Packet() {
    // Version 6, payload 20 (a bare TCP header), next header TCP, ::1 > ::2.
    ByteVec p = bytes({0x60, 0, 0, 0, 0, 20, 6, 64});
    for (int i = 0; i < 15; ++i) p.push_back(std::byte{0});
    p.push_back(std::byte{1});
    for (int i = 0; i < 15; ++i) p.push_back(std::byte{0});
    p.push_back(std::byte{2});
    ByteVec tcp = bytes({0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0});
    return concat(p, tcp);
}

std::vector<LinkCase> linkCases() {
    return {
        {"ethernet", 1, net::LinkType::Ethernet, bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})},
        {"ethernet_vlan", 1, net::LinkType::Ethernet,
         bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00})},
        {"ethernet_qinq", 1, net::LinkType::Ethernet,
         bytes({0,  1,    2,    3,    4,    5,    6,    7,    8,    9,    10,
                11, 0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00})},
        {"linux_sll", 113, net::LinkType::LinuxSll,
         bytes({0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x08, 0x00})},
        {"linux_sll2", 276, net::LinkType::LinuxSll2,
         bytes({0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0})},
        {"raw", 101, net::LinkType::RawIp, {}},
        {"ipv4", 228, net::LinkType::Ipv4, {}},
        {"null_le", 0, net::LinkType::Null, bytes({2, 0, 0, 0})},
        {"null_be", 0, net::LinkType::Null, bytes({0, 0, 0, 2})},
        {"loop", 108, net::LinkType::Loop, bytes({0, 0, 0, 2})},
        {"ipv6", 229, net::LinkType::Ipv6, {}, true},
        {"raw_ipv6", 101, net::LinkType::RawIp, {}, true},
        {"ethernet_ipv6", 1, net::LinkType::Ethernet,
         bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd}), true},
    };
}

class PcapFileReaderTest : public ::testing::Test {
  protected:
    test::TempDir dir_;
};

void expectFrames(const std::string& file, const LinkCase& c) {
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << c.name << ": " << opened.error();
    PcapFileReader& reader = opened.value();
    EXPECT_EQ(reader.linkType(), c.expected) << c.name;
    auto frame = reader.next();
    ASSERT_TRUE(frame) << c.name << ": " << reader.error();
    ByteVec ip = c.ipv6 ? ipv6Packet() : synPacket();
    EXPECT_EQ(frame->caplen, c.linkHeader.size() + ip.size());
    EXPECT_EQ(frame->wireLength, frame->caplen);
    EXPECT_EQ(frame->data.size(), frame->caplen);
    EXPECT_EQ(frame->timestamp, 1700000000s + 123456789ns) << c.name;
    net::DecodeResult r = net::decodeFrame(reader.linkType(), frame->data);
    ASSERT_EQ(r.status, net::DecodeStatus::Ok) << c.name << ": " << net::decodeStatusName(r.status);
    EXPECT_EQ(r.segment.dport, net::Port(80));
    EXPECT_EQ(r.segment.src.isV6(), c.ipv6) << c.name;
    auto second = reader.next();
    ASSERT_TRUE(second) << reader.error();
    EXPECT_EQ(second->timestamp, 1700000001s);
    EXPECT_FALSE(reader.next());
    EXPECT_EQ(reader.error(), "");
    EXPECT_EQ(reader.framesRead(), 2u);
}

TEST_F(PcapFileReaderTest, ReadsEveryLinkTypeFromPcap) {
    for (const LinkCase& c : linkCases()) {
        ByteVec frame = concat(c.linkHeader, c.ipv6 ? ipv6Packet() : synPacket());
        std::vector<Record> records{{1700000000, 123456789, frame}, {1700000001, 0, frame}};
        std::string file =
            dir_.write(std::string(c.name) + ".pcap", test::pcapFile(c.dlt, records, {.nanosecond = true}));
        expectFrames(file, c);
    }
}

TEST_F(PcapFileReaderTest, ReadsEveryLinkTypeFromPcapng) {
    for (const LinkCase& c : linkCases()) {
        ByteVec frame = concat(c.linkHeader, c.ipv6 ? ipv6Packet() : synPacket());
        std::vector<Record> records{{1700000000, 123456789, frame}, {1700000001, 0, frame}};
        std::string file = dir_.write(std::string(c.name) + ".pcapng", test::pcapngFile(c.dlt, records));
        expectFrames(file, c);
    }
}

TEST_F(PcapFileReaderTest, MicrosecondFileGivesNanosecondTimestamps) {
    std::vector<Record> records{{1700000000, 654321, synPacket()}};
    std::string file = dir_.write("us.pcap", test::pcapFile(101, records));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    auto frame = opened.value().next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->timestamp, 1700000000s + 654321us);
}

TEST_F(PcapFileReaderTest, FarFuturePcapngTimestampIsClampedNotOverflowed) {
    // Found by fuzz_pcap_file: a 64-bit pcapng timestamp beyond year 2262 overflowed the
    // conversion to nanoseconds (signed overflow, caught by UBSan).
    ByteVec content = test::pcapngFile(101, {{1, 0, synPacket()}});
    constexpr std::size_t kTimestampHigh = 28 + 32 + 12;  // SHB, IDB, then EPB type/len/ifid
    for (std::size_t i = 0; i < 4; ++i) content[kTimestampHigh + i] = std::byte{0xff};
    std::string file = dir_.write("future.pcapng", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    auto frame = opened.value().next();
    ASSERT_TRUE(frame) << opened.value().error();
    EXPECT_GT(frame->timestamp, std::chrono::seconds(std::int64_t{9'000'000'000}));
    EXPECT_LE(frame->timestamp, std::chrono::nanoseconds::max());
}

TEST_F(PcapFileReaderTest, BigEndianFile) {
    std::vector<Record> records{{1700000000, 5, synPacket()}};
    std::string file =
        dir_.write("be.pcap", test::pcapFile(228, records, {.nanosecond = true, .bigEndian = true}));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_EQ(opened.value().linkType(), net::LinkType::Ipv4);
    auto frame = opened.value().next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->timestamp, 1700000000s + 5ns);
    EXPECT_EQ(net::decodeFrame(net::LinkType::Ipv4, frame->data).status, net::DecodeStatus::Ok);
}

TEST_F(PcapFileReaderTest, SnaplenCutFrameKeepsWireLength) {
    std::vector<Record> records{{1, 0, synPacket()}};
    records[0].data.resize(40);
    records[0].wireLength = 60;
    std::string file = dir_.write("snap.pcap", test::pcapFile(101, records, {.snaplen = 40}));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    auto frame = opened.value().next();
    ASSERT_TRUE(frame) << opened.value().error();
    EXPECT_EQ(frame->caplen, 40u);
    EXPECT_EQ(frame->wireLength, 60u);
    EXPECT_EQ(net::decodeFrame(net::LinkType::RawIp, frame->data).status, net::DecodeStatus::TruncatedTcp);
}

TEST_F(PcapFileReaderTest, FileWrittenByLibpcapDumper) {
    std::string file = dir_.file("dumped.pcap");
    {
        PcapHandle dead(pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO));
        ASSERT_TRUE(dead);
        pcap_dumper_t* dumper = pcap_dump_open(dead.get(), file.c_str());
        ASSERT_NE(dumper, nullptr) << pcap_geterr(dead.get());
        ByteVec frame = concat(bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}), synPacket());
        for (int i = 0; i < 3; ++i) {
            pcap_pkthdr header{};
            header.ts.tv_sec = 1700000000 + i;
            header.ts.tv_usec = 999999999;  // nanoseconds under this precision
            header.caplen = header.len = static_cast<bpf_u_int32>(frame.size());
            pcap_dump(reinterpret_cast<u_char*>(dumper), &header,
                      reinterpret_cast<const u_char*>(frame.data()));
        }
        pcap_dump_close(dumper);
    }
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    int count = 0;
    while (auto frame = opened.value().next()) {
        EXPECT_EQ(frame->timestamp, std::chrono::seconds(1700000000 + count) + 999999999ns);
        EXPECT_EQ(net::decodeFrame(opened.value().linkType(), frame->data).status, net::DecodeStatus::Ok);
        ++count;
    }
    EXPECT_EQ(count, 3);
    EXPECT_EQ(opened.value().error(), "");
}

TEST_F(PcapFileReaderTest, TruncatedRecordEndsWithErrorNamingFile) {
    ByteVec content = test::pcapFile(101, {{1, 0, synPacket()}, {2, 0, synPacket()}});
    content.resize(content.size() - 25);  // the second record loses part of its data
    std::string file = dir_.write("cut.pcap", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_TRUE(opened.value().next());
    EXPECT_FALSE(opened.value().next());
    EXPECT_THAT(opened.value().error(), StartsWith(file + ": "));
    EXPECT_THAT(opened.value().error(), HasSubstr("truncated dump file"));
}

TEST_F(PcapFileReaderTest, TruncatedRecordHeader) {
    ByteVec content = test::pcapFile(101, {{1, 0, synPacket()}});
    content.resize(content.size() + 7, std::byte{1});  // 7 of a 16-byte record header
    std::string file = dir_.write("cuthdr.pcap", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_TRUE(opened.value().next());
    EXPECT_FALSE(opened.value().next());
    EXPECT_THAT(opened.value().error(), StartsWith(file + ": "));
    EXPECT_THAT(opened.value().error(), HasSubstr("truncated"));
}

TEST_F(PcapFileReaderTest, TruncatedPcapngBlock) {
    ByteVec content = test::pcapngFile(
        1, {{1, 0, concat(bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0}), synPacket())}});
    content.resize(content.size() - 10);
    std::string file = dir_.write("cut.pcapng", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_FALSE(opened.value().next());
    EXPECT_THAT(opened.value().error(), StartsWith(file + ": "));
    EXPECT_THAT(opened.value().error(), HasSubstr("truncated"));
}

TEST_F(PcapFileReaderTest, ImpossibleCaptureLengthIsAnError) {
    Record r{1, 0, synPacket()};
    ByteVec content = test::pcapFile(101, {r});
    // caplen field of the first record (file header 24 + ts 8): 0x7fffffff
    content[32] = std::byte{0xff};
    content[33] = std::byte{0xff};
    content[34] = std::byte{0xff};
    content[35] = std::byte{0x7f};
    std::string file = dir_.write("huge.pcap", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_FALSE(opened.value().next());
    EXPECT_THAT(opened.value().error(), StartsWith(file + ": "));
}

TEST_F(PcapFileReaderTest, CorruptHeaderNamesFile) {
    ByteVec content = test::pcapFile(1, {});
    content[0] = std::byte{0x00};  // magic destroyed
    std::string file = dir_.write("corrupt.pcap", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), file + ": unknown file format");
}

TEST_F(PcapFileReaderTest, ShortHeaderNamesFile) {
    ByteVec content = test::pcapFile(1, {});
    content.resize(10);
    std::string file = dir_.write("short.pcap", content);
    auto opened = PcapFileReader::open(file);
    ASSERT_FALSE(opened);
    EXPECT_THAT(opened.error(), StartsWith(file + ": "));
    EXPECT_THAT(opened.error(), HasSubstr("truncated"));
}

TEST_F(PcapFileReaderTest, EmptyFileNamesFile) {
    std::string file = dir_.write("empty.pcap", {});
    auto opened = PcapFileReader::open(file);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), file + ": empty file, not a pcap or pcapng capture");
}

TEST_F(PcapFileReaderTest, MissingFileNamesFile) {
    std::string file = dir_.file("capture.pcap");
    auto opened = PcapFileReader::open(file);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), file + ": No such file or directory");
}

TEST_F(PcapFileReaderTest, DirectoryIsNotACaptureFile) {
    std::string path = dir_.file("");
    auto opened = PcapFileReader::open(path);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), path + ": error reading dump file: Is a directory");
}

TEST_F(PcapFileReaderTest, UnsupportedLinkTypeNamesFileAndDlt) {
    std::string file = dir_.write("user0.pcap", test::pcapFile(147, {{1, 0, synPacket()}}));
    auto opened = PcapFileReader::open(file);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), file + ": unsupported link type DLT 147 (USER0)");
    std::string ng = dir_.write("user0.pcapng", test::pcapngFile(147, {{1, 0, synPacket()}}));
    auto openedNg = PcapFileReader::open(ng);
    ASSERT_FALSE(openedNg);
    EXPECT_EQ(openedNg.error(), ng + ": unsupported link type DLT 147 (USER0)");
}

TEST_F(PcapFileReaderTest, EmptyCaptureEndsCleanly) {
    std::string file = dir_.write("none.pcap", test::pcapFile(1, {}));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_FALSE(opened.value().next());
    EXPECT_EQ(opened.value().error(), "");
    EXPECT_EQ(opened.value().framesRead(), 0u);
}

TEST_F(PcapFileReaderTest, FilterSkipsFrames) {
    ByteVec other = synPacket();
    other[23] = std::byte{81};  // destination port 81 (checksum is irrelevant to BPF)
    std::vector<Record> records{{1, 0, synPacket()}, {2, 0, other}, {3, 0, synPacket()}};
    std::string file = dir_.write("filter.pcap", test::pcapFile(101, records));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    ASSERT_EQ(opened.value().setFilter("tcp dst port 81"), "");
    auto frame = opened.value().next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->timestamp, 2s);
    EXPECT_FALSE(opened.value().next());
    EXPECT_EQ(opened.value().error(), "");
}

TEST_F(PcapFileReaderTest, BadFilterNamesFileAndExpression) {
    std::string file = dir_.write("f.pcap", test::pcapFile(1, {}));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    std::string error = opened.value().setFilter("tcp port eighty");
    EXPECT_THAT(error, StartsWith(file + ": filter 'tcp port eighty': "));
}

TEST_F(PcapFileReaderTest, ReaderIsMovable) {
    std::string file = dir_.write("m.pcap", test::pcapFile(101, {{1, 0, synPacket()}}));
    auto opened = PcapFileReader::open(file);
    ASSERT_TRUE(opened) << opened.error();
    PcapFileReader moved = std::move(opened).value();
    EXPECT_EQ(moved.path(), file);
    EXPECT_TRUE(moved.next());
}

}  // namespace
}  // namespace tcpcopy::capture
