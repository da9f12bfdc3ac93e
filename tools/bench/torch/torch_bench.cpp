// libtorch twin of tapegrad's benchmark workloads (see tools/bench/README.md).
//
// One translation unit for all workloads because every libtorch TU takes ~20 s
// to compile. Built by tools/bench/run with:
//   g++ -O2 -std=c++17 -isystem /usr/include/torch/csrc/api/include \
//       torch_bench.cpp -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10
//
// Usage: torch_bench WORKLOAD [--reps N] [--warmup N] [--inner N]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../bench_common.hpp"

namespace {

constexpr const char* kLib = "libtorch";
constexpr const char* kWorkloads =
    "overhead logreg matmul mlp cnn lstm lstm_fused startup";

std::string env_or(const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    return v ? v : dflt;
}

// Extra key=value fields appended to every RESULT line.
std::string extra_fields() {
    return "threads=" + std::to_string(at::get_num_threads()) +
           " openblas_threads=" + env_or("OPENBLAS_NUM_THREADS", "default");
}

// (a) per-op overhead on 1-element tensors.
void run_overhead(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 30);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 2000);

    auto a = torch::randn({1}).requires_grad_();
    auto b = torch::randn({1}).requires_grad_();

    auto with_grad = bench::time_reps(warmup, reps, inner, [&] {
        auto c = a * b + a;
        c.backward();
    });
    bench::report(kLib, o.workload, "us_per_iter", bench::scaled(with_grad, 1e6),
                  "us/iter (a*b+a, backward)", extra_fields());

    torch::NoGradGuard no_grad;
    torch::Tensor sink;
    auto fwd = bench::time_reps(warmup, reps, inner * 10, [&] { sink = a * b + a; });
    bench::report(kLib, o.workload, "fwd_nograd_us_per_iter", bench::scaled(fwd, 1e6),
                  "us/iter (a*b+a, NoGradGuard)", extra_fields());
    if (sink.numel() != 1) std::abort();
}

// (b) logistic regression, batch 100, manual SGD.
void run_logreg(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 30);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 20);
    const float lr = 0.1f;

    auto x = torch::randn({100, 784});
    auto y = torch::randint(0, 10, {100}, torch::kInt64);
    auto W = (torch::randn({784, 10}) * 0.01).requires_grad_();
    auto b = torch::zeros({10}).requires_grad_();

    float last_loss = 0;
    auto step = [&] {
        auto logits = x.mm(W) + b;
        auto loss = torch::nn::functional::cross_entropy(logits, y);
        loss.backward();
        {
            torch::NoGradGuard no_grad;
            W.sub_(lr * W.grad());
            b.sub_(lr * b.grad());
            W.grad().zero_();
            b.grad().zero_();
        }
        last_loss = loss.item<float>();
    };
    auto s = bench::time_reps(warmup, reps, inner, step);
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step",
                  extra_fields());
    bench::report(kLib, o.workload, "steps_per_s", bench::rate(s, 1.0), "steps/s",
                  extra_fields());
    std::printf("final loss %.4f\n", last_loss);
}

// (c) 1024^3 sgemm.
void run_matmul(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 20);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 1);
    const int64_t n = 1024;

    auto A = torch::randn({n, n});
    auto B = torch::randn({n, n});
    auto C = torch::empty({n, n});
    auto s = bench::time_reps(warmup, reps, inner, [&] { C = A.mm(B); });
    const double flops = 2.0 * double(n) * double(n) * double(n);
    bench::report(kLib, o.workload, "gflops", bench::rate(s, flops * 1e-9), "GFLOP/s",
                  extra_fields());
    bench::report(kLib, o.workload, "ms_per_mm", bench::scaled(s, 1e3), "ms/mm",
                  extra_fields());
}

