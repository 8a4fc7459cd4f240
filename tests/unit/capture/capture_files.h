#pragma once
// Test support: writes pcap and pcapng files byte by byte (independently of libpcap's writer) into
// a per-test temporary directory that is removed afterwards.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../net/packets.h"

namespace tcpcopy::capture::test {

// The reference packets and byte helpers are the net tests' own.
using net::test::bytes;
using net::test::ByteVec;
using net::test::concat;
using net::test::synPacket;

struct Record {
    std::uint32_t seconds = 0;
    std::uint32_t fraction = 0;  // micro- or nanoseconds, as the file's precision says
    ByteVec data;
    std::uint32_t wireLength = 0;  // 0: data.size()
};

// Little or big endian appends.
class Writer {
  public:
    explicit Writer(bool bigEndian = false) : big_(bigEndian) {}
    Writer& u8(std::uint8_t v) {
        out_.push_back(static_cast<std::byte>(v));
        return *this;
    }
    Writer& u16(std::uint16_t v) {
        return big_ ? u8(static_cast<std::uint8_t>(v >> 8)).u8(static_cast<std::uint8_t>(v))
                    : u8(static_cast<std::uint8_t>(v)).u8(static_cast<std::uint8_t>(v >> 8));
    }
    Writer& u32(std::uint32_t v) {
        return big_ ? u16(static_cast<std::uint16_t>(v >> 16)).u16(static_cast<std::uint16_t>(v))
                    : u16(static_cast<std::uint16_t>(v)).u16(static_cast<std::uint16_t>(v >> 16));
    }
    Writer& raw(const ByteVec& data) {
        out_.insert(out_.end(), data.begin(), data.end());
        return *this;
    }
    Writer& pad4() {
        while (out_.size() % 4 != 0) u8(0);
        return *this;
    }
    std::size_t size() const { return out_.size(); }
    ByteVec& bytes() { return out_; }

  private:
    bool big_;
    ByteVec out_;
};

struct PcapFormat {
    bool nanosecond = false;
    bool bigEndian = false;
    std::uint32_t snaplen = 65535;
};

inline ByteVec pcapFile(std::uint32_t linkType, const std::vector<Record>& records, PcapFormat format = {}) {
    Writer w(format.bigEndian);
    w.u32(format.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4)
        .u16(2)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(format.snaplen)
        .u32(linkType);
    for (const Record& r : records) {
        w.u32(r.seconds).u32(r.fraction).u32(static_cast<std::uint32_t>(r.data.size()));
        w.u32(r.wireLength != 0 ? r.wireLength : static_cast<std::uint32_t>(r.data.size())).raw(r.data);
    }
    return std::move(w.bytes());
}

// A pcapng section with one interface of `linkType` at nanosecond resolution (if_tsresol 9) and
// one Enhanced Packet Block per record (timestamp = seconds * 1e9 + fraction).
inline ByteVec pcapngFile(std::uint32_t linkType, const std::vector<Record>& records) {
    Writer w;
    w.u32(0x0A0D0D0A).u32(28).u32(0x1A2B3C4D).u16(1).u16(0).u32(0xFFFFFFFF).u32(0xFFFFFFFF).u32(28);
    // IDB with options if_tsresol (9: 10^-9) and opt_endofopt.
    w.u32(1).u32(32).u16(static_cast<std::uint16_t>(linkType)).u16(0).u32(65535);
    w.u16(9).u16(1).u8(9).u8(0).u8(0).u8(0).u16(0).u16(0).u32(32);
    for (const Record& r : records) {
        std::uint64_t ts = std::uint64_t{r.seconds} * 1000000000u + r.fraction;
        std::uint32_t padded = static_cast<std::uint32_t>((r.data.size() + 3) / 4 * 4);
        std::uint32_t total = 32 + padded;
        w.u32(6)
            .u32(total)
            .u32(0)
            .u32(static_cast<std::uint32_t>(ts >> 32))
            .u32(static_cast<std::uint32_t>(ts));
        w.u32(static_cast<std::uint32_t>(r.data.size()));
        w.u32(r.wireLength != 0 ? r.wireLength : static_cast<std::uint32_t>(r.data.size()));
        w.raw(r.data).pad4().u32(total);
    }
    return std::move(w.bytes());
}

// A fresh directory per test, removed on teardown.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tcpcopy-capture-XXXXXX").string();
        char* made = ::mkdtemp(pattern.data());
        if (made == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = made;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string write(const std::string& name, const ByteVec& content) const {
        std::string file = (path_ / name).string();
        std::ofstream out(file, std::ios::binary);
        out.write(reinterpret_cast<const char*>(content.data()),
                  static_cast<std::streamsize>(content.size()));
        return file;
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

}  // namespace tcpcopy::capture::test
