// A small convolutional network on Fashion-MNIST, NCHW:
//
//   conv 5x5 (1 -> 32, pad 2) - BatchNorm2d - ReLU - maxpool 2      28x28 -> 14x14
//   conv 5x5 (32 -> 64, pad 2) - BatchNorm2d - ReLU - maxpool 2     14x14 -> 7x7
//   flatten - dense 3136 -> 128 - ReLU - dropout - dense 128 -> 10
//
// fed by tg::data and trained by tg::train::fit with Adam and a cosine learning-rate
// schedule (one step per epoch, the LRSchedulerStep callback) on inputs normalised with the
// training set's pixel mean and standard deviation. The convolutions have no bias: the
// batch norm after each one would cancel it.
//
// Batch norm and dropout behave differently in training and evaluation (TF-1's
// `training=` argument): model.train() uses batch statistics and drops units,
// model.eval() uses the running statistics and keeps every unit. Forgetting eval() before
// the test pass is the classic pitfall; fit() and evaluate() switch the mode themselves.
//
//   fashion_mnist_cnn                          10 epochs, batches of 64, Adam 2e-3, cosine decay,
//                                              random horizontal flips (test accuracy ~0.928)
//   fashion_mnist_cnn --save cnn.tgckpt        also write the parameters and BN statistics
//   fashion_mnist_cnn --load cnn.tgckpt        only evaluate a saved model on the test set
//   mpirun -np 2 fashion_mnist_cnn --distributed   data-parallel over MPI (batches of --batch-size per
//                                              process; rank 0 prints, saves and logs)
//   fashion_mnist_cnn --train-size 6000 --epochs 1   a short run (used by the script test)
//   fashion_mnist_cnn --logdir runs/cnn        TensorBoard logs (then: tensorboard --logdir runs)
//   fashion_mnist_cnn --workers 2              prepare batches on two background threads
//
// A fixed --seed gives the same numbers every run.
#include <tapegrad/distributed.hpp>
#include <tapegrad/tapegrad.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;
namespace data = tg::data;
namespace train = tg::train;

namespace {

using data::datasets::FashionMNIST;

// The pixel statistics of Fashion-MNIST's training set (mean and std of all 47M pixels in
// [0, 1]); fixed so that a saved model evaluates on exactly the same inputs later.
constexpr double kPixelMean = 0.2860;
constexpr double kPixelStd = 0.3530;

struct FashionCnn : nn::Module {
    explicit FashionCnn(double dropout_p) : nn::Module("FashionCnn") {
        conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2).bias(false)));
        bn1 = register_module("bn1", nn::BatchNorm2d(32));
        conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2).bias(false)));
        bn2 = register_module("bn2", nn::BatchNorm2d(64));
        fc1 = register_module("fc1", nn::Linear(64 * 7 * 7, 128));
        dropout = register_module("dropout", nn::Dropout(dropout_p));
        fc2 = register_module("fc2", nn::Linear(128, FashionMNIST::kClasses));
    }

    tg::Tensor forward(const tg::Tensor& x) override {  // x: (N, 1, 28, 28)
        auto h = F::max_pool2d(tg::relu(bn1->forward(conv1->forward(x))), {2});
        h = F::max_pool2d(tg::relu(bn2->forward(conv2->forward(h))), {2});
        h = tg::relu(fc1->forward(h.reshape({h.size(0), -1})));
        return fc2->forward(dropout->forward(h));
    }

    std::shared_ptr<nn::Conv2d> conv1, conv2;
    std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
    std::shared_ptr<nn::Linear> fc1, fc2;
    std::shared_ptr<nn::Dropout> dropout;
};

// --distributed: only rank 0 prints.
bool quiet = false;
template <class... Args> void say(const char* format, Args... args) {
    if (!quiet) std::printf(format, args...);
}

