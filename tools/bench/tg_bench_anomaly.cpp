// The cost of the debugging aids on the per-op overhead loop (tg_bench.cpp's `overhead`:
// c = a*b + a; c.backward() on 1-element tensors): anomaly mode off vs on, and ops
// recorded inside a name scope (what module calls do). The variants are interleaved rep
// by rep so drift hits them alike. Also a mid-size step (mm + relu + sum, 128x256), where
// anomaly mode scans every output and gradient.
//
//   tg_bench anomaly [--reps N] [--inner N]
#include <tapegrad/debug.hpp>
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

std::string extra_fields() { return bench::openblas_threads_field(); }

double seconds_per_iter(int inner, const std::function<void()>& body) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) body();
    auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count() / inner;
}

void run_anomaly(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 2000);

    auto a = tg::randn({1}).requires_grad_();
    auto b = tg::randn({1}).requires_grad_();
    auto step = [&] {
        auto c = a * b + a;
        c.backward();
    };
    auto scoped_step = [&] {
        tg::name_scope outer("encoder");
        tg::name_scope scope("block");
        auto c = a * b + a;
        c.backward();
    };
    auto on_step = [&] {
        tg::autograd::DetectAnomalyGuard anomaly;
        step();
    };
    for (int w = 0; w < warmup * inner; ++w) {
        step();
        on_step();
        scoped_step();
    }
    std::vector<double> off, on, scoped;
    for (int r = 0; r < reps; ++r) {
        off.push_back(seconds_per_iter(inner, step));
        {
            tg::autograd::DetectAnomalyGuard anomaly;
            on.push_back(seconds_per_iter(inner, step));
        }
        scoped.push_back(seconds_per_iter(inner, scoped_step));
    }
    const std::string extra = extra_fields();
    bench::report(bench::kTapegrad, o.workload, "off_us_per_iter", bench::scaled(off, 1e6),
                  "us/iter (a*b+a, backward; anomaly off)", extra);
    bench::report(bench::kTapegrad, o.workload, "on_us_per_iter", bench::scaled(on, 1e6),
                  "us/iter (same, DetectAnomalyGuard on)", extra);
    bench::report(bench::kTapegrad, o.workload, "scoped_us_per_iter", bench::scaled(scoped, 1e6),
                  "us/iter (same, inside two name_scopes, anomaly off)", extra);

    // Mid-size: every output and gradient is scanned when on.
    auto x = tg::randn({128, 256});
    auto w = tg::randn({256, 256}).requires_grad_();
    auto mid = [&] { tg::relu(tg::mm(x, w)).sum().backward(); };
    const int mid_inner = std::max(1, inner / 100);
    std::vector<double> mid_off, mid_on;
    for (int r = 0; r < reps; ++r) {
        mid_off.push_back(seconds_per_iter(mid_inner, mid));
        tg::autograd::DetectAnomalyGuard anomaly;
        mid_on.push_back(seconds_per_iter(mid_inner, mid));
    }
    bench::report(bench::kTapegrad, o.workload, "mid_off_us_per_iter", bench::scaled(mid_off, 1e6),
                  "us/iter (relu(mm 128x256x256).sum, backward; anomaly off)", extra);
    bench::report(bench::kTapegrad, o.workload, "mid_on_us_per_iter", bench::scaled(mid_on, 1e6),
                  "us/iter (same, anomaly on)", extra);
}

const bench::Register registered("anomaly", run_anomaly);

}  // namespace
