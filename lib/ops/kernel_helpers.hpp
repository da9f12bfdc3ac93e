// Internal to the ops: helpers shared by the kernel-backed ops (conv, pool, norm).
#pragma once

#include <cstdint>
#include <utility>

#include "tapegrad/tensor.hpp"
#include "tensor/check.hpp"

namespace tg::detail {

// The data a kernel reads: off the tape (a kernel is not differentiated) and contiguous.
inline Tensor raw(const Tensor& t) { return t.detach().contiguous(); }

// A 2-D size given libtorch's way, {v} or {h, w}, as {h, w}; each must be >= min_value.
// `what` names the argument in the error ("stride", "kernel size", ...).
inline std::pair<std::int64_t, std::int64_t> spatial_pair(const Shape& s, const char* what, const char* op,
                                                          std::int64_t min_value) {
    TG_CHECK(s.size() == 1 || s.size() == 2, op, "{} must have 1 or 2 values, got {}", what, s);
    const std::int64_t h = s[0], w = s.size() == 2 ? s[1] : s[0];
    TG_CHECK(h >= min_value && w >= min_value, op, "{} must be >= {}, got {}", what, min_value, s);
    return {h, w};
}

}  // namespace tg::detail