// (d) MLP 784-256-10, batch 128, SGD.
void run_mlp(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 30);
    const int warmup = bench::pick(o.warmup, 3);
    const int inner = bench::pick(o.inner, 5);

    torch::nn::Sequential net(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 10));
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
    auto x = torch::randn({128, 784});
    auto y = torch::randint(0, 10, {128}, torch::kInt64);

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
        loss.backward();
        opt.step();
    });
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step",
                  extra_fields());
}

// (e) small CNN, batch 64, Adam.
void run_cnn(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 10);
    const int warmup = bench::pick(o.warmup, 2);
    const int inner = bench::pick(o.inner, 1);
    namespace nn = torch::nn;

    nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(),
                       nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(),
                       nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                       nn::Linear(64 * 7 * 7, 1024), nn::ReLU(), nn::Linear(1024, 10));
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
    auto x = torch::randn({64, 1, 28, 28});
    auto y = torch::randint(0, 10, {64}, torch::kInt64);

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
        loss.backward();
        opt.step();
    });
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step",
                  extra_fields());
}

// (f) LSTMCell(64->128) unrolled over 50 steps, batch 32, fwd + bwd of the sum
// of all hidden outputs.
void run_lstm(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 15);
    const int warmup = bench::pick(o.warmup, 2);
    const int inner = bench::pick(o.inner, 1);
    const int64_t T = 50, B = 32, I = 64, H = 128;

    torch::nn::LSTMCell cell(I, H);
    auto x = torch::randn({T, B, I});

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        cell->zero_grad();
        auto h = torch::zeros({B, H});
        auto c = torch::zeros({B, H});
        std::vector<torch::Tensor> outs;
        outs.reserve(T);
        for (int64_t t = 0; t < T; ++t) {
            std::tie(h, c) = cell->forward(x[t], std::make_tuple(h, c));
            outs.push_back(h);
        }
        torch::stack(outs).sum().backward();
    });
    bench::report(kLib, o.workload, "ms_per_iter", bench::scaled(s, 1e3), "ms/iter",
                  extra_fields());
}

// (f') the same recurrence through the fused torch::nn::LSTM.
void run_lstm_fused(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 15);
    const int warmup = bench::pick(o.warmup, 2);
    const int inner = bench::pick(o.inner, 1);
    const int64_t T = 50, B = 32, I = 64, H = 128;

    torch::nn::LSTM lstm(torch::nn::LSTMOptions(I, H));
    auto x = torch::randn({T, B, I});

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        lstm->zero_grad();
        auto out = std::get<0>(lstm->forward(x));
        out.sum().backward();
    });
    bench::report(kLib, o.workload, "ms_per_iter", bench::scaled(s, 1e3), "ms/iter",
                  extra_fields());
}

// (i) trivial autograd program: the runner measures process wall time and RSS.
void run_startup() {
    auto a = torch::randn({2, 2}).requires_grad_();
    (a * a).sum().backward();
    std::printf("startup ok, grad sum %.4f\n", a.grad().sum().item<float>());
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o;
    if (!bench::parse_args(argc, argv, o, kWorkloads)) {
        bench::usage(argv[0], kWorkloads);
        return 2;
    }
    torch::manual_seed(0);
    const std::string& w = o.workload;
    if (w == "startup") {
        run_startup();
        return 0;
    }
    std::printf("# libtorch %s, intra-op threads %d, OPENBLAS_NUM_THREADS=%s\n",
                TORCH_VERSION, at::get_num_threads(),
                env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str());
    if (w == "overhead") run_overhead(o);
    else if (w == "logreg") run_logreg(o);
    else if (w == "matmul") run_matmul(o);
    else if (w == "mlp") run_mlp(o);
    else if (w == "cnn") run_cnn(o);
    else if (w == "lstm") run_lstm(o);
    else if (w == "lstm_fused") run_lstm_fused(o);
    else {
        std::fprintf(stderr, "unknown workload '%s'\n", w.c_str());
        bench::usage(argv[0], kWorkloads);
        return 2;
    }
    return 0;
}
