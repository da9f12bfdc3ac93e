// What every fuzz target shares. The loaders read paths, so an input becomes a file first
// (in /dev/shm when there is one: a write per input must be cheap), and a load that succeeds
// has each of its elements read, so AddressSanitizer sees any tensor that points outside its
// storage. Anything thrown other than tg::Error escapes the target: libFuzzer reports it.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tapegrad/tapegrad.hpp"

namespace tgfuzz {

// Writes the input to a per-process file named `name` and returns its path.
inline const std::string& as_file(const std::uint8_t* data, std::size_t size, const std::string& name) {
    static const std::string path = [&] {
        const std::filesystem::path shm = "/dev/shm";
        const auto dir = std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
        return (dir / ("tapegrad_fuzz_" + std::to_string(::getpid()) + "_" + name)).string();
    }();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path;
}

// Reads every element (as double) so an out-of-bounds view cannot go unnoticed.
inline double touch(const tg::Tensor& t) {
    double sum = 0;
    for (double v : t.to_vector<double>()) sum += v == v ? 0.0 : 1.0;  // NaN-safe, never traps
    return sum;
}

inline double touch(const tg::NamedTensors& tensors) {
    double sum = 0;
    for (const auto& [name, t] : tensors) sum += touch(t) + static_cast<double>(name.size());
    return sum;
}

}  // namespace tgfuzz
