// Picks simd_kernels.hpp's level once, from what this CPU supports.
#include "tensor/simd_kernels.hpp"

namespace tg::detail {

#define TG_DECLARE_LEVEL(level)                                                      \
    namespace level {                                                                \
    void unary_f32(SimdUnary op, const float* x, float* y, std::int64_t n);          \
    void unary_f64(SimdUnary op, const double* x, double* y, std::int64_t n);        \
    }
TG_DECLARE_LEVEL(simd_sse2)
TG_DECLARE_LEVEL(simd_avx2)
TG_DECLARE_LEVEL(simd_avx512)
#undef TG_DECLARE_LEVEL

namespace {

struct Level {
    const char* name;
    void (*f32)(SimdUnary, const float*, float*, std::int64_t);
    void (*f64)(SimdUnary, const double*, double*, std::int64_t);
};

const Level& level() {
    static const Level chosen = [] {
        __builtin_cpu_init();
        // x86-64-v4 needs AVX-512 F/BW/CD/DQ/VL; v3 AVX2, FMA, BMI1/2, F16C, MOVBE, LZCNT
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl"))
            return Level{"avx512", simd_avx512::unary_f32, simd_avx512::unary_f64};
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2") &&
            __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe"))
            return Level{"avx2", simd_avx2::unary_f32, simd_avx2::unary_f64};
        return Level{"sse2", simd_sse2::unary_f32, simd_sse2::unary_f64};
    }();
    return chosen;
}

}  // namespace

void simd_unary(SimdUnary op, const float* x, float* y, std::int64_t n) { level().f32(op, x, y, n); }
void simd_unary(SimdUnary op, const double* x, double* y, std::int64_t n) { level().f64(op, x, y, n); }
const char* simd_level() { return level().name; }

}  // namespace tg::detail
