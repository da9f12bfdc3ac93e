#include "tensor/gemm.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include <cblas.h>
#ifdef TG_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "tensor/parallel.hpp"

namespace tg::detail {

namespace {
CBLAS_TRANSPOSE to_cblas(Transpose t) { return t == Transpose::Yes ? CblasTrans : CblasNoTrans; }

// Which sgemm runs the float32 products. OpenBLAS picks its kernels by CPU model when it
// loads and falls back to older ones on CPUs newer than its release: Debian 12's 0.3.21
// runs its AVX2 "Haswell" kernels on this machine's AVX-512 EPYC (family 0x1A, Zen 5).
// oneDNN (already loaded for the convolutions) picks by instruction set. So when oneDNN
// runs AVX-512 and OpenBLAS's kernels do not, oneDNN's sgemm takes the float32 products
// (measured here, one thread: 1.1-2.7x faster over the CNN/MLP/LSTM shapes, 2x on 1024^3);
// otherwise OpenBLAS keeps them (on AVX2-only CPUs the two were within 0.9-1.3x of each
// other; with OpenBLAS's own AVX-512 kernels it won some shapes). TG_FLOAT_GEMM=openblas
// or =onednn overrides the choice (for measuring). float64 always goes to OpenBLAS.
bool float_gemm_on_dnnl() {
#ifdef TG_HAVE_DNNL
    static const bool on_dnnl = [] {
        if (const char* forced = std::getenv("TG_FLOAT_GEMM")) {
            if (std::strcmp(forced, "onednn") == 0) return true;
            if (std::strcmp(forced, "openblas") == 0) return false;
        }
        const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
        const bool dnnl_avx512 = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
        std::string core = openblas_get_corename();
        for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const bool openblas_avx512 = core.find("skylakex") != std::string::npos ||
                                     core.find("cooperlake") != std::string::npos ||
                                     core.find("sapphirerapids") != std::string::npos;
        return dnnl_avx512 && !openblas_avx512;
    }();
    return on_dnnl;
#else
    return false;
#endif
}

}  // namespace

template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    const LibraryThreads library(double(m) * double(n) * double(k) < grain::serial_gemm_macs ? 1 : team_threads());
    const auto ta = to_cblas(trans_a), tb = to_cblas(trans_b);
    if constexpr (std::is_same_v<T, float>) {
#ifdef TG_HAVE_DNNL
        if (k > 0 && float_gemm_on_dnnl() &&
            dnnl_sgemm(trans_a == Transpose::Yes ? 'T' : 'N', trans_b == Transpose::Yes ? 'T' : 'N', m, n, k, alpha, a,
                       lda, b, ldb, beta, c, ldc) == dnnl_success)
            return;
#endif
        cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c,
                    int(ldc));
    } else {
        cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c,
                    int(ldc));
    }
}

template void gemm<float>(Transpose, Transpose, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(Transpose, Transpose, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                           std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace tg::detail
