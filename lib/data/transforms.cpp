// Example transforms and TransformDataset. Random transforms draw from the Rng the dataset
// seeds per (seed, epoch, index), never from tg's global generator, so workers and the
// training thread do not share random state.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::data {

namespace {

// splitmix64's finaliser: decorrelates nearby (seed, epoch, index) triples.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void check_image(const Tensor& input, const char* op) {
    TG_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3), op,
             "expected an image (C, H, W) or (H, W), got {}", input.defined() ? input.sizes() : Shape{});
}

}  // namespace

namespace transforms {

Transform normalize(double mean, double stddev) {
    TG_CHECK(stddev > 0, "normalize", "stddev must be positive, got {}", stddev);
    return {"normalize", [mean, stddev](Example e, Rng&) {
                e.input = (e.input - mean) / stddev;
                return e;
            },
            true};
}

Transform normalize(const std::vector<double>& mean, const std::vector<double>& stddev) {
    TG_CHECK(!mean.empty() && mean.size() == stddev.size(), "normalize",
             "expected one mean and one stddev per channel, got {} and {}", mean.size(), stddev.size());
    for (const double s : stddev) TG_CHECK(s > 0, "normalize", "stddev must be positive, got {}", s);
    const auto channels = static_cast<std::int64_t>(mean.size());
    const auto m = from_vector(mean, {channels, 1, 1});
    const auto s = from_vector(stddev, {channels, 1, 1});
    return {"normalize", [m, s, channels](Example e, Rng&) {
                TG_CHECK(e.input.dim() >= 3 && e.input.size(-3) == channels, "normalize",
                         "expected {} channels in a (..., C, H, W) input, got {}", channels, e.input.sizes());
                e.input = (e.input - m.to(e.input.dtype())) / s.to(e.input.dtype());
                return e;
            },
            true};
}

Transform to_float(double scale, Dtype dtype) {
    return {"to_float", [scale, dtype](Example e, Rng&) {
                e.input = e.input.to(dtype);
                if (scale != 1.0) e.input = e.input * scale;
                return e;
            },
            true};
}

Transform one_hot(std::int64_t num_classes) {
    TG_CHECK(num_classes > 0, "one_hot", "num_classes must be positive, got {}", num_classes);
    return {"one_hot", [num_classes](Example e, Rng&) {
                e.target = tg::one_hot(e.target.to(kInt64), num_classes);
                return e;
            },
            true};
}

Transform random_horizontal_flip(double p) {
    TG_CHECK(p >= 0 && p <= 1, "random_horizontal_flip", "p must be in [0, 1], got {}", p);
    return {"random_horizontal_flip", [p](Example e, Rng& rng) {
                check_image(e.input, "random_horizontal_flip");
                if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p) {
                    const auto w = e.input.size(-1);
                    e.input = index_select(e.input, -1, arange(static_cast<double>(w - 1), -1.0, -1.0));
                }
                return e;
            }};
}

Transform random_crop(std::int64_t size, std::int64_t padding) {
    TG_CHECK(size > 0 && padding >= 0, "random_crop", "expected size > 0 and padding >= 0, got {} and {}", size,
             padding);
    return {"random_crop", [size, padding](Example e, Rng& rng) {
                check_image(e.input, "random_crop");
                const auto h = e.input.size(-2), w = e.input.size(-1);
                TG_CHECK(h + 2 * padding >= size && w + 2 * padding >= size, "random_crop",
                         "a {}x{} crop does not fit the {} input padded by {}", size, size, e.input.sizes(),
                         padding);
                // Window origin in padded coordinates, then shifted into input coordinates.
                const auto oy = std::uniform_int_distribution<std::int64_t>(0, h + 2 * padding - size)(rng) - padding;
                const auto ox = std::uniform_int_distribution<std::int64_t>(0, w + 2 * padding - size)(rng) - padding;
                Shape out_shape = e.input.sizes();
                out_shape[out_shape.size() - 2] = size;
                out_shape[out_shape.size() - 1] = size;
                auto out = zeros(out_shape, e.input.dtype());
                const auto y0 = std::max<std::int64_t>(0, oy), y1 = std::min(h, oy + size);
                const auto x0 = std::max<std::int64_t>(0, ox), x1 = std::min(w, ox + size);
                if (y1 > y0 && x1 > x0)
                    out.narrow(-2, y0 - oy, y1 - y0)
                        .narrow(-1, x0 - ox, x1 - x0)
                        .copy_(e.input.narrow(-2, y0, y1 - y0).narrow(-1, x0, x1 - x0));
                e.input = out;
                return e;
            }};
}

Transform lambda(std::string name, std::function<Tensor(const Tensor&)> fn) {
    return {std::move(name), [fn = std::move(fn)](Example e, Rng&) {
                e.input = fn(e.input);
                return e;
            }};
}

}  // namespace transforms

TransformDataset::TransformDataset(DatasetPtr base, std::vector<Transform> transforms, std::uint64_t seed)
    : base_(std::move(base)), transforms_(std::move(transforms)), seed_(seed), batchable_(true) {
    TG_CHECK(base_ != nullptr, "TransformDataset", "the base dataset is null");
    for (const auto& t : transforms_) {
        TG_CHECK(static_cast<bool>(t.apply), "TransformDataset", "transform '{}' has no function", t.name);
        batchable_ = batchable_ && t.batchable;
    }
}

Example TransformDataset::get_in_epoch(std::int64_t index, std::int64_t epoch) const {
    NoGradGuard no_grad;
    auto example = base_->get_in_epoch(index, epoch);
    Rng rng(mix(mix(seed_ ^ mix(static_cast<std::uint64_t>(epoch))) + static_cast<std::uint64_t>(index)));
    for (const auto& t : transforms_) example = t.apply(std::move(example), rng);
    return example;
}

Batch TransformDataset::get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const {
    if (!batchable_) return Dataset::get_batch(indices, epoch);
    NoGradGuard no_grad;
    auto batch = base_->get_batch(indices, epoch);
    Example e{std::move(batch.input), std::move(batch.target)};
    Rng unused(seed_);
    for (const auto& t : transforms_) e = t.apply(std::move(e), unused);
    return {std::move(e.input), std::move(e.target)};
}

}  // namespace tg::data
