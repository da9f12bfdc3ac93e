// nn::Linear: the dense layer over functional::linear.
#include <cmath>
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

Linear::Linear(const LinearOptions& options_) : Module("Linear"), options(options_) {
    TG_CHECK(options.in_features() > 0 && options.out_features() > 0, "Linear",
             "in_features and out_features must be positive, got {} and {}",
             options.in_features(), options.out_features());
    weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
    if (options.bias()) bias = register_parameter("bias", empty({options.out_features()}));
    reset_parameters();
}

void Linear::reset_parameters() {
    if (options.weight_init())
        options.weight_init()(weight);
    else
        init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (!bias.defined()) return;
    if (options.bias_init()) {
        options.bias_init()(bias);
    } else {
        const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
        init::uniform_(bias, -bound, bound);
    }
}

Tensor Linear::forward(const Tensor& input) { return functional::linear(input, weight, bias); }

void Linear::pretty_print(std::ostream& os) const {
    os << "Linear(in_features=" << options.in_features()
       << ", out_features=" << options.out_features()
       << ", bias=" << (options.bias() ? "true" : "false") << ")";
}

}  // namespace tg::nn
