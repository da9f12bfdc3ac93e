// Softmax regression on Fashion-MNIST: the TF-1 "MNIST for beginners" model written eagerly.
//
//   logits = x·W + b,  loss = softmax cross-entropy,  W -= lr·dW, b -= lr·db
//
// TF-1 builds that graph once and feeds batches through session.run; here the model is a
// tg::nn::Module holding W and b, tg::data feeds the batches, and tg::train::fit runs the
// steps: forward, backward() fills W.grad() and b.grad(), and a tg::optim optimizer updates
// them in place (under NoGradGuard, so the update is not recorded on the tape).
//
//   fashion_mnist_logreg                  10 epochs of shuffled batches, plain SGD, lr 0.1
//   fashion_mnist_logreg --steps 1000 --lr 0.5
//                                         the TF-1 tutorial's recipe: 1000 random batches
//                                         (mnist.train.next_batch: a sampler drawing with
//                                         replacement)
//   fashion_mnist_logreg --optimizer adam another update rule (sgd, momentum, rmsprop, adam,
//                                         adamw); without --lr each has its own default rate
//   fashion_mnist_logreg --logdir runs/logreg
//                                         TensorBoard logs (then: tensorboard --logdir runs)
#include <tapegrad/tapegrad.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common.hpp"
#include "optimizer_flag.hpp"

namespace F = tg::nn::functional;
namespace data = tg::data;
namespace train = tg::train;

namespace {

constexpr std::int64_t kPixels = 28 * 28;

// x·W + b. TF-1's tutorial starts from zeros: the loss is convex, so no symmetry to break.
struct SoftmaxRegression : tg::nn::Module {
    SoftmaxRegression() : Module("SoftmaxRegression") {
        W = register_parameter("W", tg::zeros({kPixels, data::datasets::FashionMNIST::kClasses}));
        b = register_parameter("b", tg::zeros({data::datasets::FashionMNIST::kClasses}));
    }
    tg::Tensor forward(const tg::Tensor& x) override { return tg::matmul(x, W) + b; }
    tg::Tensor W, b;
};

// Prints the test accuracy every `every` epochs (or steps, with `per_step`).
struct TestEvery : train::Callback {
    TestEvery(data::DataLoader& loader, int every, bool per_step) : loader(loader), every(every), per_step(per_step) {}
    void report(train::TrainContext& ctx, std::int64_t count) {
        if (every <= 0 || count % every != 0) return;
        const auto acc = train::evaluate(*ctx.model, loader, {train::accuracy()}).at("accuracy");
        std::printf("%s %lld: test acc %.4f\n", per_step ? "step" : "epoch", static_cast<long long>(count), acc);
        std::fflush(stdout);
    }
    void on_batch_end(train::TrainContext& ctx) override {
        if (per_step) report(ctx, ctx.global_step);
    }
    void on_epoch_end(train::TrainContext& ctx) override {
        if (!per_step) report(ctx, ctx.epoch + 1);
    }
    data::DataLoader& loader;
    int every;
    bool per_step;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Softmax regression on Fashion-MNIST (x·W + b, cross-entropy, gradient descent)"};
    examples::CommonFlags flags{.epochs = 10, .batch_size = 100};
    std::int64_t steps = 0;
    int eval_every = 0;
    examples::add_common_flags(app, flags, "shuffling and batches");
    auto* steps_opt = app.add_option("--steps", steps,
                                     "train on this many random batches instead of epochs")
                          ->check(CLI::PositiveNumber);
    examples::OptimizerFlags optimizer_flags(app, "sgd");
    app.add_option("--eval-every", eval_every,
                   "also report test accuracy every N epochs (N steps with --steps); 0: at the end only")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    optimizer_flags.resolve();
    const std::string& optimizer_name = optimizer_flags.name;
    const double lr = optimizer_flags.lr;
    const auto& [data_dir, epochs, batch_size, seed, logdir, workers] = flags;

    try {
        tg::manual_seed(seed);
        using data::datasets::FashionMNIST;
        using data::datasets::Split;
        const auto train_set = std::make_shared<FashionMNIST>(data_dir, Split::Train, tg::Shape{kPixels});
        const auto test_set = std::make_shared<FashionMNIST>(data_dir, Split::Test, tg::Shape{kPixels});
        std::printf("loaded %lld training and %lld test images from %s\n", static_cast<long long>(train_set->size()),
                    static_cast<long long>(test_set->size()), data_dir.c_str());

        data::DataLoaderOptions loader_options{.batch_size = batch_size, .shuffle = true, .seed = seed,
                                               .num_workers = workers};
        const bool by_steps = steps_opt->count() > 0;
        if (by_steps) {
            // The tutorial's recipe: each step draws a fresh random batch (with replacement),
            // all in one "epoch" of `steps` batches.
            const auto n = train_set->size();
            loader_options.sampler = [n, steps, batch = batch_size, seed0 = seed](std::int64_t epoch) {
                std::mt19937_64 rng(seed0 + static_cast<std::uint64_t>(epoch));
                std::uniform_int_distribution<std::int64_t> pick(0, n - 1);
                std::vector<std::int64_t> indices(static_cast<std::size_t>(steps * batch));
                for (auto& i : indices) i = pick(rng);
                return indices;
            };
        }
        data::DataLoader train_loader(train_set, loader_options);
        data::DataLoader test_loader(test_set, {.batch_size = 1000, .num_workers = workers});

        SoftmaxRegression model;
        const auto optimizer = examples::make_optimizer(optimizer_name, model.parameters(), lr);
        if (by_steps)
            std::printf("training %lld steps of %lld random examples, %s lr %g\n", static_cast<long long>(steps),
                        static_cast<long long>(batch_size), optimizer_name.c_str(), lr);
        else
            std::printf("training %d epochs of %lld shuffled batches of %lld, %s lr %g\n", epochs,
                        static_cast<long long>(train_loader.size()), static_cast<long long>(batch_size),
                        optimizer_name.c_str(), lr);

        // With --steps, the one long "epoch" reports ten times on the way.
        const auto options = examples::fit_options(
            by_steps ? 1 : epochs,
            {std::make_shared<train::ProgressBar>(std::cout, train::ProgressBar::Mode::Auto, by_steps ? 10 : 4),
             std::make_shared<TestEvery>(test_loader, eval_every, by_steps)},
            logdir);
        const auto loss_fn = [](const tg::Tensor& logits, const tg::Tensor& labels) {
            return F::cross_entropy(logits, labels);
        };
        train::fit(model, loss_fn, *optimizer, train_loader, options);
        examples::print_logdir(logdir);
        std::printf("test accuracy: %.4f\n", train::evaluate(model, test_loader, {train::accuracy()}).at("accuracy"));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
