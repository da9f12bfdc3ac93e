// Softmax regression on Fashion-MNIST: the TF-1 "MNIST for beginners" model written eagerly.
//
//   logits = x·W + b,  loss = softmax cross-entropy,  W -= lr·dW, b -= lr·db
//
// TF-1 builds that graph once and feeds batches through session.run; here every step just
// runs the ops, backward() fills W.grad() and b.grad(), and a tg::optim optimizer holding W
// and b updates them in place (under NoGradGuard, so the update is not recorded on the tape).
//
//   fashion_mnist_logreg                  10 epochs of shuffled batches, plain SGD, lr 0.1
//   fashion_mnist_logreg --steps 1000 --lr 0.5
//                                         the TF-1 tutorial's recipe: 1000 random batches
//   fashion_mnist_logreg --optimizer adam another update rule (sgd, momentum, rmsprop, adam,
//                                         adamw); without --lr each has its own default rate
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "fashion_mnist_data.hpp"
#include "optimizer_flag.hpp"

namespace F = tg::nn::functional;

namespace {

using examples::accuracy;
using examples::Clock;
using examples::kClasses;
using examples::kPixels;
using examples::load_split;
using examples::Split;

// Running means of loss and accuracy over the batches since the last report.
struct Meter {
    double loss = 0, correct = 0;
    std::int64_t batches = 0;
    void add(double batch_loss, double batch_acc) {
        loss += batch_loss;
        correct += batch_acc;
        ++batches;
    }
    double mean_loss() const { return batches ? loss / static_cast<double>(batches) : 0.0; }
    double mean_acc() const { return batches ? correct / static_cast<double>(batches) : 0.0; }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Softmax regression on Fashion-MNIST (x·W + b, cross-entropy, gradient descent)"};
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::int64_t steps = 0;
    int epochs = 10;
    double lr = 0.1;
    std::string optimizer_name = "sgd";
    // Rates used when --lr is not given (sgd's is the TF-1 tutorial's; momentum 0.9 makes a
    // step about ten times larger, so it starts ten times lower).
    const examples::DefaultLearningRates default_lr = {
        {"sgd", 0.1}, {"momentum", 0.01}, {"rmsprop", 1e-3}, {"adam", 1e-3}, {"adamw", 1e-3}};
    std::int64_t batch_size = 100;
    std::uint64_t seed = 0;
    int eval_every = 0;
    app.add_option("--data", data_dir, "directory holding the four *-ubyte.gz files")
        ->capture_default_str();
    auto* steps_opt = app.add_option("--steps", steps,
                                     "train on this many random batches instead of epochs")
                          ->check(CLI::PositiveNumber);
    app.add_option("--epochs", epochs, "passes over the shuffled training set")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    auto* lr_opt = app.add_option("--lr", lr,
                                  "learning rate (default: sgd 0.1, momentum 0.01, rmsprop/adam/adamw 1e-3)")
                       ->check(CLI::PositiveNumber);
    app.add_option("--optimizer", optimizer_name, "update rule")
        ->capture_default_str()
        ->check(CLI::IsMember(examples::optimizer_names()));
    app.add_option("--batch-size", batch_size, "examples per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "random seed (shuffling and batches)")->capture_default_str();
    app.add_option("--eval-every", eval_every,
                   "also report test accuracy every N epochs (N steps with --steps); 0: at the end only")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    if (lr_opt->count() == 0) lr = default_lr.at(optimizer_name);

    try {
        tg::manual_seed(seed);
        Clock load_clock;
        const Split train = load_split(data_dir, "train");
        const Split test = load_split(data_dir, "t10k");
        const std::int64_t n_train = train.images.size(0);
        std::printf("loaded %lld training and %lld test images from %s in %.2f s\n",
                    static_cast<long long>(n_train), static_cast<long long>(test.images.size(0)),
                    data_dir.c_str(), load_clock.seconds());

        // TF-1's tutorial starts from zeros: the loss is convex, so no symmetry to break.
        auto W = tg::zeros({kPixels, kClasses}).requires_grad_();
        auto b = tg::zeros({kClasses}).requires_grad_();
        const auto optimizer = examples::make_optimizer(optimizer_name, {W, b}, lr);

        auto test_accuracy = [&] {
            tg::NoGradGuard no_grad;
            return accuracy(tg::matmul(test.images, W) + b, test.labels);
        };

        // One optimizer step on a batch; adds its loss and accuracy to the meter.
        Meter meter;
        auto train_step = [&](const tg::Tensor& index) {
            const auto x = tg::index_select(train.images, 0, index);
            const auto y = tg::index_select(train.labels, 0, index);
            const auto logits = tg::matmul(x, W) + b;
            const auto loss = F::cross_entropy(logits, y);
            optimizer->minimize(loss);  // zero_grad(), loss.backward(), step()
            tg::NoGradGuard no_grad;
            meter.add(loss.item<double>(), accuracy(logits, y));
        };

        Clock train_clock;
        if (steps_opt->count() > 0) {
            // The tutorial's recipe: each step draws a fresh random batch.
            const std::int64_t report_every = std::max<std::int64_t>(1, steps / 10);
            std::printf("training %lld steps of %lld random examples, %s lr %g\n",
                        static_cast<long long>(steps), static_cast<long long>(batch_size),
                        optimizer_name.c_str(), lr);
            for (std::int64_t step = 1; step <= steps; ++step) {
                train_step(tg::randint(0, n_train, {batch_size}));
                const bool eval = eval_every > 0 && step % eval_every == 0;
                if (step % report_every == 0 || step == steps || eval) {
                    std::printf("step %6lld/%lld  loss %.4f  train acc %.4f  elapsed %.2f s",
                                static_cast<long long>(step), static_cast<long long>(steps),
                                meter.mean_loss(), meter.mean_acc(), train_clock.seconds());
                    if (eval) std::printf("  test acc %.4f", test_accuracy());
                    std::printf("\n");
                    std::fflush(stdout);
                    meter = {};
                }
            }
        } else {
            const std::int64_t batches = (n_train + batch_size - 1) / batch_size;
            std::printf("training %d epochs of %lld shuffled batches of %lld, %s lr %g\n", epochs,
                        static_cast<long long>(batches), static_cast<long long>(batch_size),
                        optimizer_name.c_str(), lr);
            for (int epoch = 1; epoch <= epochs; ++epoch) {
                const auto order = tg::randperm(n_train);
                for (std::int64_t start = 0; start < n_train; start += batch_size)
                    train_step(order.narrow(0, start, std::min(batch_size, n_train - start)));
                std::printf("epoch %3d/%d  loss %.4f  train acc %.4f  elapsed %.2f s", epoch, epochs,
                            meter.mean_loss(), meter.mean_acc(), train_clock.seconds());
                if (eval_every > 0 && epoch % eval_every == 0)
                    std::printf("  test acc %.4f", test_accuracy());
                std::printf("\n");
                std::fflush(stdout);
                meter = {};
            }
        }
        std::printf("trained in %.2f s\n", train_clock.seconds());
        std::printf("test accuracy: %.4f\n", test_accuracy());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
