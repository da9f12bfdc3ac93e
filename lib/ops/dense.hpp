// Internal to the ops: the one dense op behind tg::addmm, nn::functional::linear and
// nn::functional::gate_linear (lib/ops/linalg.cpp), and the recurrent step's variant whose
// weight gradient is gathered over a whole sequence (lib/ops/rnn.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "tapegrad/tensor.hpp"

namespace tg::detail {

// How the dense op reads its weight: as given, (K, G) like addmm's mat2, or a layer's
// (G, K) = (out_features, in_features) weight used transposed (no copy either way).
enum class WeightLayout { InOut, OutIn };

// Forms the weight's gradient from the output gradient g (N, G) and the saved input x
// (N, K); an empty function means the plain product (g^T x, or x^T g for InOut).
using WeightGradFn = std::function<Tensor(const Tensor& g, const Tensor& x)>;

// out (N, G) = beta * (bias + add) + alpha * x @ W, W = weight or weight^T per `layout`.
// bias and add are optional (undefined) and broadcast to (N, G). They are written into the
// output first and one GEMM accumulates onto them, so the op costs one GEMM and no
// temporaries. The backward is written with tapegrad ops (double backward works); the
// recorded inputs are (bias, x, weight) for InOut (addmm's order) and (x, weight, bias,
// add) for OutIn, undefined ones left out. The caller has checked shapes and dtypes.
Tensor dense(std::string_view op, const Tensor& x, const Tensor& weight, WeightLayout layout, const Tensor& bias,
             const Tensor& add = {}, double beta = 1.0, double alpha = 1.0, WeightGradFn weight_grad = {});

// The per-step gradients of a weight shared by every step of a sequence, gathered so that
// its gradient is one GEMM over all steps instead of T GEMMs whose T results the engine
// would add one by one.
struct StepWeightGrads;
std::shared_ptr<StepWeightGrads> make_step_weight_grads();

// gate_linear(input, weight, bias, add) for one step of a sequence. The first call with a
// `grads` object records the node the backward runs last (every later step feeds its
// input, so runs before it: the engine runs a node after all its consumers); that node
// returns the weight's whole gradient, the others only deposit theirs. Under create_graph
// every step returns its own weight gradient (plain gate_linear).
Tensor step_gate_linear(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& add,
                        const std::shared_ptr<StepWeightGrads>& grads);

}  // namespace tg::detail
