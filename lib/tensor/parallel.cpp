// The thread count every parallel kernel and every GEMM uses (tg::set_num_threads).
#include "tensor/parallel.hpp"

#include "tensor/cpu_load.hpp"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>

extern "C" int tg_openmp_wait_policy_linked();  // lib/tensor/openmp_wait_policy.cpp

namespace tg::detail {
namespace {

// True once the count was asked for (TG_NUM_THREADS, OMP_NUM_THREADS, set_num_threads):
// then it is used as given, whatever else runs on the machine.
std::atomic<bool> count_requested{std::getenv("TG_NUM_THREADS") != nullptr || std::getenv("OMP_NUM_THREADS") != nullptr};

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
    count_requested.store(true, std::memory_order_relaxed);
    thread_count().store(threads, std::memory_order_relaxed);
    omp_set_num_threads(threads);
}

int team_threads() {
    const int n = num_threads();
    if (n <= 1 || count_requested.load(std::memory_order_relaxed)) return n;
    const int idle = idle_cpus();
    return idle > 0 ? std::min(n, idle) : n;
}

void run_chunks_on_team(std::int64_t chunks, void (*chunk)(void* context, std::int64_t c), void* context) {
    const int team = static_cast<int>(std::min<std::int64_t>(chunks, team_threads()));
    if (team <= 1) {  // the same chunks, in order, on this thread
        for (std::int64_t c = 0; c < chunks; ++c) chunk(context, c);
        return;
    }
    std::exception_ptr error;
    std::mutex error_mutex;
    // Each thread claims the next chunk as it comes free: where chunks outnumber the team (a
    // convolution's batch pieces), a faster CPU takes more of them. Which thread runs a
    // chunk never changes what the chunk computes.
    std::atomic<std::int64_t> next{0};
#pragma omp parallel num_threads(team)
    {
        for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
            try {
                chunk(context, c);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace tg::detail
