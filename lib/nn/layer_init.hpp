// The default initialisation shared by the weight-and-bias layers (Linear, Conv2d).
#pragma once

#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn::init {

// libtorch's defaults unless the layer's options name other initializers: the weight
// kaiming_uniform(a = sqrt(5)), the bias (when defined) uniform(±1/sqrt(fan_in)).
void reset_layer_parameters(Tensor& weight, Tensor& bias, const Initializer& weight_init,
                            const Initializer& bias_init);

}  // namespace tg::nn::init