// "test accuracy: 0.9101 (9101/10000)": the count lets the script test compare a trained
// and a reloaded model exactly.
void print_accuracy(double accuracy, std::int64_t n) {
    if (quiet) return;
    const auto correct = std::llround(accuracy * static_cast<double>(n));
    std::printf("test accuracy: %.4f (%lld/%lld)\n", accuracy, static_cast<long long>(correct),
                static_cast<long long>(n));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"2x(conv5x5-BN-ReLU-maxpool) + dense + dropout CNN on Fashion-MNIST"};
    examples::CommonFlags flags{.epochs = 10, .batch_size = 64};
    std::int64_t train_size = 0;
    double lr = 2e-3;
    double dropout = 0.3;
    std::string save_path, load_path;
    bool distributed = false;

    examples::add_common_flags(app, flags, "initial weights, shuffling, dropout");
    app.add_option("--lr", lr, "initial Adam learning rate (cosine-decayed to lr/20 over the epochs)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--dropout", dropout, "dropout probability before the last dense layer")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    app.add_option("--train-size", train_size, "train on the first N training images only (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--save", save_path, "write the trained parameters and BN statistics here (tg::save)");
    app.add_option("--load", load_path, "evaluate the model saved at PATH on the test set (no training)");
    app.add_flag("--distributed", distributed,
                 "data-parallel over MPI: run under mpirun -np N (--batch-size is per process)");
    CLI11_PARSE(app, argc, argv);
    const auto& [data_dir, epochs, batch_size, seed, logdir, workers] = flags;

    std::optional<tg::distributed::Context> mpi;  // MPI_Init ... MPI_Finalize
    try {
        if (distributed) {
            mpi.emplace(&argc, &argv);
            quiet = !tg::distributed::is_main_process();  // rank 0 prints and saves
            tg::set_num_threads(1);  // one BLAS thread per process
        }
        tg::manual_seed(seed);
        const auto load_start = std::chrono::steady_clock::now();
        using data::datasets::Split;
        const auto normalize = data::transforms::normalize(kPixelMean, kPixelStd);
        const FashionMNIST test_set(data_dir, Split::Test);  // (1, 28, 28) images
        data::DataLoader test_loader(data::map(test_set, normalize), {.batch_size = 500, .num_workers = workers});
        FashionCnn model(dropout);

        if (!load_path.empty()) {
            // Parameters then batch-norm running statistics, as --save (and ModelCheckpoint) wrote them.
            tg::load_into(model, load_path);
            say("loaded %zu tensors from %s\n", tg::state_dict(model).size(), load_path.c_str());
            print_accuracy(train::evaluate(model, test_loader, {train::accuracy()}).at("accuracy"), test_set.size());
            return 0;
        }

        const FashionMNIST full_train(data_dir, Split::Train);
        const data::TensorDataset train_set = examples::first_examples(full_train, train_size);
        const std::int64_t n_train = train_set.size();
        data::DataLoaderOptions train_options{.batch_size = batch_size, .shuffle = true, .seed = seed,
                                              .num_workers = workers};
        // Each process takes its shard of every epoch's permutation of (seed, epoch).
        if (distributed)
            train_options.sampler = tg::distributed::DistributedSampler(n_train, true, seed).sampler();
        // Mirrored images are as plausible as the originals (shirts, shoes and bags have no
        // handedness): flipping half of each epoch's images at random is free extra data.
        data::DataLoader train_loader(
            data::map_seeded(train_set, {normalize, data::transforms::random_horizontal_flip(0.5)}, seed),
            train_options);
        say("loaded %lld training and %lld test images in %.2f s\n", static_cast<long long>(n_train),
                    static_cast<long long>(test_set.size()), examples::seconds_since(load_start));
        if (!quiet) std::cout << model << '\n';

        tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(lr));
        // Rank 0's initial weights everywhere; gradients averaged across processes during backward.
        std::optional<tg::distributed::DistributedDataParallel> ddp;
        if (distributed) {
            ddp.emplace(model);
            tg::manual_seed(seed + 7919 * static_cast<std::uint64_t>(tg::distributed::rank()));  // own dropout
        }
        tg::optim::CosineAnnealingLR schedule(optimizer, epochs, lr / 20);
        say("training %d epochs of %lld shuffled batches of %lld, Adam lr %g with cosine decay\n", epochs,
                    static_cast<long long>(train_loader.size()), static_cast<long long>(batch_size), lr);
        std::fflush(stdout);

        const auto train_start = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<train::Callback>> callbacks;
        if (!quiet) callbacks.push_back(std::make_shared<train::ProgressBar>(std::cout));
        callbacks.push_back(std::make_shared<train::LRSchedulerStep>(schedule));
        const auto options = examples::fit_options(epochs, callbacks, quiet ? "" : logdir);
        nn::CrossEntropyLoss loss_fn;
        train::fit(model, [&](const tg::Tensor& logits, const tg::Tensor& labels) { return loss_fn(logits, labels); },
                   optimizer, train_loader, options);
        say("trained in %.1f s\n", examples::seconds_since(train_start));

        if (ddp) ddp->broadcast_buffers();  // everyone evaluates (and rank 0 saves) rank 0's BN statistics
        if (!save_path.empty() && !quiet) {
            tg::save(model, save_path);
            say("saved %zu tensors to %s\n", tg::state_dict(model).size(), save_path.c_str());
        }
        if (!quiet) examples::print_logdir(logdir);
        print_accuracy(train::evaluate(model, test_loader, {train::accuracy()}).at("accuracy"), test_set.size());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (tg::distributed::world_size() > 1) tg::distributed::abort("fashion_mnist_cnn: aborting every process");
        return 1;
    }
    return 0;
}
