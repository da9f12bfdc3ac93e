// Parameter-free modules: the activations and Flatten.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tapegrad/ops.hpp"

namespace tg::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }
void ReLU::pretty_print(std::ostream& os) const { os << "ReLU()"; }

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }
void Sigmoid::pretty_print(std::ostream& os) const { os << "Sigmoid()"; }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }
void Tanh::pretty_print(std::ostream& os) const { os << "Tanh()"; }

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

Tensor SiLU::forward(const Tensor& input) { return silu(input); }
void SiLU::pretty_print(std::ostream& os) const { os << "SiLU()"; }

Tensor ReLU6::forward(const Tensor& input) { return relu6(input); }
void ReLU6::pretty_print(std::ostream& os) const { os << "ReLU6()"; }

Tensor SELU::forward(const Tensor& input) { return selu(input); }
void SELU::pretty_print(std::ostream& os) const { os << "SELU()"; }

Tensor Softsign::forward(const Tensor& input) { return softsign(input); }
void Softsign::pretty_print(std::ostream& os) const { os << "Softsign()"; }

Tensor Hardsigmoid::forward(const Tensor& input) { return hardsigmoid(input); }
void Hardsigmoid::pretty_print(std::ostream& os) const { os << "Hardsigmoid()"; }

Flatten::Flatten(const FlattenOptions& options_) : Module("Flatten"), options(options_) {}
Tensor Flatten::forward(const Tensor& input) {
    return flatten(input, options.start_dim(), options.end_dim());
}
void Flatten::pretty_print(std::ostream& os) const {
    os << "Flatten(start_dim=" << options.start_dim() << ", end_dim=" << options.end_dim() << ")";
}

}  // namespace tg::nn
