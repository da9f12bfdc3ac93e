// The one GEMM of the library: every matrix product (mm, bmm, the dense op, convolution)
// reaches BLAS through gemm<T>, and lib/tensor/gemm.cpp is the only file that includes
// cblas.h. One place to swap the BLAS, count FLOPs or add a threading policy.
#pragma once

#include <cstdint>

namespace tg::detail {

// Whether gemm reads an operand as stored (row-major) or as its transpose.
enum class Transpose : bool { No, Yes };

// c (m x n, row-major, leading dim ldc) = alpha * op(a) @ op(b) + beta * c, where op(a) is
// m x k and op(b) k x n. An empty m or n writes nothing; k = 0 leaves c = beta * c.
// Instantiated for float and double.
template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

extern template void gemm<float>(Transpose, Transpose, std::int64_t, std::int64_t, std::int64_t, float,
                                 const float*, std::int64_t, const float*, std::int64_t, float, float*,
                                 std::int64_t);
extern template void gemm<double>(Transpose, Transpose, std::int64_t, std::int64_t, std::int64_t, double,
                                  const double*, std::int64_t, const double*, std::int64_t, double, double*,
                                  std::int64_t);

}  // namespace tg::detail
