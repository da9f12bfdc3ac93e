// The bound on every shape a tensor may have, for shapes from files and users.
#pragma once

#include <string>

#include "tapegrad/dtype.hpp"
#include "tapegrad/shape.hpp"

namespace tg::detail {

// Why `sizes` cannot describe a tensor of `dtype`, or "" when it can: a negative size, or
// sizes whose product, zeros counted as ones, times the element size exceeds int64. Counting
// zeros as ones bounds every stride too, so a shape like [0, 2^63-1, 2^63-1] is refused
// rather than accepted with overflowed strides. Shapes from files and users pass through it.
std::string shape_problem(const Shape& sizes, Dtype dtype);
// shape_problem(sizes, dtype).empty() without building a string: make_tensor's check.
inline bool shape_fits(const Shape& sizes, Dtype dtype) {
    std::int64_t bytes = static_cast<std::int64_t>(element_size(dtype));
    for (const std::int64_t size : sizes)
        if (size < 0 || __builtin_mul_overflow(bytes, size > 0 ? size : 1, &bytes)) return false;
    return true;
}

}  // namespace tg::detail
