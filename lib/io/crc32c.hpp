// CRC32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's "masked" form.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tapegrad/export.hpp"

namespace tg::summary::detail {

TG_API std::uint32_t crc32c(const void* data, std::size_t size);  // exported for test_summary

// TFRecord stores masked CRCs, so a CRC computed over data that itself holds CRCs does
// not degenerate: rotate right by 15 bits and add a constant.
inline std::uint32_t mask_crc32c(std::uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace tg::summary::detail
