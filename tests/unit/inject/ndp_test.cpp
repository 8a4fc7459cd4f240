#include "tcpcopy/inject/ndp.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "tcpcopy/net/builder.h"

namespace tcpcopy::inject {
namespace {

// Frames written out by hand (Python's struct and ipaddress, checksums by RFC 1071), hex.
std::vector<std::uint8_t> hex(const std::string& text) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
        out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    }
    return out;
}

const MacAddress kOwnMac{2, 0, 0, 0, 0, 1};
const net::IpAddr kTarget = *net::IpAddr::parse("fd00:198:18:1::2");

// fe80::1 (02:00:00:00:00:01) asks for fd00:198:18:1::2 at ff02::1:ff00:2 (33:33:ff:00:00:02), hop
// limit 255, with its link-layer address as the source option.
const std::string kSolicitation =
    "3333ff000002020000000001"
    "86dd"
    "6000000000203aff"
    "fe800000000000000000000000000001"
    "ff0200000000000000000001ff000002"
    "87007a6600000000"
    "fd000198001800010000000000000002"
    "0101020000000001";
// The same from :: (DEV without an IPv6 address): no option (RFC 4861 4.3).
const std::string kSolicitationFromUnspecified =
    "3333ff000002020000000001"
    "86dd"
    "6000000000183aff"
    "00000000000000000000000000000000"
    "ff0200000000000000000001ff000002"
    "87007bf200000000"
    "fd000198001800010000000000000002";
// fd00:198:18:1::2 (frame source 02:00:00:00:00:02) answers fe80::1, solicited and override, with
// 02:00:00:00:00:03 in its target link-layer address option.
const std::string kAdvertisement =
    "020000000001020000000002"
    "86dd"
    "6000000000203aff"
    "fd000198001800010000000000000002"
    "fe800000000000000000000000000001"
    "880017b760000000"
    "fd000198001800010000000000000002"
    "0201020000000003";
// The same without the option.
const std::string kAdvertisementWithoutOption =
    "020000000001020000000002"
    "86dd"
    "6000000000183aff"
    "fd000198001800010000000000000002"
    "fe800000000000000000000000000001"
    "88001bc360000000"
    "fd000198001800010000000000000002";

std::vector<std::uint8_t> solicitation(const net::IpAddr& source) {
    std::array<std::uint8_t, kNeighbourSolicitationMax> out{};
    const std::size_t length = buildNeighbourSolicitation(kOwnMac, source, kTarget, std::span(out));
    return std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(length));
}

TEST(NeighbourSolicitation, GoesToTheSolicitedNodeGroupWithOurLinkLayerAddress) {
    EXPECT_EQ(solicitation(*net::IpAddr::parse("fe80::1")), hex(kSolicitation));
}

TEST(NeighbourSolicitation, FromTheUnspecifiedAddressCarriesNoOption) {
    EXPECT_EQ(solicitation(*net::IpAddr::parse("::")), hex(kSolicitationFromUnspecified));
}

TEST(NeighbourAdvertisement, GivesTheTargetLinkLayerOptionElseTheFrameSource) {
    EXPECT_EQ(parseNeighbourAdvertisement(hex(kAdvertisement), kTarget), (MacAddress{2, 0, 0, 0, 0, 3}));
    EXPECT_EQ(parseNeighbourAdvertisement(hex(kAdvertisementWithoutOption), kTarget),
              (MacAddress{2, 0, 0, 0, 0, 2}));
}

TEST(NeighbourAdvertisement, RefusesEverythingElse) {
    const std::vector<std::uint8_t> good = hex(kAdvertisement);
    EXPECT_FALSE(
        parseNeighbourAdvertisement(good, *net::IpAddr::parse("fd00:198:18:1::3")));  // another target
    EXPECT_FALSE(parseNeighbourAdvertisement(hex(kSolicitation), kTarget));           // a solicitation
    auto routed = good;
    routed[14 + 7] = 254;  // crossed a router
    EXPECT_FALSE(parseNeighbourAdvertisement(routed, kTarget));
    auto corrupt = good;
    corrupt.back() ^= 1;  // checksum no longer right
    EXPECT_FALSE(parseNeighbourAdvertisement(corrupt, kTarget));
    auto notIcmp = good;
    notIcmp[14 + 6] = 6;
    EXPECT_FALSE(parseNeighbourAdvertisement(notIcmp, kTarget));
    auto ipv4 = good;
    ipv4[12] = 0x08, ipv4[13] = 0x00;
    EXPECT_FALSE(parseNeighbourAdvertisement(ipv4, kTarget));
    // An option of length 0 makes the message invalid (RFC 4861 4.6), its checksum kept right
    // (the same update on the option's MAC is accepted, so the checksum is what the parser wants).
    const auto edited = [&good](std::size_t at, std::uint16_t word) {
        constexpr std::size_t kChecksum = 14 + 40 + 2;
        auto frame = good;
        const auto old = static_cast<std::uint16_t>(good[at] << 8 | good[at + 1]);
        const std::uint16_t sum = net::checksumUpdate16(
            static_cast<std::uint16_t>(good[kChecksum] << 8 | good[kChecksum + 1]), old, word);
        frame[at] = static_cast<std::uint8_t>(word >> 8);
        frame[at + 1] = static_cast<std::uint8_t>(word);
        frame[kChecksum] = static_cast<std::uint8_t>(sum >> 8);
        frame[kChecksum + 1] = static_cast<std::uint8_t>(sum);
        return frame;
    };
    EXPECT_EQ(parseNeighbourAdvertisement(edited(14 + 40 + 30, 0x0009), kTarget),
              (MacAddress{2, 0, 0, 0, 0, 9}));
    EXPECT_FALSE(parseNeighbourAdvertisement(edited(14 + 40 + 24, 0x0200), kTarget));
    // Every truncation: the payload length then runs past the frame, nothing is read beyond it.
    for (std::size_t size = 0; size < good.size(); ++size) {
        EXPECT_FALSE(parseNeighbourAdvertisement(std::span(good).first(size), kTarget)) << size << " bytes";
    }
}

}  // namespace
}  // namespace tcpcopy::inject
