// A small convolutional network on Fashion-MNIST, NCHW:
//
//   conv 5x5 (1 -> 32, pad 2) - BatchNorm2d - ReLU - maxpool 2      28x28 -> 14x14
//   conv 5x5 (32 -> 64, pad 2) - BatchNorm2d - ReLU - maxpool 2     14x14 -> 7x7
//   flatten - dense 3136 -> 128 - ReLU - dropout - dense 128 -> 10
//
// trained with Adam and a cosine learning-rate schedule (one step per epoch) on inputs
// normalised with the training set's pixel mean and standard deviation. The convolutions
// have no bias: the batch norm after each one would cancel it.
//
// Batch norm and dropout behave differently in training and evaluation (TF-1's
// `training=` argument): model.train() uses batch statistics and drops units,
// model.eval() uses the running statistics and keeps every unit. Forgetting eval() before
// the test pass is the classic pitfall; this example calls it before every evaluation.
//
//   fashion_mnist_cnn                          3 epochs, batches of 64, Adam 2e-3, cosine decay
//   fashion_mnist_cnn --save cnn.tgckpt        also write the parameters and BN statistics
//   fashion_mnist_cnn --load cnn.tgckpt        only evaluate a saved model on the test set
//   fashion_mnist_cnn --train-size 6000 --epochs 1   a short run (used by the script test)
//
// A fixed --seed gives the same numbers every run.
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "fashion_mnist_data.hpp"

namespace F = tg::nn::functional;
namespace nn = tg::nn;

namespace {

using examples::Clock;
using examples::kClasses;

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
        fc2 = register_module("fc2", nn::Linear(128, kClasses));
    }

    tg::Tensor forward(const tg::Tensor& x) override {  // x: (N, 1, 28, 28)
        auto h = F::max_pool2d(tg::relu(bn1->forward(conv1->forward(x))), {2});
        h = F::max_pool2d(tg::relu(bn2->forward(conv2->forward(h))), {2});
        h = tg::relu(fc1->forward(h.reshape({h.size(0), -1})));
        return fc2->forward(dropout->forward(h));
    }

    // Parameters and the batch-norm running statistics: what a checkpoint holds.
    tg::NamedTensors state() const {
        auto all = named_parameters();
        for (auto& b : named_buffers()) all.push_back(b);
        return all;
    }

    std::shared_ptr<nn::Conv2d> conv1, conv2;
    std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
    std::shared_ptr<nn::Linear> fc1, fc2;
    std::shared_ptr<nn::Dropout> dropout;
};

// (N, 784) in [0, 1] -> (N, 1, 28, 28), zero mean and unit variance.
tg::Tensor prepare(const tg::Tensor& images) {
    return ((images - kPixelMean) / kPixelStd).reshape({images.size(0), 1, 28, 28}).contiguous();
}

// Correct predictions over a split, in eval mode, in batches (no graph recorded).
std::int64_t count_correct(FashionCnn& model, const tg::Tensor& x, const tg::Tensor& y) {
    model.eval();
    tg::NoGradGuard no_grad;
    const std::int64_t n = x.size(0), batch = 500;
    std::int64_t correct = 0;
    for (std::int64_t start = 0; start < n; start += batch) {
        const std::int64_t b = std::min(batch, n - start);
        const auto pred = tg::argmax(model.forward(x.narrow(0, start, b)), 1);
        correct += (pred == y.narrow(0, start, b)).sum().item<std::int64_t>();
    }
    return correct;
}

void print_accuracy(const char* what, std::int64_t correct, std::int64_t n) {
    std::printf("%s: %.4f (%lld/%lld)\n", what, static_cast<double>(correct) / static_cast<double>(n),
                static_cast<long long>(correct), static_cast<long long>(n));
}

