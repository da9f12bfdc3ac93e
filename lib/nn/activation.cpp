// Parameter-free modules: the activations and Flatten.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tapegrad/ops.hpp"

namespace tg::nn {

void ElementwiseActivation::pretty_print(std::ostream& os) const { os << type_name() << "()"; }

ReLU::ReLU() : ElementwiseActivation("ReLU", relu) {}

Sigmoid::Sigmoid() : ElementwiseActivation("Sigmoid", sigmoid) {}

Tanh::Tanh() : ElementwiseActivation("Tanh", tanh) {}

ELU::ELU(const ELUOptions& options_) : Module("ELU"), options(options_) {}
Tensor ELU::forward(const Tensor& input) { return elu(input, options.alpha()); }
void ELU::pretty_print(std::ostream& os) const { os << "ELU(alpha=" << options.alpha() << ")"; }

GELU::GELU(const GELUOptions& options_) : Module("GELU"), options(options_) {
    (void)gelu(zeros({0}), options.approximate());  // a bad approximate throws here, not at forward
}
Tensor GELU::forward(const Tensor& input) { return gelu(input, options.approximate()); }
void GELU::pretty_print(std::ostream& os) const { os << "GELU(approximate=" << options.approximate() << ")"; }

Hardtanh::Hardtanh(const HardtanhOptions& options_) : Module("Hardtanh"), options(options_) {
    (void)hardtanh(zeros({0}), options.min_val(), options.max_val());  // checks min_val < max_val
}
Tensor Hardtanh::forward(const Tensor& input) { return hardtanh(input, options.min_val(), options.max_val()); }
void Hardtanh::pretty_print(std::ostream& os) const {
    os << "Hardtanh(min_val=" << options.min_val() << ", max_val=" << options.max_val() << ")";
}

SiLU::SiLU() : ElementwiseActivation("SiLU", silu) {}

ReLU6::ReLU6() : ElementwiseActivation("ReLU6", relu6) {}

SELU::SELU() : ElementwiseActivation("SELU", selu) {}

Softsign::Softsign() : ElementwiseActivation("Softsign", softsign) {}

Hardsigmoid::Hardsigmoid() : ElementwiseActivation("Hardsigmoid", hardsigmoid) {}

Flatten::Flatten(const FlattenOptions& options_) : Module("Flatten"), options(options_) {}
Tensor Flatten::forward(const Tensor& input) {
    return flatten(input, options.start_dim(), options.end_dim());
}
void Flatten::pretty_print(std::ostream& os) const {
    os << "Flatten(start_dim=" << options.start_dim() << ", end_dim=" << options.end_dim() << ")";
}

}  // namespace tg::nn
