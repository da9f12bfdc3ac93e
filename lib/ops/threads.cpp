// tapegrad's one thread pool is OpenBLAS's (see DESIGN.md, "Threads: one owner"): these
// set and read how many threads its matrix products use.
#include <cblas.h>

#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg {

void set_num_threads(int threads) {
    TG_CHECK(threads >= 1, "set_num_threads", "expected at least 1 thread, got {}", threads);
    openblas_set_num_threads(threads);
}

int get_num_threads() { return openblas_get_num_threads(); }

}  // namespace tg
