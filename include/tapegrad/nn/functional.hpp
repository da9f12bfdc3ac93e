// tg::nn::functional: losses and layer functions (libtorch's torch::nn::functional).
#pragma once

#include <cstdint>

#include "tapegrad/ops.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn::functional {

enum class Reduction { None, Mean, Sum };

using tg::log_softmax;
using tg::one_hot;
using tg::relu;
using tg::sigmoid;
using tg::softmax;
using tg::tanh;
using tg::elu;

// TF-1's tf.nn.softmax_cross_entropy_with_logits: labels are one-hot or probability rows
// with the logits' shape (N, C); returns the per-example loss (N) unless reduced.
// Stable for logits of any magnitude (log-sum-exp).
Tensor softmax_cross_entropy_with_logits(const Tensor& logits, const Tensor& labels,
                                         Reduction reduction = Reduction::None);
// libtorch's cross_entropy: logits (N, C) and int64 class indices (N) in [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     Reduction reduction = Reduction::Mean);
// Negative log-likelihood of log-probabilities (N, C) at int64 class indices (N).
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets,
                Reduction reduction = Reduction::Mean);

}  // namespace tg::nn::functional
