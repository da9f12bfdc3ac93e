// What the Fashion-MNIST examples do the same way, written once: the flags every one takes
// (data, epochs, batch size, seed, TensorBoard logs, loader threads), the first-N training
// subset, pixel statistics, and the fit options they start from. Each example keeps what is
// its own (the model, the optimizer, extra flags and callbacks).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <tapegrad/tapegrad.hpp>

namespace examples {

// Set the defaults before add_common_flags (they show in --help).
struct CommonFlags {
    std::string data_dir = tg::data::datasets::FashionMNIST::kDefaultRoot;
    int epochs = 1;
    std::int64_t batch_size = 128;
    std::uint64_t seed = 0;
    std::string logdir{};
    int workers = 0;
};

// --data, --epochs, --batch-size, --seed (what it seeds: `seeds`), --logdir, --workers.
inline void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& seeds) {
    app.add_option("--data", flags.data_dir, "directory holding the four *-ubyte.gz files")->capture_default_str();
    app.add_option("--epochs", flags.epochs, "passes over the shuffled training set")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--batch-size", flags.batch_size, "examples per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--seed", flags.seed, "random seed (" + seeds + ")")->capture_default_str();
    app.add_option("--logdir", flags.logdir, "write TensorBoard logs (loss, accuracy, weights, graph) here");
    app.add_option("--workers", flags.workers, "background threads preparing batches")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Mean and (population) standard deviation of all pixels, for transforms::normalize.
inline std::pair<double, double> pixel_stats(const tg::Tensor& images) {
    const double mean = images.mean().item<double>();
    const double stddev = std::sqrt(((images - mean) * (images - mean)).mean().item<double>());
    return {mean, stddev};
}

// The first `n` examples of `set` (n <= 0 or past the end: all of them).
inline tg::data::TensorDataset first_examples(const tg::data::datasets::FashionMNIST& set, std::int64_t n) {
    if (n <= 0 || n > set.size()) n = set.size();
    return tg::data::TensorDataset(set.images().narrow(0, 0, n), set.labels().narrow(0, 0, n));
}

// fit() for `epochs` with the accuracy metric, `callbacks`, and last a TensorBoard writer
// when `logdir` is not empty.
inline tg::train::FitOptions fit_options(int epochs, std::vector<std::shared_ptr<tg::train::Callback>> callbacks,
                                         const std::string& logdir) {
    tg::train::FitOptions options;
    options.epochs = epochs;
    options.metrics = {tg::train::accuracy()};
    options.callbacks = std::move(callbacks);
    if (!logdir.empty()) options.callbacks.push_back(std::make_shared<tg::train::TensorBoard>(logdir));
    return options;
}

inline void print_logdir(const std::string& logdir) {
    if (!logdir.empty()) std::printf("TensorBoard logs in %s (tensorboard --logdir %s)\n", logdir.c_str(), logdir.c_str());
}

}  // namespace examples
