// tapegrad's one thread pool is OpenMP's, shared with OpenBLAS's OpenMP build (see
// docs/design.md, "Threads: one OpenMP pool"): one count governs our kernels and the GEMMs.
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/parallel.hpp"

namespace tg {

void set_num_threads(int threads) {
    TG_CHECK(threads >= 1, "set_num_threads", "expected at least 1 thread, got {}", threads);
    detail::set_threads(threads);
}

int get_num_threads() { return detail::num_threads(); }

}  // namespace tg
