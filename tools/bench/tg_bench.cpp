// tapegrad side of the benchmark suite: mirrors tools/bench/torch/torch_bench.cpp
// workload for workload (same shapes, float32, same timing harness, same CLI,
// same RESULT line format with lib=tapegrad). See tools/bench/README.md.
//
// This file holds the small workloads (overhead, logreg, matmul, startup) and the
// dispatcher; larger ones live in tg_bench_*.cpp files that register themselves in
// tg_workloads.hpp's registry. A workload not registered exits with status 3 and the
// runner shows it as n/a.
//
// Usage: tg_bench WORKLOAD [--reps N] [--warmup N] [--inner N]
#include <tapegrad/tapegrad.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

constexpr const char* kLib = "tapegrad";
constexpr const char* kWorkloads = "overhead logreg matmul startup, and those of tg_bench_*.cpp";

std::string env_or(const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    return v ? v : dflt;
}

std::string extra_fields() {
    return "openblas_threads=" + env_or("OPENBLAS_NUM_THREADS", "default");
}

// (a) per-op overhead on 1-element tensors.
void run_overhead(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 30);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 2000);

    auto a = tg::randn({1}).requires_grad_();
    auto b = tg::randn({1}).requires_grad_();

    auto with_grad = bench::time_reps(warmup, reps, inner, [&] {
        auto c = a * b + a;
        c.backward();
    });
    bench::report(kLib, o.workload, "us_per_iter", bench::scaled(with_grad, 1e6),
                  "us/iter (a*b+a, backward)", extra_fields());

    tg::NoGradGuard no_grad;
    tg::Tensor sink;
    auto fwd = bench::time_reps(warmup, reps, inner * 10, [&] { sink = a * b + a; });
    bench::report(kLib, o.workload, "fwd_nograd_us_per_iter", bench::scaled(fwd, 1e6),
                  "us/iter (a*b+a, NoGradGuard)", extra_fields());
}

// (b) logistic regression, batch 100, manual SGD.
void run_logreg(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 30);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 20);
    const float lr = 0.1f;

    auto x = tg::randn({100, 784});
    auto y = tg::randint(0, 10, {100}, tg::kInt64);
    auto W = (tg::randn({784, 10}) * 0.01f).requires_grad_();
    auto b = tg::zeros({10}).requires_grad_();

    auto step = [&] {
        auto logits = tg::matmul(x, W) + b;
        auto loss = tg::nn::functional::cross_entropy(logits, y);
        loss.backward();
        {
            tg::NoGradGuard no_grad;
            // plain SGD on the leaves, then reset the grads
            W.sub_(lr * W.grad());
            b.sub_(lr * b.grad());
            W.grad().zero_();
            b.grad().zero_();
        }
    };
    auto s = bench::time_reps(warmup, reps, inner, step);
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step",
                  extra_fields());
    bench::report(kLib, o.workload, "steps_per_s", bench::rate(s, 1.0), "steps/s",
                  extra_fields());
}

// (c) 1024^3 sgemm.
void run_matmul(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 20);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 1);
    const int64_t n = 1024;

    auto A = tg::randn({n, n});
    auto B = tg::randn({n, n});
    tg::Tensor C;
    auto s = bench::time_reps(warmup, reps, inner, [&] { C = tg::matmul(A, B); });
    const double flops = 2.0 * double(n) * double(n) * double(n);
    bench::report(kLib, o.workload, "gflops", bench::rate(s, flops * 1e-9), "GFLOP/s",
                  extra_fields());
    bench::report(kLib, o.workload, "ms_per_mm", bench::scaled(s, 1e3), "ms/mm",
                  extra_fields());
}

// (i) trivial autograd program: the runner measures process wall time and RSS.
void run_startup() {
    auto a = tg::randn({2, 2}).requires_grad_();
    (a * a).sum().backward();
    std::printf("startup ok\n");
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o;
    if (!bench::parse_args(argc, argv, o, kWorkloads)) {
        bench::usage(argv[0], kWorkloads);
        return 2;
    }
    const std::string& w = o.workload;
    if (w == "startup") {
        run_startup();
        return 0;
    }
    std::printf("# tapegrad, OPENBLAS_NUM_THREADS=%s\n",
                env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str());
    bench::workloads().emplace("overhead", run_overhead);
    bench::workloads().emplace("logreg", run_logreg);
    bench::workloads().emplace("matmul", run_matmul);
    auto found = bench::workloads().find(w);
    if (found != bench::workloads().end()) {
        found->second(o);
    } else if (w == "mlp" || w == "cnn" || w == "lstm" || w == "lstm_fused") {
        std::fprintf(stderr, "tg_bench: workload '%s' not implemented yet\n", w.c_str());
        return 3;
    } else {
        std::fprintf(stderr, "unknown workload '%s'\n", w.c_str());
        bench::usage(argv[0], kWorkloads);
        return 2;
    }
    return 0;
}
