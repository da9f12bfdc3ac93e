// tapegrad twins of torch_bench.cpp's `mlp` and `cnn` train steps: same shapes, same
// optimizer, same loss, same harness, same RESULT lines (lib=tapegrad). Each workload also
// prints the process's peak RSS after the timed steps as a comment line (`# peak RSS`);
// to compare it with libtorch's, run both binaries under /usr/bin/time -f %M.
#include <tapegrad/tapegrad.hpp>

#include <cblas.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

namespace nn = tg::nn;
namespace F = tg::nn::functional;

std::string extra_fields() { return bench::openblas_threads_field(); }

void report_peak_rss(const std::string& workload) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("# peak RSS %s: %.1f MB\n", workload.c_str(), static_cast<double>(ru.ru_maxrss) / 1024.0);
}

// Times training steps of `net` (cross-entropy on one batch x, y) and reports ms/step.
void report_train_steps(const bench::Options& o, int warmup, int reps, int inner, nn::Module& net,
                        tg::optim::Optimizer& opt, const tg::Tensor& x, const tg::Tensor& y) {
    auto s = bench::time_reps(warmup, reps, inner, [&] {
        opt.zero_grad();
        auto loss = F::cross_entropy(net.forward(x), y);
        loss.backward();
        opt.step();
    });
    bench::report(bench::kTapegrad, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step", extra_fields());
}

// The five OpenBLAS products of one MLP step alone, with the shapes and transposes both
// libraries use (forward x @ W1^T and h @ W2^T, backward dW1 = g1^T @ x, dW2 = g2^T @ h,
// dh = g2 @ W2; no dx, x needs no gradient). No library that leaves its GEMMs to this
// OpenBLAS can take a step in less time, so libtorch's step time over this floor is the
// largest speedup any such library can show; tapegrad's over it is its own overhead.
void report_mlp_blas_floor(const bench::Options& o, int warmup, int reps, int inner) {
    constexpr int N = 128, I = 784, H = 256, O = 10;
    std::vector<float> x(N * I, 0.5f), w1(H * I, 0.01f), h(N * H), g1(N * H, 0.1f), dw1(H * I), w2(O * H, 0.01f),
        out(N * O), g2(N * O, 0.1f), dw2(O * H), dh(N * H);
    auto s = bench::time_reps(warmup, reps, inner, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, H, I, 1, x.data(), I, w1.data(), I, 1, h.data(), H);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, H, 1, h.data(), H, w2.data(), H, 1, out.data(), O);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, H, N, 1, g2.data(), O, h.data(), H, 0, dw2.data(), H);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, H, O, 1, g2.data(), O, w2.data(), H, 0, dh.data(), H);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, I, N, 1, g1.data(), H, x.data(), I, 0, dw1.data(), I);
    });
    bench::report(bench::kTapegrad, o.workload, "blas_floor_ms", bench::scaled(s, 1e3), "ms/step", extra_fields());
}

// (d) MLP 784-256-10, batch 128, SGD lr 0.01.
void run_mlp(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 5);

    tg::manual_seed(0);
    nn::Sequential net(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));
    tg::optim::SGD opt(net.parameters(), tg::optim::SGDOptions(0.01));
    const auto x = tg::randn({128, 784});
    const auto y = tg::randint(0, 10, {128}, tg::kInt64);

    report_train_steps(o, warmup, reps, inner, net, opt, x, y);
    report_mlp_blas_floor(o, warmup, reps, inner);
    report_peak_rss(o.workload);
}

