// What the Fashion-MNIST examples share: loading a split from the IDX files, accuracy of
// logits against labels, and a wall clock for progress lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace examples {

constexpr std::int64_t kPixels = 28 * 28;
constexpr std::int64_t kClasses = 10;

struct Split {
    tg::Tensor images;  // (N, 784) float32 in [0, 1]
    tg::Tensor labels;  // (N) int64 in [0, 10)
};

// prefix "train" or "t10k", as Debian's dataset-fashion-mnist names the files.
inline Split load_split(const std::filesystem::path& dir, const std::string& prefix) {
    auto images = tg::data::load_idx((dir / (prefix + "-images-idx3-ubyte.gz")).string(), true);
    auto labels = tg::data::load_idx((dir / (prefix + "-labels-idx1-ubyte.gz")).string());
    return {images.reshape({images.size(0), kPixels}), labels};
}

// Fraction of rows whose largest logit is at the label.
inline double accuracy(const tg::Tensor& logits, const tg::Tensor& labels) {
    return (tg::argmax(logits, 1) == labels).to(tg::kFloat32).mean().item<double>();
}

class Clock {
public:
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace examples
