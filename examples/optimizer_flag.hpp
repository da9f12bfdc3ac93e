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

#include <tapegrad/tapegrad.hpp>

namespace examples {

// Names accepted by --optimizer, each with the learning rate an example uses when --lr is
// not given (the examples pass their own table: a good rate depends on the model).
using DefaultLearningRates = std::map<std::string, double>;

inline std::vector<std::string> optimizer_names() {
    return {"sgd", "momentum", "rmsprop", "adam", "adamw"};
}

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
