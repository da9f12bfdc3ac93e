// A recurrent classifier on Fashion-MNIST: each 28x28 image is read as a sequence of 28
// rows of 28 pixels by a GRU with 128 hidden units; a dense layer maps its final hidden
// state to the 10 classes (the seed's "image as a sequence" model, eager).
//
//   model = GRU(28 -> 128, batch_first) -> last hidden state -> Linear(128, 10)
//   loss  = softmax cross-entropy, Adam
//
// Every epoch visits the training set in a fresh random order (tg::randperm); the test
// accuracy runs under NoGradGuard. A fixed --seed gives the same numbers every run.
//
//   fashion_mnist_gru                 4 epochs, Adam lr 2e-3, batches of 128
//   fashion_mnist_gru --epochs 1 --train-limit 20000   a shorter run (the script test)
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "fashion_mnist_data.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;

namespace {

using examples::accuracy;
using examples::Clock;
using examples::kClasses;
using examples::load_split;
using examples::Split;

constexpr std::int64_t kRows = 28, kCols = 28;

struct GruClassifier : nn::Module {
    explicit GruClassifier(std::int64_t hidden) : nn::Module("GruClassifier") {
        gru = register_module("gru", nn::GRU(nn::GRUOptions(kCols, hidden).batch_first(true)));
        fc = register_module("fc", nn::Linear(hidden, kClasses));
    }
    // x: (B, 784) or (B, 1, 28, 28) pixels -> (B, 10) logits.
    tg::Tensor forward(const tg::Tensor& x) override {
        const auto rows = x.reshape({x.size(0), kRows, kCols});  // (B, T = 28, F = 28)
        auto [outputs, h_n] = gru->forward(rows, tg::Tensor());
        return fc->forward(h_n.select(0, 0));  // the state after the last row
    }
    std::shared_ptr<nn::GRU> gru;
    std::shared_ptr<nn::Linear> fc;
};

// "[#########...........]  212/469  loss 0.4821" on stderr, redrawn in place.
void progress(std::int64_t done, std::int64_t total, double loss, double seconds) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / std::max<std::int64_t>(total, 1));
    std::fprintf(stderr, "\r[%s%s] %5lld/%lld  loss %.4f  %.0f s", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), loss, seconds);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"GRU(128) over the 28 rows of each Fashion-MNIST image, then a dense layer"};
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    int epochs = 4;
    std::int64_t batch_size = 128, hidden = 128, train_limit = 0;
    double lr = 2e-3;
    std::uint64_t seed = 0;
    bool quiet = false;
    app.add_option("--data", data_dir, "directory holding the four *-ubyte.gz files")->capture_default_str();
    app.add_option("--epochs", epochs, "passes over the shuffled training set")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--batch-size", batch_size, "examples per step")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--lr", lr, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--hidden", hidden, "GRU hidden units")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--train-limit", train_limit, "use only the first N training images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--seed", seed, "random seed (initial weights, shuffling)")->capture_default_str();
    app.add_flag("--quiet", quiet, "no progress bar");
    CLI11_PARSE(app, argc, argv);

    try {
        tg::manual_seed(seed);
        Clock load_clock;
        Split train = load_split(data_dir, "train");
        Split test = load_split(data_dir, "t10k");
        if (train_limit > 0 && train_limit < train.images.size(0)) {
            train.images = train.images.narrow(0, 0, train_limit);
            train.labels = train.labels.narrow(0, 0, train_limit);
        }
        const std::int64_t n_train = train.images.size(0);
        // Zero mean, unit variance with the training set's statistics (the GRU's gates
        // saturate less than with raw [0, 1] pixels, so it learns faster).
        {
            const double mean = train.images.mean().item<double>();
            const double stddev = std::sqrt(((train.images - mean) * (train.images - mean)).mean().item<double>());
            train.images = (train.images - mean) / stddev;
            test.images = (test.images - mean) / stddev;
        }
        std::printf("loaded %lld training and %lld test images from %s in %.2f s\n",
                    static_cast<long long>(n_train), static_cast<long long>(test.images.size(0)), data_dir.c_str(),
                    load_clock.seconds());

        GruClassifier model(hidden);
        std::cout << model << '\n';
        tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(lr));

        const std::int64_t batches = (n_train + batch_size - 1) / batch_size;
        std::printf("training %d epochs of %lld shuffled batches of %lld, Adam lr %g\n", epochs,
                    static_cast<long long>(batches), static_cast<long long>(batch_size), lr);
        std::fflush(stdout);
        Clock train_clock;
        for (int epoch = 1; epoch <= epochs; ++epoch) {
            model.train();
            double loss_sum = 0, correct = 0;
            const auto order = tg::randperm(n_train);
            std::int64_t b = 0;
            for (std::int64_t start = 0; start < n_train; start += batch_size, ++b) {
                const auto index = order.narrow(0, start, std::min(batch_size, n_train - start));
                const auto x = tg::index_select(train.images, 0, index);
                const auto y = tg::index_select(train.labels, 0, index);
                const auto logits = model.forward(x);
                const auto loss = F::cross_entropy(logits, y);
                optimizer.minimize(loss);
                tg::NoGradGuard no_grad;
                const double n = static_cast<double>(index.size(0));
                loss_sum += loss.item<double>() * n;
                correct += accuracy(logits, y) * n;
                if (!quiet && (b % 10 == 0 || b + 1 == batches))
                    progress(b + 1, batches, loss_sum / static_cast<double>(start + index.size(0)),
                             train_clock.seconds());
            }
            std::printf("epoch %d/%d  loss %.4f  train acc %.4f  elapsed %.1f s\n", epoch, epochs,
                        loss_sum / static_cast<double>(n_train), correct / static_cast<double>(n_train),
                        train_clock.seconds());
            std::fflush(stdout);
        }
        std::printf("trained in %.1f s\n", train_clock.seconds());

        model.eval();
        double correct = 0;
        {
            tg::NoGradGuard no_grad;
            const std::int64_t n_test = test.images.size(0);
            for (std::int64_t start = 0; start < n_test; start += 1000) {
                const std::int64_t n = std::min<std::int64_t>(1000, n_test - start);
                correct += accuracy(model.forward(test.images.narrow(0, start, n)), test.labels.narrow(0, start, n)) *
                           static_cast<double>(n);
            }
            correct /= static_cast<double>(n_test);
        }
        std::printf("test accuracy: %.4f\n", correct);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
