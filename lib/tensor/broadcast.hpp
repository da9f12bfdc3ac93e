// NumPy broadcasting, computed once and shared by every binary op, and its backward.
#pragma once

#include <string_view>

#include "tapegrad/shape.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

// The broadcast shape of a and b; throws "op: shapes [..] and [..] cannot broadcast
// (dim i: x vs y)" when they are incompatible.
Shape broadcast_shape(const Shape& a, const Shape& b, std::string_view op);
// Strides that read a tensor of `sizes`/`strides` as if it had shape `target` (which it
// broadcasts to): 0 on broadcast dims.
Shape broadcast_strides(const Shape& sizes, const Shape& strides, const Shape& target);
// Sums `grad` over the dims that broadcasting added or stretched, giving `shape`: the
// backward of every broadcasting op. Recorded on the tape (double backward works).
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

}  // namespace tg::detail

namespace tg::detail {

// What the backward of a broadcasting op needs to know of an input: not its data, only
// its shape and dtype (so its buffer can die early, like Flashlight's withoutData()).
struct InputInfo {
    Shape sizes;
    Dtype dtype;
    bool requires_grad;
    explicit InputInfo(const Tensor& t);
    // The gradient for this input from a gradient over the broadcast output shape;
    // undefined when the input needs none.
    Tensor reduce(const Tensor& grad) const;
};

}  // namespace tg::detail
