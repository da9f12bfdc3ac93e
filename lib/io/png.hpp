// PNG encoding through libpng (its "simplified" in-memory API), for add_image.
#pragma once

#include <cstdint>
#include <string>

namespace tg::summary::detail {

// `pixels` holds height rows of width * channels bytes (channels 1 = gray, 3 = RGB,
// 4 = RGBA). Returns the PNG file's bytes; throws tg::Error when libpng fails.
std::string encode_png(const std::uint8_t* pixels, int width, int height, int channels);

}  // namespace tg::summary::detail
