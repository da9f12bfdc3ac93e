// tapegrad side of the benchmark suite: mirrors tools/bench/torch/torch_bench.cpp
// workload for workload (same shapes, float32, same timing harness, same CLI,
// same RESULT line format with lib=tapegrad). See tools/bench/README.md.
//
// This file holds the dispatcher and the small workloads (overhead, logreg, matmul,
// startup: twin_workloads.hpp, the same code as libtorch's side); larger ones live in tg_bench_*.cpp files that register themselves in
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

std::string extra_fields() { return bench::openblas_threads_field(); }

namespace lib = tg;
#include "twin_workloads.hpp"

}  // namespace

int main(int argc, char** argv) {
    bench::Options o;
    if (!bench::parse_or_usage(argc, argv, o, kWorkloads)) return 2;
    const std::string& w = o.workload;
    if (w == "startup") {
        run_startup();
        return 0;
    }
    std::printf("# tapegrad, OPENBLAS_NUM_THREADS=%s\n",
                bench::env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str());
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
