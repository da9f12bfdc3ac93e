// One place maps a runtime Dtype to a C++ element type: kernels are generic lambdas
// called with a value of that type, so adding a dtype is one edit here.
#pragma once

#include <cstdint>
#include <string_view>

#include "tapegrad/dtype.hpp"
#include "tensor/check.hpp"

namespace tg::detail {

template <class F>
decltype(auto) visit_dtype(Dtype dtype, F&& f) {
    switch (dtype) {
        case Dtype::Float32: return f(float{});
        case Dtype::Float64: return f(double{});
        case Dtype::Int64: return f(std::int64_t{});
        case Dtype::Bool: return f(bool{});
    }
    throw Error("internal: unknown dtype");
}

// For kernels defined only on float32/float64; names the op when given another dtype.
template <class F>
decltype(auto) visit_floating(Dtype dtype, std::string_view op, F&& f) {
    switch (dtype) {
        case Dtype::Float32: return f(float{});
        case Dtype::Float64: return f(double{});
        default: break;
    }
    throw Error(fmt::format("{}: expected a float32 or float64 tensor, got {}", op, dtype_name(dtype)));
}

// Numeric kernels (no bool arithmetic): float32, float64, int64.
template <class F>
decltype(auto) visit_numeric(Dtype dtype, std::string_view op, F&& f) {
    switch (dtype) {
        case Dtype::Float32: return f(float{});
        case Dtype::Float64: return f(double{});
        case Dtype::Int64: return f(std::int64_t{});
        default: break;
    }
    throw Error(fmt::format("{}: expected a numeric tensor, got {}", op, dtype_name(dtype)));
}

}  // namespace tg::detail
