// Parameter-free modules: the activations and Flatten.
#include <ostream>

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

Flatten::Flatten(const FlattenOptions& options_) : Module("Flatten"), options(options_) {}
Tensor Flatten::forward(const Tensor& input) {
    return flatten(input, options.start_dim(), options.end_dim());
}
void Flatten::pretty_print(std::ostream& os) const {
    os << "Flatten(start_dim=" << options.start_dim() << ", end_dim=" << options.end_dim() << ")";
}

}  // namespace tg::nn
