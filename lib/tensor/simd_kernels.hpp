// Float kernels compiled once per x86-64 level and picked at run time, so the installed
// library runs on any x86-64 (and under valgrind) while AVX2 and AVX-512 machines still get
// their vector widths where it pays: the transcendental maps (exp, log, tanh, sigmoid) that
// xsimd vectorises. Everything else is compiled for the baseline unless -Dnative=true.
// (docs/design.md, "Portable build, dispatched kernels".)
#pragma once

#include <cstdint>

namespace tg::detail {

enum class SimdUnary { Exp, Log, Tanh, Sigmoid };

// y[i] = op(x[i]) for i < n, with the widest vector level this CPU has.
void simd_unary(SimdUnary op, const float* x, float* y, std::int64_t n);
void simd_unary(SimdUnary op, const double* x, double* y, std::int64_t n);

// The level simd_unary runs at here: "avx512", "avx2" or "sse2" (for tools/bench and tests).
const char* simd_level();

}  // namespace tg::detail
