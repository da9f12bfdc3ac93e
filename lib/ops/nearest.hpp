// Where nearest-neighbour resizing reads from: shared by the kernel (pool.cpp) and the ONNX
// exporter, which writes the resize as Gathers of exactly these rows and columns.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace tg::detail {

// Source index of each of the `out` positions of one dim of size `in`: floor(o * in / out)
// in integers for a given size (TF-1's resize_nearest_neighbor), floor(o / factor) for a
// given scale factor (libtorch), clamped to in - 1.
std::vector<std::int64_t> nearest_sources(std::int64_t in, std::int64_t out, std::optional<double> factor);

}  // namespace tg::detail
