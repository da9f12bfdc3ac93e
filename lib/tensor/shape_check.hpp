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

}  // namespace tg::detail
