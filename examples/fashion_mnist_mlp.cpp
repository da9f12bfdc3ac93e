// A multi-layer perceptron on Fashion-MNIST: 784-256-128-10 with ReLU and dropout, built
// from tg::nn modules, fed by tg::data and trained by tg::train::fit (Adam by default).
//
//   model = Sequential(Linear(784, 256), ReLU, Dropout, Linear(256, 128), ReLU, Dropout,
//                      Linear(128, 10)),   loss = softmax cross-entropy
//
// Inputs are normalised with the training set's pixel mean and standard deviation; the
// DataLoader visits the training set in a fresh random order every epoch (seeded by --seed).
// fit() keeps dropout on while training; evaluate() switches to eval() mode under
// NoGradGuard for the test accuracy. A fixed --seed gives the same numbers every run.
//
//   fashion_mnist_mlp                        12 epochs, Adam lr 1e-3, batches of 128
//   fashion_mnist_mlp --optimizer momentum   SGD with momentum 0.9 (lr 0.01 unless --lr)
//   fashion_mnist_mlp --save mlp.tgckpt      also write the trained parameters (tg::save)
//   fashion_mnist_mlp --logdir runs/mlp      TensorBoard logs (then: tensorboard --logdir runs)
//   fashion_mnist_mlp --workers 2            prepare batches on two background threads
#include <tapegrad/distributed.hpp>
#include <tapegrad/tapegrad.hpp>

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
#include "optimizer_flag.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;
namespace data = tg::data;
namespace train = tg::train;

int main(int argc, char** argv) {
    CLI::App app{"784-256-128-10 MLP with ReLU and dropout on Fashion-MNIST"};
    examples::CommonFlags flags{.epochs = 12, .batch_size = 128};
    double dropout = 0.2;
    std::string save_path;
    bool distributed = false;
    examples::add_common_flags(app, flags, "initial weights, shuffling, dropout");
    examples::OptimizerFlags optimizer_flags(app, "adam");
    app.add_option("--dropout", dropout, "probability of zeroing a hidden unit while training")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    app.add_option("--save", save_path, "write the trained parameters here (tg::save)");
    app.add_flag("--distributed", distributed,
                 "data-parallel over MPI: run under mpirun -np N (--batch-size is per process)");
    CLI11_PARSE(app, argc, argv);
    optimizer_flags.resolve();
    const std::string& optimizer_name = optimizer_flags.name;
    const double lr = optimizer_flags.lr;
    const auto& [data_dir, epochs, batch_size, seed, logdir, workers] = flags;

    std::optional<tg::distributed::Context> mpi;  // MPI_Init ... MPI_Finalize
    try {
        if (distributed) mpi.emplace(&argc, &argv);
        const bool main_process = tg::distributed::is_main_process();  // rank 0 prints and saves
        tg::manual_seed(seed);
        using data::datasets::FashionMNIST;
        using data::datasets::Split;
        const FashionMNIST train_set(data_dir, Split::Train, {784});
        const FashionMNIST test_set(data_dir, Split::Test, {784});
        // Zero mean, unit variance, with the training set's statistics for both splits.
        const auto [mean, stddev] = examples::pixel_stats(train_set.images());
        if (main_process) std::printf("loaded %lld training and %lld test images from %s; normalising with mean %.4f, std %.4f\n",
                    static_cast<long long>(train_set.size()), static_cast<long long>(test_set.size()),
                    data_dir.c_str(), mean, stddev);
        const auto normalize = data::transforms::normalize(mean, stddev);
        data::DataLoaderOptions train_options{.batch_size = batch_size, .shuffle = true, .seed = seed,
                                              .num_workers = workers};
        // Each process takes its shard of every epoch's permutation of (seed, epoch).
        if (distributed)
            train_options.sampler = tg::distributed::DistributedSampler(train_set.size(), true, seed).sampler();
        data::DataLoader train_loader(data::map(train_set, normalize), train_options);
        data::DataLoader test_loader(data::map(test_set, normalize), {.batch_size = 1000, .num_workers = workers});

        nn::Sequential model(nn::Linear(784, 256), nn::ReLU(), nn::Dropout(dropout),
                             nn::Linear(256, 128), nn::ReLU(), nn::Dropout(dropout),
                             nn::Linear(128, FashionMNIST::kClasses));
        if (main_process) std::cout << model << '\n';
        const auto optimizer = examples::make_optimizer(optimizer_name, model.parameters(), lr);
        // Rank 0's initial weights everywhere; gradients averaged across processes during backward.
        std::optional<tg::distributed::DistributedDataParallel> ddp;
        if (distributed) ddp.emplace(model);
        if (main_process) std::printf("training %d epochs of %lld shuffled batches of %lld, %s lr %g\n", epochs,
                    static_cast<long long>(train_loader.size()), static_cast<long long>(batch_size),
                    optimizer_name.c_str(), lr);

        std::vector<std::shared_ptr<train::Callback>> callbacks;
        if (main_process) callbacks.push_back(std::make_shared<train::ProgressBar>(std::cout));
        const auto options = examples::fit_options(epochs, callbacks, main_process ? logdir : "");
        const auto loss_fn = [](const tg::Tensor& logits, const tg::Tensor& labels) {
            return F::cross_entropy(logits, labels);
        };
        train::fit(model, loss_fn, *optimizer, train_loader, options);

        const auto test_acc = train::evaluate(model, test_loader, {train::accuracy()}).at("accuracy");
        if (!save_path.empty() && main_process) {
            tg::save(model.named_parameters(), save_path);
            std::printf("saved %zu parameter tensors to %s\n", model.named_parameters().size(),
                        save_path.c_str());
        }
        if (main_process) examples::print_logdir(logdir);
        if (main_process) std::printf("test accuracy: %.4f\n", test_acc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (tg::distributed::world_size() > 1) tg::distributed::abort("fashion_mnist_mlp: aborting every process");
        return 1;
    }
    return 0;
}
