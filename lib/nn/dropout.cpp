// nn::Dropout over functional::dropout: inverted dropout while training, identity in eval.
#include <ostream>

#include "tapegrad/nn/modules.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

Dropout::Dropout(const DropoutOptions& options_) : Module("Dropout"), options(options_) {
    TG_CHECK(options.p() >= 0.0 && options.p() <= 1.0, "Dropout",
             "probability p must be in [0, 1], got {}", options.p());
}

Tensor Dropout::forward(const Tensor& input) {
    return functional::dropout(input, options.p(), is_training());
}

void Dropout::pretty_print(std::ostream& os) const { os << "Dropout(p=" << options.p() << ")"; }

}  // namespace tg::nn
