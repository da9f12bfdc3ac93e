// Recurrent workloads of tg_bench, twins of torch/torch_bench.cpp's run_lstm and
// run_lstm_fused: same shapes (T 50, B 32, input 64, hidden 128), float32, forward and
// backward of the sum of all hidden outputs.
#include <tapegrad/tapegrad.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

std::string extra_fields() {
    const char* v = std::getenv("OPENBLAS_NUM_THREADS");
    return std::string("openblas_threads=") + (v ? v : "default");
}

constexpr std::int64_t T = 50, B = 32, I = 64, H = 128;

// (f) LSTMCell(64->128) unrolled over 50 steps by hand, as the libtorch twin does.
void run_lstm(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 15, 2, 1);

    tg::nn::LSTMCell cell(I, H);
    auto x = tg::randn({T, B, I});

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        cell.zero_grad();
        auto h = tg::zeros({B, H});
        auto c = tg::zeros({B, H});
        std::vector<tg::Tensor> outs;
        outs.reserve(T);
        for (std::int64_t t = 0; t < T; ++t) {
            std::tie(h, c) = cell.forward(x[t], std::make_tuple(h, c));
            outs.push_back(h);
        }
        tg::stack(outs).sum().backward();
    });
    bench::report(bench::kTapegrad, o.workload, "ms_per_iter", bench::scaled(s, 1e3), "ms/iter", extra_fields());
}

// (f') the same recurrence through nn::LSTM over the (T, B, I) sequence.
void run_lstm_fused(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 15, 2, 1);

    tg::nn::LSTM lstm(tg::nn::LSTMOptions(I, H));
    auto x = tg::randn({T, B, I});

    auto s = bench::time_reps(warmup, reps, inner, [&] {
        lstm.zero_grad();
        auto out = lstm.forward(x);
        out.sum().backward();
    });
    bench::report(bench::kTapegrad, o.workload, "ms_per_iter", bench::scaled(s, 1e3), "ms/iter", extra_fields());
}

static bench::Register lstm_workload("lstm", run_lstm);
static bench::Register lstm_fused_workload("lstm_fused", run_lstm_fused);

}  // namespace
