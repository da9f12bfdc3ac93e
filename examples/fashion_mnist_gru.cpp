// A recurrent classifier on Fashion-MNIST: each 28x28 image is read as a sequence of 28
// rows of 28 pixels by a GRU with 128 hidden units; a dense layer maps its final hidden
// state to the 10 classes (the seed's "image as a sequence" model, eager), fed by tg::data
// and trained by tg::train::fit.
//
//   model = GRU(28 -> 128, batch_first) -> last hidden state -> Linear(128, 10)
//   loss  = softmax cross-entropy (nn::CrossEntropyLoss), Adam
//
// Inputs are normalised with the training images' pixel mean and standard deviation; the
// DataLoader visits the training set in a fresh random order every epoch (seeded by --seed).
// evaluate() measures the test accuracy in eval() mode under NoGradGuard. A fixed --seed
// gives the same numbers every run.
//
//   fashion_mnist_gru                 4 epochs, Adam lr 2e-3, batches of 128
//   fashion_mnist_gru --epochs 1 --train-limit 12000 --quiet   a shorter run (the script test)
//   fashion_mnist_gru --logdir runs/gru      TensorBoard logs (then: tensorboard --logdir runs)
//   fashion_mnist_gru --workers 2            prepare batches on two background threads
#include <tapegrad/tapegrad.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "common.hpp"

namespace nn = tg::nn;
namespace data = tg::data;
namespace train = tg::train;

namespace {

using data::datasets::FashionMNIST;

constexpr std::int64_t kRows = 28, kCols = 28;

struct GruClassifier : nn::Module {
    explicit GruClassifier(std::int64_t hidden) : nn::Module("GruClassifier") {
        gru = register_module("gru", nn::GRU(nn::GRUOptions(kCols, hidden).batch_first(true)));
        fc = register_module("fc", nn::Linear(hidden, FashionMNIST::kClasses));
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"GRU(128) over the 28 rows of each Fashion-MNIST image, then a dense layer"};
    examples::CommonFlags flags{.epochs = 4, .batch_size = 128};
    std::int64_t hidden = 128, train_limit = 0;
    double lr = 2e-3;
    bool quiet = false;
    examples::add_common_flags(app, flags, "initial weights, shuffling");
    app.add_option("--lr", lr, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--hidden", hidden, "GRU hidden units")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--train-limit", train_limit, "use only the first N training images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--quiet", quiet, "no progress bar (one line per epoch)");
    CLI11_PARSE(app, argc, argv);
    const auto& [data_dir, epochs, batch_size, seed, logdir, workers] = flags;

    try {
        tg::manual_seed(seed);
        const auto load_start = std::chrono::steady_clock::now();
        using data::datasets::Split;
        const FashionMNIST full_train(data_dir, Split::Train, {784});
        const FashionMNIST test_set(data_dir, Split::Test, {784});
        const data::TensorDataset train_set = examples::first_examples(full_train, train_limit);
        const std::int64_t n_train = train_set.size();
        // Zero mean, unit variance with the training images' statistics (the GRU's gates
        // saturate less than with raw [0, 1] pixels, so it learns faster).
        const auto& images = train_set.inputs();
        const auto [mean, stddev] = examples::pixel_stats(images);
        std::printf("loaded %lld training and %lld test images from %s in %.2f s; normalising with mean %.4f, "
                    "std %.4f\n",
                    static_cast<long long>(n_train), static_cast<long long>(test_set.size()), data_dir.c_str(),
                    examples::seconds_since(load_start), mean, stddev);
        const auto normalize = data::transforms::normalize(mean, stddev);
        data::DataLoader train_loader(data::map(train_set, normalize),
                                      {.batch_size = batch_size, .shuffle = true, .seed = seed, .num_workers = workers});
        data::DataLoader test_loader(data::map(test_set, normalize), {.batch_size = 1000, .num_workers = workers});

        GruClassifier model(hidden);
        std::cout << model << '\n';
        tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(lr));
        std::printf("training %d epochs of %lld shuffled batches of %lld, Adam lr %g\n", epochs,
                    static_cast<long long>(train_loader.size()), static_cast<long long>(batch_size), lr);
        std::fflush(stdout);

        const auto train_start = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<train::Callback>> callbacks;
        if (quiet) {
            callbacks.push_back(std::make_shared<train::LambdaCallback>([&](train::TrainContext& ctx) {
                std::printf("epoch %lld/%lld  loss %.4f  train acc %.4f  elapsed %.1f s\n",
                            static_cast<long long>(ctx.epoch + 1), static_cast<long long>(ctx.epochs),
                            ctx.logs.at("loss"), ctx.logs.at("accuracy"), examples::seconds_since(train_start));
                std::fflush(stdout);
            }));
        } else {
            callbacks.push_back(std::make_shared<train::ProgressBar>(std::cout));
        }
        const auto options = examples::fit_options(epochs, callbacks, logdir);
        nn::CrossEntropyLoss loss_fn;
        train::fit(model, [&](const tg::Tensor& logits, const tg::Tensor& labels) { return loss_fn(logits, labels); },
                   optimizer, train_loader, options);
        std::printf("trained in %.1f s\n", examples::seconds_since(train_start));

        const auto test_acc = train::evaluate(model, test_loader, {train::accuracy()}).at("accuracy");
        examples::print_logdir(logdir);
        std::printf("test accuracy: %.4f\n", test_acc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
