// CRC-32 (the zlib/gzip polynomial) bit by bit: an oracle independent of the library's, for
// tests that build gzip streams and checksummed checkpoints by hand.
#pragma once

#include <cstdint>
#include <vector>

namespace tgtest {

inline std::uint32_t crc32(const std::vector<unsigned char>& bytes) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

}  // namespace tgtest
