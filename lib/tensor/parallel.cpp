// The thread count every parallel kernel and every GEMM uses (tg::set_num_threads).
#include "tensor/parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <string>

extern "C" int tg_openmp_wait_policy_linked();  // lib/tensor/openmp_wait_policy.cpp

namespace tg::detail {
namespace {

// TG_NUM_THREADS if set to a positive integer, else OpenMP's default (OMP_NUM_THREADS, or
// the CPUs this process may run on).
int initial_threads() {
    if (const char* env = std::getenv("TG_NUM_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
    }
    return std::max(1, omp_get_max_threads());
}

std::atomic<int>& thread_count() {
    static std::atomic<int> count = [] {
        (void)tg_openmp_wait_policy_linked();
        const int n = initial_threads();
        omp_set_num_threads(n);  // OpenBLAS's OpenMP build follows the caller's OpenMP count
        return n;
    }();
    return count;
}

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_threads(int threads) {
    thread_count().store(threads, std::memory_order_relaxed);
    omp_set_num_threads(threads);
}

}  // namespace tg::detail
