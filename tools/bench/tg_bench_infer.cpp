// Inference at batch 1 and 64: the `mlp` and `cnn` workloads' nets (cnn's in eval mode)
// run forward only, eagerly under NoGradGuard, as a jit::Graph traced once (plan, arena
// and fusion made by the first runs, which the warm-up absorbs) and as that graph through
// jit::optimize_for_inference (linear layers on packed weights). The libtorch twin
// (torch/torch_bench.cpp) runs its eager forward, the fastest of NoGradGuard and
// InferenceMode, and reports it under both metric names: it has no C++ graph mode.
#include <tapegrad/tapegrad.hpp>

#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

namespace nn = tg::nn;

// Times net's forward at batch 1 and 64, eager and as a graph, in microseconds per forward.
// inner1 / inner64: forwards timed together at each batch size.
void report_inference(const bench::Options& o, nn::Module& net, const tg::Shape& sample, int reps, int warmup,
                      int inner1, int inner64) {
    for (std::int64_t batch : {1, 64}) {
        tg::Shape shape{batch};
        for (std::int64_t d : sample) shape.push_back(d);
        const tg::Tensor x = tg::randn(shape);
        const int inner = o.inner >= 0 ? o.inner : (batch == 1 ? inner1 : inner64);
        tg::Tensor sink;
        auto eager = bench::time_reps(warmup, reps, inner, [&] {
            tg::NoGradGuard no_grad;
            sink = net.forward(x);
        });
        const tg::Tensor want = sink;
        tg::jit::TraceOptions options;
        options.dynamic_batch = true;
        const tg::jit::Graph graph = tg::jit::trace(net, x, options);
        auto traced = bench::time_reps(warmup, reps, inner, [&] { sink = graph.run({{"input", x}})[0]; });
        if (!tg::allclose(sink, want, 1e-5, 1e-6)) {
            std::fprintf(stderr, "%s: the graph's output differs from eager's at batch %lld\n", o.workload.c_str(),
                         static_cast<long long>(batch));
            std::exit(1);
        }
        // The same graph through optimize_for_inference (linear layers on packed weights):
        // another summation order, so close to eager rather than bitwise.
        const tg::jit::Graph packed = tg::jit::optimize_for_inference(graph);
        auto packed_time = bench::time_reps(warmup, reps, inner, [&] { sink = packed.run({{"input", x}})[0]; });
        if (!tg::allclose(sink, want, 1e-4, 1e-5)) {
            std::fprintf(stderr, "%s: the packed graph's output differs from eager's at batch %lld\n", o.workload.c_str(),
                         static_cast<long long>(batch));
            std::exit(1);
        }
        const std::string b = "b" + std::to_string(batch);
        bench::report(bench::kTapegrad, o.workload, ("eager_" + b + "_us").c_str(), bench::scaled(eager, 1e6),
                      "us/forward (eager, NoGradGuard)", bench::openblas_threads_field());
        bench::report(bench::kTapegrad, o.workload, ("graph_" + b + "_us").c_str(), bench::scaled(traced, 1e6),
                      "us/forward (jit::Graph::run)", bench::openblas_threads_field());
        bench::report(bench::kTapegrad, o.workload, ("graph_packed_" + b + "_us").c_str(), bench::scaled(packed_time, 1e6),
                      "us/forward (optimize_for_inference graph)", bench::openblas_threads_field());
    }
}

// The batch-1 MLP's two matrix-vector products alone (OpenBLAS's sgemv, which packs
// nothing; measured here as fast as oneDNN's sgemm at one row, which tapegrad's float32
// products use). No forward can take less: its distance from the eager and graph times
// is what per-op and per-node overhead can still win.
void report_gemv_floor(const bench::Options& o, int reps, int warmup, int inner) {
    std::vector<float> x(784, 0.5f), w1(256 * 784, 0.01f), h(256), w2(10 * 256, 0.01f), y(10);
    auto s = bench::time_reps(warmup, reps, inner, [&] {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, 256, 784, 1.0f, w1.data(), 784, x.data(), 1, 0.0f, h.data(), 1);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, 10, 256, 1.0f, w2.data(), 256, h.data(), 1, 0.0f, y.data(), 1);
    });
    bench::report(bench::kTapegrad, o.workload, "gemv_floor_b1_us", bench::scaled(s, 1e6), "us (the two sgemv alone)",
                  bench::openblas_threads_field());
}

// 784-256-10, as `mlp`.
void run_infer_mlp(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, -1);
    tg::manual_seed(0);
    nn::Sequential net(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));
    report_inference(o, net, {784}, reps, warmup, 2000, 100);
    report_gemv_floor(o, reps, warmup, inner >= 0 ? inner : 2000);
}

// `cnn`'s net in eval mode.
void run_infer_cnn(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 15, 2, -1);
    (void)inner;
    tg::manual_seed(0);
    nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(64 * 7 * 7, 1024), nn::ReLU(), nn::Linear(1024, 10));
    net.eval();
    report_inference(o, net, {1, 28, 28}, reps, warmup, 50, 2);
}

// An elementwise chain, tanh(x * a + b) * 2 - y over (64, 4096) with rows a and b: five
// passes over 1 MB eagerly, one fused pass as a graph.
void run_infer_chain(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 50);
    tg::manual_seed(0);
    const tg::Tensor a = tg::randn({4096}), b = tg::randn({4096});
    auto chain = [&](const std::vector<tg::Tensor>& in) {
        return std::vector<tg::Tensor>{tg::tanh(in[0] * a + b) * 2.0 - in[1]};
    };
    const tg::Tensor x = tg::randn({64, 4096}), y = tg::randn({64, 4096});
    tg::Tensor sink;
    auto eager = bench::time_reps(warmup, reps, inner, [&] {
        tg::NoGradGuard no_grad;
        sink = chain({x, y})[0];
    });
    const tg::Tensor want = sink;
    tg::jit::TraceOptions options;
    options.input_names = {"x", "y"};
    const tg::jit::Graph graph = tg::jit::trace(chain, {x, y}, options);
    auto traced = bench::time_reps(warmup, reps, inner, [&] { sink = graph.run({{"x", x}, {"y", y}})[0]; });
    if (!tg::allclose(sink, want, 1e-6, 1e-6)) {
        std::fprintf(stderr, "infer_chain: the fused graph differs from eager\n");
        std::exit(1);
    }
    bench::report(bench::kTapegrad, o.workload, "eager_us", bench::scaled(eager, 1e6), "us/chain (eager, NoGradGuard)",
                  bench::openblas_threads_field());
    bench::report(bench::kTapegrad, o.workload, "graph_us", bench::scaled(traced, 1e6), "us/chain (jit::Graph::run, fused)",
                  bench::openblas_threads_field());
}

const bench::Register infer_mlp_workload("infer_mlp", run_infer_mlp);
const bench::Register infer_chain_workload("infer_chain", run_infer_chain);
const bench::Register infer_cnn_workload("infer_cnn", run_infer_cnn);

}  // namespace
