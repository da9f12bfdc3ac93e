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
    "overhead logreg matmul mlp cnn lstm lstm_fused infer_mlp infer_cnn infer_chain startup";

// Extra key=value fields appended to every RESULT line.
std::string extra_fields() {
    return "threads=" + std::to_string(at::get_num_threads()) + " " + bench::openblas_threads_field();
}

namespace lib = torch;
#include "../twin_workloads.hpp"

// Times training steps of `net` (cross-entropy on one batch x, y) and reports ms/step.
void report_train_steps(const bench::Options& o, int warmup, int reps, int inner,
                        torch::nn::Sequential& net, torch::optim::Optimizer& opt,
                        const torch::Tensor& x, const torch::Tensor& y) {
    auto s = bench::time_reps(warmup, reps, inner, [&] {
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
        loss.backward();
        opt.step();
    });
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step",
                  extra_fields());
}

// (d) MLP 784-256-10, batch 128, SGD.
void run_mlp(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 5);

    torch::nn::Sequential net(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 10));
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
    auto x = torch::randn({128, 784});
    auto y = torch::randint(0, 10, {128}, torch::kInt64);

    report_train_steps(o, warmup, reps, inner, net, opt, x, y);
}

// conv(1->32)-relu-pool-conv(32->64)-relu-pool-fc(3136->1024)-relu-fc(1024->10): `cnn` and `infer_cnn`.
torch::nn::Sequential make_cnn() {
    namespace nn = torch::nn;
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                          nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                          nn::Linear(64 * 7 * 7, 1024), nn::ReLU(), nn::Linear(1024, 10));
}

// (e) small CNN, batch 64, Adam.
void run_cnn(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 10, 2, 1);

    torch::nn::Sequential net = make_cnn();
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
    auto x = torch::randn({64, 1, 28, 28});
    auto y = torch::randint(0, 10, {64}, torch::kInt64);

    report_train_steps(o, warmup, reps, inner, net, opt, x, y);
}

// (f) LSTMCell(64->128) unrolled over 50 steps, batch 32, fwd + bwd of the sum
// of all hidden outputs.
void run_lstm(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 15, 2, 1);
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
    const auto [reps, warmup, inner] = bench::runs_of(o, 15, 2, 1);
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

// infer_mlp / infer_cnn: forward only at batch 1 and 64, eager under the faster of
// NoGradGuard and InferenceMode (both printed). libtorch's C++ API has no graph mode to
// set against tapegrad's jit::Graph, so its eager time is reported under both metric
// names (eager_bN_us, graph_bN_us, graph_packed_bN_us): the table then reads tapegrad
// eager, graph and optimize_for_inference graph each vs libtorch.
void report_inference(const bench::Options& o, torch::nn::Sequential& net, std::vector<int64_t> sample, int reps,
                      int warmup, int inner1, int inner64) {
    for (int64_t batch : {int64_t(1), int64_t(64)}) {
        std::vector<int64_t> shape{batch};
        shape.insert(shape.end(), sample.begin(), sample.end());
        auto x = torch::randn(shape);
        const int inner = o.inner >= 0 ? o.inner : (batch == 1 ? inner1 : inner64);
        torch::Tensor sink;
        auto no_grad = bench::time_reps(warmup, reps, inner, [&] {
            torch::NoGradGuard guard;
            sink = net->forward(x);
        });
        auto inference = bench::time_reps(warmup, reps, inner, [&] {
            c10::InferenceMode guard;
            sink = net->forward(x);
        });
        const double m_no_grad = bench::stats_of(no_grad).median, m_inference = bench::stats_of(inference).median;
        std::printf("# libtorch batch %lld: NoGradGuard median %.2f us, InferenceMode median %.2f us\n",
                    static_cast<long long>(batch), m_no_grad * 1e6, m_inference * 1e6);
        const auto best = bench::scaled(m_no_grad <= m_inference ? no_grad : inference, 1e6);
        const std::string b = "b" + std::to_string(batch);
        bench::report(kLib, o.workload, ("eager_" + b + "_us").c_str(), best, "us/forward (eager, best guard)",
                      extra_fields());
        bench::report(kLib, o.workload, ("graph_" + b + "_us").c_str(), best, "us/forward (eager, best guard)",
                      extra_fields());
        bench::report(kLib, o.workload, ("graph_packed_" + b + "_us").c_str(), best, "us/forward (eager, best guard)",
                      extra_fields());
    }
}

void run_infer_mlp(const bench::Options& o) {
    const auto runs = bench::runs_of(o, 30, 3, -1);
    torch::nn::Sequential net(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 10));
    report_inference(o, net, {784}, runs.reps, runs.warmup, 2000, 100);
}

void run_infer_cnn(const bench::Options& o) {
    const auto runs = bench::runs_of(o, 15, 2, -1);
    torch::nn::Sequential net = make_cnn();
    net->eval();
    report_inference(o, net, {1, 28, 28}, runs.reps, runs.warmup, 50, 2);
}

// The elementwise chain of tapegrad's infer_chain, eager (no C++ graph mode to fuse it).
void run_infer_chain(const bench::Options& o) {
    const auto runs = bench::runs_of(o, 30, 3, 50);
    auto a = torch::randn({4096}), b = torch::randn({4096});
    auto x = torch::randn({64, 4096}), y = torch::randn({64, 4096});
    torch::Tensor sink;
    auto s = bench::time_reps(runs.warmup, runs.reps, runs.inner, [&] {
        c10::InferenceMode guard;
        sink = torch::tanh(x * a + b) * 2.0 - y;
    });
    bench::report(kLib, o.workload, "eager_us", bench::scaled(s, 1e6), "us/chain (eager, InferenceMode)", extra_fields());
    bench::report(kLib, o.workload, "graph_us", bench::scaled(s, 1e6), "us/chain (eager, InferenceMode)", extra_fields());
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o;
    if (!bench::parse_or_usage(argc, argv, o, kWorkloads)) return 2;
    torch::manual_seed(0);
    const std::string& w = o.workload;
    if (w == "startup") {
        run_startup();
        return 0;
    }
    std::printf("# libtorch %s, intra-op threads %d, OPENBLAS_NUM_THREADS=%s\n",
                TORCH_VERSION, at::get_num_threads(),
                bench::env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str());
    if (w == "overhead") run_overhead(o);
    else if (w == "logreg") run_logreg(o);
    else if (w == "matmul") run_matmul(o);
    else if (w == "mlp") run_mlp(o);
    else if (w == "cnn") run_cnn(o);
    else if (w == "lstm") run_lstm(o);
    else if (w == "lstm_fused") run_lstm_fused(o);
    else if (w == "infer_mlp") run_infer_mlp(o);
    else if (w == "infer_cnn") run_infer_cnn(o);
    else if (w == "infer_chain") run_infer_chain(o);
    else {
        std::fprintf(stderr, "unknown workload '%s'\n", w.c_str());
        bench::usage(argv[0], kWorkloads);
        return 2;
    }
    return 0;
}