// The GEMMs of one CNN step alone, in the im2col formulation (a convolution as
// weight (O, C*k*k) @ columns (C*k*k, N*OH*OW), the whole batch in one product; the
// formulation of Caffe and libtorch's native "slow" conv2d), with the shapes and transposes
// of that step: conv1 forward and weight gradient (its input needs none), conv2 forward,
// weight and input gradients, and fc1/fc2 forward, weight and input gradients (fc1's input
// gradient flows back into conv2). A library that convolves through im2col + this OpenBLAS
// cannot take a step in less time; a direct convolution (oneDNN's, which both libraries use
// for float32 here) can, so a step below this floor is possible and says the convolutions
// beat their GEMM formulation.
void report_cnn_gemm_floor(const bench::Options& o, int warmup, int reps, int inner) {
    constexpr int N = 64, F1 = 64 * 7 * 7, H = 1024, K = 10;
    struct Conv {
        int O, ck, cols;  // weight (O, ck), columns (ck, cols)
    };
    const Conv c1{32, 1 * 5 * 5, N * 28 * 28}, c2{64, 32 * 5 * 5, N * 14 * 14};
    auto buffer = [](std::size_t n, float v) { return std::vector<float>(n, v); };
    auto w1 = buffer(std::size_t(c1.O) * c1.ck, 0.01f), cols1 = buffer(std::size_t(c1.ck) * c1.cols, 0.5f),
         out1 = buffer(std::size_t(c1.O) * c1.cols, 0), dw1 = buffer(w1.size(), 0);
    auto w2 = buffer(std::size_t(c2.O) * c2.ck, 0.01f), cols2 = buffer(std::size_t(c2.ck) * c2.cols, 0.5f),
         out2 = buffer(std::size_t(c2.O) * c2.cols, 0.1f), dw2 = buffer(w2.size(), 0);
    auto x3 = buffer(std::size_t(N) * F1, 0.5f), w3 = buffer(std::size_t(H) * F1, 0.01f), h3 = buffer(std::size_t(N) * H, 0.1f),
         dw3 = buffer(w3.size(), 0), dx3 = buffer(x3.size(), 0);
    auto w4 = buffer(std::size_t(K) * H, 0.01f), out4 = buffer(std::size_t(N) * K, 0.1f), dw4 = buffer(w4.size(), 0),
         dh4 = buffer(h3.size(), 0);
    const auto NT = CblasNoTrans, T = CblasTrans;
    auto s = bench::time_reps(warmup, reps, inner, [&] {
        // forward: conv1, conv2, fc1, fc2
        cblas_sgemm(CblasRowMajor, NT, NT, c1.O, c1.cols, c1.ck, 1, w1.data(), c1.ck, cols1.data(), c1.cols, 0, out1.data(), c1.cols);
        cblas_sgemm(CblasRowMajor, NT, NT, c2.O, c2.cols, c2.ck, 1, w2.data(), c2.ck, cols2.data(), c2.cols, 0, out2.data(), c2.cols);
        cblas_sgemm(CblasRowMajor, NT, T, N, H, F1, 1, x3.data(), F1, w3.data(), F1, 1, h3.data(), H);
        cblas_sgemm(CblasRowMajor, NT, T, N, K, H, 1, h3.data(), H, w4.data(), H, 1, out4.data(), K);
        // backward: fc2 (weight, input), fc1 (weight, input), conv2 (weight, input), conv1 (weight)
        cblas_sgemm(CblasRowMajor, T, NT, K, H, N, 1, out4.data(), K, h3.data(), H, 0, dw4.data(), H);
        cblas_sgemm(CblasRowMajor, NT, NT, N, H, K, 1, out4.data(), K, w4.data(), H, 0, dh4.data(), H);
        cblas_sgemm(CblasRowMajor, T, NT, H, F1, N, 1, h3.data(), H, x3.data(), F1, 0, dw3.data(), F1);
        cblas_sgemm(CblasRowMajor, NT, NT, N, F1, H, 1, h3.data(), H, w3.data(), F1, 0, dx3.data(), F1);
        cblas_sgemm(CblasRowMajor, NT, T, c2.O, c2.ck, c2.cols, 1, out2.data(), c2.cols, cols2.data(), c2.cols, 0, dw2.data(), c2.ck);
        cblas_sgemm(CblasRowMajor, T, NT, c2.ck, c2.cols, c2.O, 1, w2.data(), c2.ck, out2.data(), c2.cols, 0, cols2.data(), c2.cols);
        cblas_sgemm(CblasRowMajor, NT, T, c1.O, c1.ck, c1.cols, 1, out1.data(), c1.cols, cols1.data(), c1.cols, 0, dw1.data(), c1.ck);
    });
    bench::report(bench::kTapegrad, o.workload, "gemm_floor_ms", bench::scaled(s, 1e3), "ms/step", extra_fields());
}

// (e) conv(1->32, 5x5, pad 2)-relu-maxpool2-conv(32->64, 5x5, pad 2)-relu-maxpool2-flatten-
// fc(3136->1024)-relu-fc(1024->10), batch 64 of 1x28x28, Adam 1e-3.
void run_cnn(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 10, 2, 1);

    tg::manual_seed(0);
    nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(64 * 7 * 7, 1024), nn::ReLU(), nn::Linear(1024, 10));
    tg::optim::Adam opt(net.parameters(), tg::optim::AdamOptions(1e-3));
    const auto x = tg::randn({64, 1, 28, 28});
    const auto y = tg::randint(0, 10, {64}, tg::kInt64);

    report_train_steps(o, warmup, reps, inner, net, opt, x, y);
    report_peak_rss(o.workload);  // before the floor's own buffers exist
    report_cnn_gemm_floor(o, warmup, reps, inner);
}

const bench::Register mlp_workload("mlp", run_mlp);
const bench::Register cnn_workload("cnn", run_cnn);

}  // namespace
