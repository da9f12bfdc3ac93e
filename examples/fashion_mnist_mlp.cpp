// A multi-layer perceptron on Fashion-MNIST: 784-256-128-10 with ReLU and dropout, built
// from tg::nn modules and trained with a tg::optim optimizer (Adam by default).
//
//   model = Sequential(Linear(784, 256), ReLU, Dropout, Linear(256, 128), ReLU, Dropout,
//                      Linear(128, 10)),   loss = softmax cross-entropy
//
// Inputs are normalised with the training set's pixel mean and standard deviation; every
// epoch visits the training set in a fresh random order (tg::randperm) in batches. Dropout
// is active while training; model.eval() switches it off for the test accuracy, which runs
// under NoGradGuard (nothing recorded). A fixed --seed gives the same numbers every run.
//
//   fashion_mnist_mlp                        12 epochs, Adam lr 1e-3, batches of 128
//   fashion_mnist_mlp --optimizer momentum   SGD with momentum 0.9 (lr 0.01 unless --lr)
//   fashion_mnist_mlp --save mlp.tgckpt      also write the trained parameters (tg::save)
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "fashion_mnist_data.hpp"
#include "optimizer_flag.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;

namespace {

using examples::accuracy;
using examples::Clock;
using examples::kClasses;
using examples::kPixels;
using examples::load_split;
using examples::Split;

// Example-weighted means of loss and accuracy over the batches of one epoch.
struct Meter {
    double loss = 0, correct = 0;
    std::int64_t examples = 0;
    void add(double batch_loss, double batch_acc, std::int64_t batch_size) {
        loss += batch_loss * static_cast<double>(batch_size);
        correct += batch_acc * static_cast<double>(batch_size);
        examples += batch_size;
    }
    double mean_loss() const { return examples ? loss / static_cast<double>(examples) : 0.0; }
    double mean_acc() const { return examples ? correct / static_cast<double>(examples) : 0.0; }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"784-256-128-10 MLP with ReLU and dropout on Fashion-MNIST"};
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    int epochs = 12;
    std::int64_t batch_size = 128;
    double lr = 1e-3;
    double dropout = 0.2;
    std::string optimizer_name = "adam";
    std::uint64_t seed = 0;
    std::string save_path;
    // Rates used when --lr is not given.
    const examples::DefaultLearningRates default_lr = {
        {"sgd", 0.1}, {"momentum", 0.01}, {"rmsprop", 1e-3}, {"adam", 1e-3}, {"adamw", 1e-3}};

    app.add_option("--data", data_dir, "directory holding the four *-ubyte.gz files")
        ->capture_default_str();
    app.add_option("--epochs", epochs, "passes over the shuffled training set")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--batch-size", batch_size, "examples per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    auto* lr_opt = app.add_option("--lr", lr,
                                  "learning rate (default: adam/adamw/rmsprop 1e-3, momentum 0.01, sgd 0.1)")
                       ->check(CLI::PositiveNumber);
    app.add_option("--optimizer", optimizer_name, "update rule")
        ->capture_default_str()
        ->check(CLI::IsMember(examples::optimizer_names()));
    app.add_option("--dropout", dropout, "probability of zeroing a hidden unit while training")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    app.add_option("--seed", seed, "random seed (initial weights, shuffling, dropout)")
        ->capture_default_str();
    app.add_option("--save", save_path, "write the trained parameters here (tg::save)");
    CLI11_PARSE(app, argc, argv);
    if (lr_opt->count() == 0) lr = default_lr.at(optimizer_name);

    try {
        tg::manual_seed(seed);
        Clock load_clock;
        Split train = load_split(data_dir, "train");
        Split test = load_split(data_dir, "t10k");
        const std::int64_t n_train = train.images.size(0);
        std::printf("loaded %lld training and %lld test images from %s in %.2f s\n",
                    static_cast<long long>(n_train), static_cast<long long>(test.images.size(0)),
                    data_dir.c_str(), load_clock.seconds());

        // Zero mean, unit variance, with the training set's statistics for both splits.
        {
            const double mean = train.images.mean().item<double>();
            const auto centred = train.images - mean;
            const double stddev = std::sqrt((centred * centred).mean().item<double>());
            train.images = centred / stddev;
            test.images = (test.images - mean) / stddev;
            std::printf("normalised pixels with mean %.4f, std %.4f\n", mean, stddev);
        }

        nn::Sequential model(nn::Linear(kPixels, 256), nn::ReLU(), nn::Dropout(dropout),
                             nn::Linear(256, 128), nn::ReLU(), nn::Dropout(dropout),
                             nn::Linear(128, kClasses));
        std::cout << model << '\n';
        const auto optimizer = examples::make_optimizer(optimizer_name, model.parameters(), lr);

        const std::int64_t batches = (n_train + batch_size - 1) / batch_size;
        std::printf("training %d epochs of %lld shuffled batches of %lld, %s lr %g\n", epochs,
                    static_cast<long long>(batches), static_cast<long long>(batch_size),
                    optimizer_name.c_str(), lr);
        Clock train_clock;
        for (int epoch = 1; epoch <= epochs; ++epoch) {
            model.train();
            Meter meter;
            const auto order = tg::randperm(n_train);
            for (std::int64_t start = 0; start < n_train; start += batch_size) {
                const auto index = order.narrow(0, start, std::min(batch_size, n_train - start));
                const auto x = tg::index_select(train.images, 0, index);
                const auto y = tg::index_select(train.labels, 0, index);
                const auto logits = model.forward(x);
                const auto loss = F::cross_entropy(logits, y);
                optimizer->minimize(loss);  // zero_grad(), loss.backward(), step()
                tg::NoGradGuard no_grad;
                meter.add(loss.item<double>(), accuracy(logits, y), index.size(0));
            }
            std::printf("epoch %3d/%d  loss %.4f  train acc %.4f  elapsed %.2f s\n", epoch, epochs,
                        meter.mean_loss(), meter.mean_acc(), train_clock.seconds());
            std::fflush(stdout);
        }
        std::printf("trained in %.2f s\n", train_clock.seconds());

        model.eval();
        double test_acc = 0;
        {
            tg::NoGradGuard no_grad;
            test_acc = accuracy(model.forward(test.images), test.labels);
        }
        if (!save_path.empty()) {
            tg::save(model.named_parameters(), save_path);
            std::printf("saved %zu parameter tensors to %s\n", model.named_parameters().size(),
                        save_path.c_str());
        }
        std::printf("test accuracy: %.4f\n", test_acc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
