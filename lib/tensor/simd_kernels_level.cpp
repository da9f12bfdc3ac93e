// simd_kernels.hpp's kernels for ONE vector level: meson compiles this file once per level
// (-march=x86-64, x86-64-v3, x86-64-v4) with TG_SIMD_LEVEL naming the namespace; xsimd
// and xtensor pick that level's instructions from the compiler flags.
#include <array>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "tensor/simd_kernels.hpp"

#ifndef TG_SIMD_LEVEL
#error "compile with -DTG_SIMD_LEVEL=<namespace>"
#endif

namespace tg::detail::TG_SIMD_LEVEL {
namespace {

// A type of this file only: every xtensor/xsimd template instantiated with it has internal
// linkage, so the linker cannot merge this level's copy of an xtensor function with
// another level's (same name, other instructions) and run AVX-512 code on an older CPU.
template <class T>
struct LevelAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = LevelAllocator<U>;
    };
};

// xsimd's exp (and tanh, which calls it) converts x * log2(e) to an integer before it
// checks the range, so exp(-inf), exp(inf), exp(NaN) and exp(1e300) convert a value no
// integer holds: undefined behaviour (UBSan stops there; x86 happens to mask the result
// afterwards). Beyond +-1000, exp is 0 or inf and tanh is -1 or 1 in float and double, so
// clamping there keeps every result; NaN goes in as 0 and is put back by keep_nan.
template <class E>
auto in_exp_range(const E& x) {
    using T = typename std::decay_t<E>::value_type;
    return xt::where(x < T(-1000), T(-1000), xt::where(x > T(1000), T(1000), xt::where(xt::isnan(x), T(0), x)));
}

template <class E, class R>
auto keep_nan(const E& x, R&& result) {
    return xt::where(xt::isnan(x), x, std::forward<R>(result));
}

template <class T>
void unary(SimdUnary op, const T* x, T* y, std::int64_t n) {
    const auto size = static_cast<std::size_t>(n);
    const std::array<std::size_t, 1> shape{size};
    auto xv = xt::adapt(x, size, xt::no_ownership(), shape, xt::layout_type::row_major, LevelAllocator<T>());
    auto yv = xt::adapt(y, size, xt::no_ownership(), shape, xt::layout_type::row_major, LevelAllocator<T>());
    switch (op) {
        case SimdUnary::Exp: xt::noalias(yv) = keep_nan(xv, xt::exp(in_exp_range(xv))); break;
        case SimdUnary::Log: xt::noalias(yv) = xt::log(xv); break;
        case SimdUnary::Tanh: xt::noalias(yv) = keep_nan(xv, xt::tanh(in_exp_range(xv))); break;
        case SimdUnary::Sigmoid: xt::noalias(yv) = keep_nan(xv, T(1) / (T(1) + xt::exp(-in_exp_range(xv)))); break;
    }
}

}  // namespace

void unary_f32(SimdUnary op, const float* x, float* y, std::int64_t n) { unary(op, x, y, n); }
void unary_f64(SimdUnary op, const double* x, double* y, std::int64_t n) { unary(op, x, y, n); }

}  // namespace tg::detail::TG_SIMD_LEVEL
