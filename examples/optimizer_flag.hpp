// The --optimizer flag shared by the Fashion-MNIST examples: a name picks one of the
// tg::optim classes, built over the parameters to train.
//
//   sgd       plain gradient descent, p -= lr * g
//   momentum  SGD with momentum 0.9 (buf = 0.9 * buf + g, p -= lr * buf)
//   rmsprop   RMSprop with libtorch's defaults (alpha 0.99, eps 1e-8)
//   adam      Adam (betas 0.9, 0.999)
//   adamw     AdamW (decoupled weight decay 1e-2)
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <tapegrad/tapegrad.hpp>

namespace examples {

inline std::vector<std::string> optimizer_names() {
    return {"sgd", "momentum", "rmsprop", "adam", "adamw"};
}

// --optimizer NAME and --lr RATE. Without --lr, each name has its own rate: sgd's is the
// TF-1 tutorial's; momentum 0.9 makes a step about ten times larger, so it starts ten
// times lower; the adaptive ones start at their papers' 1e-3.
struct OptimizerFlags {
    std::string name;
    double lr = 0.0;

    OptimizerFlags(CLI::App& app, std::string default_name) : name(std::move(default_name)) {
        lr_option_ = app.add_option("--lr", lr,
                                    "learning rate (default: sgd 0.1, momentum 0.01, rmsprop/adam/adamw 1e-3)")
                         ->check(CLI::PositiveNumber);
        app.add_option("--optimizer", name, "update rule")
            ->capture_default_str()
            ->check(CLI::IsMember(optimizer_names()));
    }
    // After parsing: the name's own rate unless --lr was given.
    void resolve() {
        static const std::map<std::string, double> default_lr = {
            {"sgd", 0.1}, {"momentum", 0.01}, {"rmsprop", 1e-3}, {"adam", 1e-3}, {"adamw", 1e-3}};
        if (lr_option_->count() == 0) lr = default_lr.at(name);
    }

private:
    CLI::Option* lr_option_ = nullptr;
};

inline std::unique_ptr<tg::optim::Optimizer> make_optimizer(const std::string& name,
                                                            std::vector<tg::Tensor> params,
                                                            double lr) {
    namespace optim = tg::optim;
    if (name == "sgd") return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions(lr));
    if (name == "momentum")
        return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions(lr).momentum(0.9));
    if (name == "rmsprop")
        return std::make_unique<optim::RMSprop>(std::move(params), optim::RMSpropOptions(lr));
    if (name == "adam") return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions(lr));
    if (name == "adamw")
        return std::make_unique<optim::AdamW>(std::move(params), optim::AdamWOptions(lr));
    throw std::invalid_argument("unknown optimizer '" + name + "'");
}

}  // namespace examples
