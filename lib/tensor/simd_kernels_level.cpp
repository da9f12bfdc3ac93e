// simd_kernels.hpp's kernels for ONE vector level: meson compiles this file once per level
// (-march=x86-64, x86-64-v3, x86-64-v4) with TG_SIMD_LEVEL naming the namespace; xsimd
// and xtensor pick that level's instructions from the compiler flags.
#include <array>
#include <cstdint>
#include <memory>

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

template <class T>
void unary(SimdUnary op, const T* x, T* y, std::int64_t n) {
    const auto size = static_cast<std::size_t>(n);
    const std::array<std::size_t, 1> shape{size};
    auto xv = xt::adapt(x, size, xt::no_ownership(), shape, xt::layout_type::row_major, LevelAllocator<T>());
    auto yv = xt::adapt(y, size, xt::no_ownership(), shape, xt::layout_type::row_major, LevelAllocator<T>());
    switch (op) {
        case SimdUnary::Exp: xt::noalias(yv) = xt::exp(xv); break;
        case SimdUnary::Log: xt::noalias(yv) = xt::log(xv); break;
        case SimdUnary::Tanh: xt::noalias(yv) = xt::tanh(xv); break;
        case SimdUnary::Sigmoid: xt::noalias(yv) = T(1) / (T(1) + xt::exp(-xv)); break;
    }
}

}  // namespace

void unary_f32(SimdUnary op, const float* x, float* y, std::int64_t n) { unary(op, x, y, n); }
void unary_f64(SimdUnary op, const double* x, double* y, std::int64_t n) { unary(op, x, y, n); }

}  // namespace tg::detail::TG_SIMD_LEVEL
