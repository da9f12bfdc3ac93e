// TFRecord framing's checksum and little-endian reads, written bit by bit and without
// tapegrad: shared by tools/tbplot (which does not link tapegrad) and test_summary (whose
// oracle must not be lib/io's table-driven CRC32C it checks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tfrecord {

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit, no table.
inline std::uint32_t bitwise_crc32c(std::string_view bytes) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// The masked CRC a TFRecord stores: rotated right by 15 bits plus a constant.
inline std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// The n-byte little-endian unsigned integer at bytes[pos].
inline std::uint64_t read_le(std::string_view bytes, std::size_t pos, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes[pos + i])} << (8 * i);
    return v;
}

}  // namespace tfrecord
