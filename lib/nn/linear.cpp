// nn::Linear: the dense layer over functional::linear.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "nn/layer_init.hpp"
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
    init::reset_layer_parameters(weight, bias, options.weight_init(), options.bias_init());
}

Tensor Linear::forward(const Tensor& input) { return functional::linear(input, weight, bias); }

void Linear::pretty_print(std::ostream& os) const {
    os << "Linear(in_features=" << options.in_features()
       << ", out_features=" << options.out_features()
       << ", bias=" << (options.bias() ? "true" : "false") << ")";
}

}  // namespace tg::nn
