// The "loader" workload: does a DataLoader with workers keep up with the MLP train step?
//
// A Fashion-MNIST-shaped dataset (synthetic (1, 28, 28) images, so no files are needed)
// with per-example augmentation (random crop with padding 2, random flip, normalize): the
// kind of pipeline where building a batch is real work. Reported, in batches (= steps)
// per second, batch 128:
//   loader_w0      the loader alone, batches built on the consuming thread
//   loader_w2      the loader alone, two worker threads
//   step           the MLP 784-256-128-10 train step (Adam) alone, on one fixed batch
//   step_fed_w0    the train step fed by the loader without workers
//   step_fed_w2    the train step fed by the loader with two workers
// The loader keeps up when step_fed_w2 is close to step (the step is the bottleneck).
// No libtorch twin: torch's C++ DataLoader is a different design to time.
#include <tapegrad/tapegrad.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tg_workloads.hpp"

namespace {

namespace data = tg::data;
namespace nn = tg::nn;

constexpr std::int64_t kBatch = 128, kBatches = 40, kExamples = kBatch * kBatches;

std::string extra_fields() {
    const char* v = std::getenv("OPENBLAS_NUM_THREADS");
    return std::string("openblas_threads=") + (v ? v : "default") + " batch=128 batches_per_epoch=40";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_loader(const bench::Options& o) {
    const int reps = bench::pick(o.reps, 5);
    const int warmup = bench::pick(o.warmup, 1);

    tg::manual_seed(0);
    const auto images = tg::rand({kExamples, 1, 28, 28});
    const auto labels = tg::randint(0, 10, {kExamples});
    const auto dataset = data::map_seeded(
        data::TensorDataset(images, labels),
        {data::transforms::random_crop(28, 2), data::transforms::random_horizontal_flip(),
         data::transforms::normalize(0.5, 0.25)},
        1);

    nn::Sequential model(nn::Flatten(), nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128), nn::ReLU(),
                         nn::Linear(128, 10));
    tg::optim::Adam optimizer(model.parameters());
    auto train_step = [&](const data::Batch& batch) {
        const auto loss = tg::nn::functional::cross_entropy(model.forward(batch.input), batch.target);
        optimizer.minimize(loss);
    };

    // Batches per second over whole epochs of `loader`, with `body` per batch.
    auto epochs_rate = [&](int workers, const std::function<void(const data::Batch&)>& body) {
        data::DataLoader loader(dataset, {.batch_size = kBatch, .shuffle = true, .seed = 0, .num_workers = workers});
        std::vector<double> rates;
        for (int r = 0; r < warmup + reps; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            std::int64_t n = 0;
            for (const auto& batch : loader) {
                body(batch);
                ++n;
            }
            if (r >= warmup) rates.push_back(static_cast<double>(n) / seconds_since(t0));
        }
        return rates;
    };

    const auto nothing = [](const data::Batch&) {};
    bench::report(bench::kTapegrad, o.workload, "loader_w0_batches_per_s", epochs_rate(0, nothing), "batches/s",
                  extra_fields());
    bench::report(bench::kTapegrad, o.workload, "loader_w2_batches_per_s", epochs_rate(2, nothing), "batches/s",
                  extra_fields());

    data::DataLoader one(dataset, {.batch_size = kBatch});
    const auto fixed = *one.begin();
    auto step_secs = bench::time_reps(warmup, reps, static_cast<int>(kBatches), [&] { train_step(fixed); });
    bench::report(bench::kTapegrad, o.workload, "step_per_s", bench::rate(step_secs, 1.0), "steps/s",
                  extra_fields());
    bench::report(bench::kTapegrad, o.workload, "step_fed_w0_per_s", epochs_rate(0, train_step), "steps/s",
                  extra_fields());
    bench::report(bench::kTapegrad, o.workload, "step_fed_w2_per_s", epochs_rate(2, train_step), "steps/s",
                  extra_fields());
}

const bench::Register kLoader("loader", run_loader);

}  // namespace
