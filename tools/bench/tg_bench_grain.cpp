// `tg_bench grain`: where splitting a loop over two OpenMP threads starts to pay, the
// measurement behind lib/tensor/parallel.hpp's grain sizes. For each size n it times a
// cheap map (y = a + b) and a costly one (y = exp(a)) serially and split in two halves on
// the pool tapegrad uses (libgomp, with the short spin libtapegrad sets), and prints
// the speedup; a grain is the n from which the split version wins clearly.
// Run it with both cores free of other work, or its crossover says little.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <omp.h>

#include "tapegrad/tapegrad.hpp"
#include "tg_workloads.hpp"

namespace {

template <class Kernel>
double seconds_per_call(int threads, std::int64_t n, const Kernel& kernel, int reps) {
    const auto samples = bench::time_reps(3, reps, 20, [&] {
        if (threads == 1) {
            kernel(0, n);
            return;
        }
#pragma omp parallel num_threads(threads)
        {
            const std::int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            kernel(n * t / k, n * (t + 1) / k);
        }
    });
    return bench::stats_of(samples).median;
}

void run_grain(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 15);
    std::vector<float> a(1 << 22, 1.25f), b(1 << 22, 0.5f), y(1 << 22);
    auto add = [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i) y[static_cast<std::size_t>(i)] = a[static_cast<std::size_t>(i)] + b[static_cast<std::size_t>(i)];
    };
    auto expo = [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i) y[static_cast<std::size_t>(i)] = std::exp(a[static_cast<std::size_t>(i)]);
    };
    std::printf("grain: tapegrad threads %d; serial vs two halves on the OpenMP pool\n", tg::get_num_threads());
    std::printf("%10s %14s %14s %9s %14s %14s %9s\n", "n", "add 1t us", "add 2t us", "speedup", "exp 1t us",
                "exp 2t us", "speedup");
    for (std::int64_t n = 1024; n <= (1 << 20); n *= 2) {
        const double a1 = seconds_per_call(1, n, add, reps), a2 = seconds_per_call(2, n, add, reps);
        const double e1 = seconds_per_call(1, n, expo, reps), e2 = seconds_per_call(2, n, expo, reps);
        std::printf("%10lld %14.2f %14.2f %8.2fx %14.2f %14.2f %8.2fx\n", static_cast<long long>(n), a1 * 1e6,
                    a2 * 1e6, a1 / a2, e1 * 1e6, e2 * 1e6, e1 / e2);
        const std::string extra = "n=" + std::to_string(n);
        std::printf("RESULT lib=tapegrad workload=grain metric=add_speedup_n%lld median=%.4g min=%.4g max=%.4g reps=%d\n",
                    static_cast<long long>(n), a1 / a2, a1 / a2, a1 / a2, reps);
        std::printf("RESULT lib=tapegrad workload=grain metric=exp_speedup_n%lld median=%.4g min=%.4g max=%.4g reps=%d\n",
                    static_cast<long long>(n), e1 / e2, e1 / e2, e1 / e2, reps);
    }
}

const bench::Register grain_workload("grain", run_grain);

}  // namespace