// [=========>          ]  412/938  loss 0.4123
void progress(int epoch, int epochs, std::int64_t done, std::int64_t total, double loss, bool final) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / std::max<std::int64_t>(total, 1));
    std::string bar(static_cast<std::size_t>(kWidth), ' ');
    std::fill(bar.begin(), bar.begin() + filled, '=');
    if (filled < kWidth) bar[static_cast<std::size_t>(filled)] = '>';
    std::printf("\repoch %d/%d [%s] %4lld/%lld  loss %.4f", epoch, epochs, bar.c_str(), static_cast<long long>(done),
                static_cast<long long>(total), loss);
    if (final) std::printf("\n");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"2x(conv5x5-BN-ReLU-maxpool) + dense + dropout CNN on Fashion-MNIST"};
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    int epochs = 3;
    std::int64_t batch_size = 64;
    std::int64_t train_size = 0;
    double lr = 2e-3;
    double dropout = 0.3;
    std::uint64_t seed = 0;
    std::string save_path, load_path;

    app.add_option("--data", data_dir, "directory holding the four *-ubyte.gz files")->capture_default_str();
    app.add_option("--epochs", epochs, "passes over the shuffled training set")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--batch-size", batch_size, "examples per step")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--lr", lr, "initial Adam learning rate (cosine-decayed to lr/20 over the epochs)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--dropout", dropout, "dropout probability before the last dense layer")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    app.add_option("--train-size", train_size, "train on the first N training images only (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--seed", seed, "random seed (initial weights, shuffling, dropout)")->capture_default_str();
    app.add_option("--save", save_path, "write the trained parameters and BN statistics here (tg::save)");
    app.add_option("--load", load_path, "evaluate the model saved at PATH on the test set (no training)");
    CLI11_PARSE(app, argc, argv);

    try {
        tg::manual_seed(seed);
        Clock load_clock;
        auto test = examples::load_split(data_dir, "t10k");
        const auto test_x = prepare(test.images);
        FashionCnn model(dropout);

        if (!load_path.empty()) {
            tg::load_into(model.state(), load_path);
            std::printf("loaded %zu tensors from %s\n", model.state().size(), load_path.c_str());
            print_accuracy("test accuracy", count_correct(model, test_x, test.labels), test_x.size(0));
            return 0;
        }

        auto train = examples::load_split(data_dir, "train");
        if (train_size > 0 && train_size < train.images.size(0)) {
            train.images = train.images.narrow(0, 0, train_size);
            train.labels = train.labels.narrow(0, 0, train_size);
        }
        const auto train_x = prepare(train.images);
        const std::int64_t n_train = train_x.size(0);
        std::printf("loaded %lld training and %lld test images in %.2f s\n", static_cast<long long>(n_train),
                    static_cast<long long>(test_x.size(0)), load_clock.seconds());
        std::cout << model << '\n';

        tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(lr));
        tg::optim::CosineAnnealingLR schedule(optimizer, epochs, lr / 20);
        const std::int64_t batches = (n_train + batch_size - 1) / batch_size;
        std::printf("training %d epochs of %lld shuffled batches of %lld, Adam lr %g with cosine decay\n", epochs,
                    static_cast<long long>(batches), static_cast<long long>(batch_size), lr);
        Clock train_clock;
        for (int epoch = 1; epoch <= epochs; ++epoch) {
            model.train();
            const auto order = tg::randperm(n_train);
            double loss_sum = 0;
            std::int64_t seen = 0, done = 0;
            for (std::int64_t start = 0; start < n_train; start += batch_size) {
                const auto index = order.narrow(0, start, std::min(batch_size, n_train - start));
                const auto loss = F::cross_entropy(model.forward(tg::index_select(train_x, 0, index)),
                                                   tg::index_select(train.labels, 0, index));
                optimizer.minimize(loss);  // zero_grad(), backward(), step()
                loss_sum += loss.item<double>() * static_cast<double>(index.size(0));
                seen += index.size(0);
                if (++done % 20 == 0 || done == batches)
                    progress(epoch, epochs, done, batches, loss_sum / static_cast<double>(seen), false);
            }
            progress(epoch, epochs, done, batches, loss_sum / static_cast<double>(seen), true);
            const double lr_now = schedule.get_last_lr().front();
            schedule.step();
            std::printf("epoch %d/%d  loss %.4f  lr %.2e  elapsed %.1f s\n", epoch, epochs,
                        loss_sum / static_cast<double>(seen), lr_now, train_clock.seconds());
        }
        std::printf("trained in %.1f s\n", train_clock.seconds());

        if (!save_path.empty()) {
            tg::save(model.state(), save_path);
            std::printf("saved %zu tensors to %s\n", model.state().size(), save_path.c_str());
        }
        print_accuracy("test accuracy", count_correct(model, test_x, test.labels), test_x.size(0));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
