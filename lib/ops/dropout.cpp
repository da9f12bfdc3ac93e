// Inverted dropout: the scaling happens at training time, so eval is the identity.
// Written with tapegrad ops (a mask times the input): its backward is g * mask, and the
// mask comes from tg's seeded generator (tg::manual_seed makes runs repeat).
#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/trace.hpp"

namespace tg::nn::functional {

Tensor dropout(const Tensor& input, double p, bool training) {
    detail::check_defined(input, "dropout");
    TG_CHECK(p >= 0.0 && p <= 1.0, "dropout", "probability p must be in [0, 1], got {}", p);
    detail::check_floating(input, "dropout");
    if (!training || p == 0.0) return input;
    if (p == 1.0) return input * zeros(input.sizes(), input.dtype());  // every element dropped; gradient 0
    // mask = bernoulli(1 - p) / (1 - p): survivors are scaled so E[out] = input.
    Tensor mask = bernoulli(input.sizes(), 1.0 - p, input.dtype());
    mask.mul_(1.0 / (1.0 - p));
    Tensor out = input * mask;
    TG_TRACE("dropout", {input}, out, {{"p", p}, {"training", training}});
    return out;
}

}  // namespace tg::nn::functional
