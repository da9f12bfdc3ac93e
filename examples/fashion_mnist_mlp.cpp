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

#include "optimizer_flag.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;
namespace data = tg::data;
namespace train = tg::train;

int main(int argc, char** argv) {
    CLI::App app{"784-256-128-10 MLP with ReLU and dropout on Fashion-MNIST"};
    std::string data_dir = data::datasets::FashionMNIST::kDefaultRoot;
    int epochs = 12;
    std::int64_t batch_size = 128;
    double lr = 1e-3;
    double dropout = 0.2;
    std::string optimizer_name = "adam";
    std::uint64_t seed = 0;
    std::string save_path;
    std::string logdir;
    int workers = 0;
    bool distributed = false;
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
    app.add_option("--logdir", logdir, "write TensorBoard logs (loss, accuracy, weights, graph) here");
    app.add_option("--workers", workers, "background threads preparing batches")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--distributed", distributed,
                 "data-parallel over MPI: run under mpirun -np N (--batch-size is per process)");
    CLI11_PARSE(app, argc, argv);
    if (lr_opt->count() == 0) lr = default_lr.at(optimizer_name);

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
        const double mean = train_set.images().mean().item<double>();
        const double stddev = std::sqrt(((train_set.images() - mean) * (train_set.images() - mean)).mean().item<double>());
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

        train::FitOptions options;
        options.epochs = epochs;
        options.metrics = {train::accuracy()};
        if (main_process) options.callbacks = {std::make_shared<train::ProgressBar>(std::cout)};
        if (!logdir.empty() && main_process) options.callbacks.push_back(std::make_shared<train::TensorBoard>(logdir));
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
        if (!logdir.empty() && main_process) std::printf("TensorBoard logs in %s (tensorboard --logdir %s)\n", logdir.c_str(), logdir.c_str());
        if (main_process) std::printf("test accuracy: %.4f\n", test_acc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (tg::distributed::world_size() > 1) tg::distributed::abort("fashion_mnist_mlp: aborting every process");
        return 1;
    }
    return 0;
}
