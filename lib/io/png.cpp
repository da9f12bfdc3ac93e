// libpng's simplified API (png_image_write_to_memory, libpng >= 1.6) does its own error
// handling, so there is no setjmp/longjmp to mix with C++ objects here.
#include "io/png.hpp"

#include <cstring>

#include <fmt/format.h>
#include <png.h>

#include "tapegrad/error.hpp"

namespace tg::summary::detail {

std::string encode_png(const std::uint8_t* pixels, int width, int height, int channels) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    switch (channels) {
        case 1: image.format = PNG_FORMAT_GRAY; break;
        case 3: image.format = PNG_FORMAT_RGB; break;
        case 4: image.format = PNG_FORMAT_RGBA; break;
        default: throw Error(fmt::format("add_image: {} channels (expected 1, 3 or 4)", channels));
    }
    // First call: the size; second call: the bytes.
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, nullptr)) {
        const std::string message = image.message;
        png_image_free(&image);
        throw Error(fmt::format("add_image: libpng: {}", message));
    }
    std::string out(size, '\0');
    if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, nullptr)) {
        const std::string message = image.message;
        png_image_free(&image);
        throw Error(fmt::format("add_image: libpng: {}", message));
    }
    out.resize(size);
    return out;
}

}  // namespace tg::summary::detail
