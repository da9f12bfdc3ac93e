// Pooling by its definition, the oracle of test_nn_ops.cpp and test_conv_groups.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "test_support.hpp"

namespace tgtest {

struct Pads {
    std::int64_t top, bottom, left, right;
};

// Pools each (N, C) plane of x with a kh x kw window. `mode`: 0 = max, 1 = mean dividing by
// the window's cells inside the padded input (count_include_pad), 2 = by the cells inside
// the input only. ceil_mode: libtorch's output size (rounded up, then a last window that
// would start past the input and the leading padding dropped).
inline std::vector<double> naive_pool(const tg::Tensor& x, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                                      std::int64_t sw, Pads p, int mode, bool ceil_mode = false) {
    const auto X = values(x.contiguous());
    const std::int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    auto out_size = [&](std::int64_t in, std::int64_t lead, std::int64_t trail, std::int64_t k, std::int64_t s) {
        std::int64_t o = (in + lead + trail - k + (ceil_mode ? s - 1 : 0)) / s + 1;
        if (ceil_mode && (o - 1) * s >= in + lead) --o;
        return o;
    };
    const std::int64_t OH = out_size(H, p.top, p.bottom, kh, sh), OW = out_size(W, p.left, p.right, kw, sw);
    std::vector<double> out;
    for (std::int64_t q = 0; q < planes; ++q)
        for (std::int64_t oh = 0; oh < OH; ++oh)
            for (std::int64_t ow = 0; ow < OW; ++ow) {
                double best = -INFINITY, s = 0;
                std::int64_t inside = 0, padded = 0;
                for (std::int64_t i = 0; i < kh; ++i)
                    for (std::int64_t j = 0; j < kw; ++j) {
                        const std::int64_t h = oh * sh - p.top + i, w = ow * sw - p.left + j;
                        if (h < H + p.bottom && w < W + p.right) ++padded;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        const double v = X[static_cast<std::size_t>((q * H + h) * W + w)];
                        best = std::max(best, v);
                        s += v;
                        ++inside;
                    }
                out.push_back(mode == 0 ? best : mode == 1 ? s / double(padded) : s / double(inside));
            }
    return out;
}

}  // namespace tgtest
