// tg::nn::functional: losses and layer functions (libtorch's torch::nn::functional).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tapegrad/ops.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn::functional {

enum class Reduction { None, Mean, Sum };

using tg::log_softmax;
using tg::one_hot;
using tg::relu;
using tg::sigmoid;
using tg::softmax;
using tg::tanh;
using tg::elu;
using tg::gelu;
using tg::hardsigmoid;
using tg::hardtanh;
using tg::relu6;
using tg::selu;
using tg::silu;
using tg::softsign;
using tg::softplus;
using tg::logsigmoid;
using tg::hardswish;
using tg::mish;
using tg::cosine_similarity;
using tg::pairwise_distance;

// libtorch's F::normalize / TF-1's tf.nn.l2_normalize: input / max(||input||_p, eps), the
// p-norm taken along `dim` (kept for broadcasting). p > 0, INFINITY allowed.
Tensor normalize(const Tensor& input, double p = 2.0, std::int64_t dim = 1, double eps = 1e-12);

// TF-1's tf.nn.softmax_cross_entropy_with_logits: labels are one-hot or probability
// distributions with the logits' shape, classes along `axis` (TF's default: the last dim),
// any rank; returns the loss per position without the class axis ((N) for (N, C) logits)
// unless reduced. Stable for logits of any magnitude (log-sum-exp).
Tensor softmax_cross_entropy_with_logits(const Tensor& logits, const Tensor& labels,
                                         Reduction reduction = Reduction::None, std::int64_t axis = -1);
// libtorch's cross_entropy: logits (N, C) and int64 class indices (N) in [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     Reduction reduction = Reduction::Mean);
// Negative log-likelihood of log-probabilities (N, C) at int64 class indices (N).
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets,
                Reduction reduction = Reduction::Mean);


// ==== Layer ops (nnops: lib/ops/conv.cpp, pool.cpp, norm.cpp, dropout.cpp, embedding.cpp) ====
// The functional forms behind the nn modules. Every op is differentiable in each tensor
// argument, and its backward is itself recorded (double backward works).
// Size arguments (stride, padding, dilation, kernel) take one value for both spatial
// dims ({2}) or one per dim ({height, width}).

// y = input @ weight^T + bias. weight is (out, in) like libtorch; input is (in), (N, in)
// or (..., in); bias (out) is optional. conv2d and linear are the two GEMM-backed layers.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});

// TF-1 padding modes. Valid: no padding. Same: out = ceil(in / stride); the total padding
// max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0) is split with the odd pixel on
// the bottom/right, like TensorFlow (so it can be asymmetric).
enum class Padding { Valid, Same };

// Explicit per-side padding of a 2-D op.
struct Padding2d {
    std::int64_t top = 0, bottom = 0, left = 0, right = 0;
};
// The per-side padding TF uses for `mode` on an input of `in_h` x `in_w`.
Padding2d tf_padding(Padding mode, std::int64_t in_h, std::int64_t in_w, const Shape& kernel,
                     const Shape& stride, const Shape& dilation = {1, 1});

// 2-D cross-correlation (libtorch's conv2d): input (N, C, H, W), weight (O, C / groups, kh, kw),
// optional bias (O) -> (N, O, OH, OW) with
// OH = (H + 2 * pad_h - dilation_h * (kh - 1) - 1) / stride_h + 1. NCHW, float32/float64.
// groups splits the channels into groups convolved separately (C and O divisible by it):
// input channels [g * C / groups, (g + 1) * C / groups) feed output channels
// [g * O / groups, (g + 1) * O / groups); groups = C is a depthwise convolution
// (tf.nn.depthwise_conv2d with channel multiplier O / C).
// im2col + one GEMM per group over the whole batch (chunked when the columns would be large).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, const Shape& stride = {1, 1},
              const Shape& padding = {0, 0}, const Shape& dilation = {1, 1}, std::int64_t groups = 1);
// TF-1's tf.nn.conv2d / tf.layers.conv2d padding="valid" / "same" (still NCHW).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
              Padding padding, const Shape& dilation = {1, 1}, std::int64_t groups = 1);

// libtorch's unfold (im2col as an op): input (N, C, H, W) or (C, H, W) -> (N, C * kh * kw, L)
// (or (C * kh * kw, L)), L = OH * OW the sliding-window positions of conv2d's geometry; row
// (c * kh + i) * kw + j holds channel c at kernel cell (i, j). tf.image.extract_patches is
// unfold followed by a permute to (N, OH, OW, kh * kw * C) (TF orders the patch (i, j, c)).
Tensor unfold(const Tensor& input, const Shape& kernel_size, const Shape& dilation = {1, 1},
              const Shape& padding = {0, 0}, const Shape& stride = {1, 1});
// libtorch's fold (col2im), unfold's adjoint: (N, C * kh * kw, L) or (C * kh * kw, L) ->
// (N, C, OH, OW) (or (C, OH, OW)) for output_size {OH, OW}, summing the values that land on
// the same cell. L must equal the number of windows of that geometry.
Tensor fold(const Tensor& input, const Shape& output_size, const Shape& kernel_size, const Shape& dilation = {1, 1},
            const Shape& padding = {0, 0}, const Shape& stride = {1, 1});

// Max over each window of (N, C, H, W) (or (C, H, W)); stride defaults to the kernel.
// Padded cells never win (they are -inf); like libtorch, padding <= kernel / 2.
// The gradient goes to the first maximal element of each window. ceil_mode rounds the
// output size up (out = ceil((in + 2 * pad - kernel) / stride) + 1), keeping a last window
// only when it starts inside the input or the left padding, as libtorch does. dilation
// spaces the window's cells (a k x k window spans dilation * (k - 1) + 1 rows).
Tensor max_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride = {},
                  const Shape& padding = {0, 0}, const Shape& dilation = {1, 1}, bool ceil_mode = false);
// TF-1's tf.nn.max_pool / tf.layers.max_pooling2d with padding "valid" / "same".
Tensor max_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding);

// Mean over each window. count_include_pad = true (libtorch's default) divides by the
// full window size, zeros of the padding included; false divides by the cells inside the
// input only. Windows are clipped to the padded input. ceil_mode as max_pool2d; a window
// that reaches past the padded input divides by its part inside it (libtorch's rule).
Tensor avg_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride = {},
                  const Shape& padding = {0, 0}, bool ceil_mode = false, bool count_include_pad = true);
// TF-1's tf.nn.avg_pool padding "valid" / "same": TF averages over the cells inside the
// input only (count_include_pad = false).
Tensor avg_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding);

// Inverted dropout: zeroes each element with probability p and scales the survivors by
// 1 / (1 - p), so the expectation is unchanged. The identity when !training or p == 0;
// zeros when p == 1. Draws from tg's seeded generator (tg::manual_seed repeats a run).
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true);

// Batch normalisation over (N, C) or (N, C, H, W) (statistics per channel C).
// training: normalise with the batch mean and biased variance, and, when the running
// tensors are defined, update them in place (not recorded):
//   running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//   running_var  = (1 - momentum) * running_var  + momentum * unbiased batch variance
// eval: normalise with running_mean / running_var (undefined running tensors: batch stats).
// weight (gamma) and bias (beta), shape (C), may be undefined (no affine transform).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);

// Rows of weight (V, D) picked by int64 indices of any shape: result indices.shape + [D].
// The gradient for weight adds up the rows of every occurrence of an index.
Tensor embedding(const Tensor& indices, const Tensor& weight);

// ==== Padding (lib/ops/pad.cpp) ====
// How pad fills: Constant with `value`; Reflect mirrors without repeating the edge
// ([1 2 3] by 2 -> 3 2 [1 2 3] 2 1); Replicate repeats the edge; Circular wraps around;
// Symmetric (TF's SYMMETRIC, not in libtorch) mirrors including the edge (2 1 [1 2 3] 3 2).
enum class PadMode { Constant, Reflect, Replicate, Circular, Symmetric };
// libtorch's F::pad / tf.pad: `pad` lists (before, after) pairs starting from the LAST dim:
// {left, right} pads dim -1, {left, right, top, bottom} also dim -2, and so on (at most
// 2 * rank entries, an even count). Negative amounts crop. Reflect needs every pad < the dim
// size, Circular and Symmetric <= it, Replicate a non-empty dim. Any dims, any mode.
Tensor pad(const Tensor& input, const Shape& pad, PadMode mode = PadMode::Constant, double value = 0.0);

// ==== Layers a TF-1 course uses (layers: lib/ops/norm.cpp, conv.cpp, pool.cpp) ====
// libtorch's layer_norm: normalises over the last normalized_shape.size() dims of input
// (which must equal normalized_shape) with the mean and biased variance of those dims, then
// scales by weight and shifts by bias (both of shape normalized_shape, each optional):
//   y = (x - mean) / sqrt(var + eps) * weight + bias
// One fused kernel forward (statistics in double) and one fused backward; under
// create_graph the backward is written with tapegrad ops (double backward works).
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

// libtorch's conv_transpose2d, the adjoint of conv2d: input (N, C_in, H, W), weight
// (C_in, C_out / groups, kh, kw) (libtorch's layout: the conv2d weight it is the transpose
// of), optional bias (C_out) -> (N, C_out, OH, OW) with
//   OH = (H - 1) * stride_h - 2 * pad_h + dilation_h * (kh - 1) + output_padding_h + 1.
// output_padding (< stride) adds rows/columns at the bottom/right only. groups as conv2d
// (C_in divisible by it). Forward: a GEMM per group + col2im (conv2d's input gradient);
// backward: im2col + GEMM (conv2d's forward and weight gradient), so double backward works.
// Argument order as ATen's torch::conv_transpose2d: groups before dilation.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
                        const Shape& stride = {1, 1}, const Shape& padding = {0, 0},
                        const Shape& output_padding = {0, 0}, std::int64_t groups = 1,
                        const Shape& dilation = {1, 1});

// Nearest-neighbour upsampling of (N, C, H, W) or (C, H, W) (libtorch's interpolate with
// mode "nearest", TF-1's tf.image.resize_nearest_neighbor without align_corners):
// output cell o reads input cell min(floor(o * scale), in - 1), scale = in / out for a
// given size, 1 / scale_factor for given factors. Size: {OH, OW} or {S} for both.
Tensor upsample_nearest2d(const Tensor& input, const Shape& output_size);
// Scale factors (> 0) for height and width: out = floor(in * factor).
Tensor upsample_nearest2d(const Tensor& input, double scale_h, double scale_w);

// libtorch's adaptive_avg_pool2d: (N, C, H, W) or (C, H, W) -> output_size {OH, OW} (or {S})
// where output cell i averages input rows [floor(i * H / OH), ceil((i + 1) * H / OH)) (and
// likewise columns): windows of unequal size and overlapping when H is not a multiple of
// OH. output_size {1} is global average pooling (tf.reduce_mean(x, [2, 3], keepdims)).
Tensor adaptive_avg_pool2d(const Tensor& input, const Shape& output_size);

// ==== Regression and probabilistic losses (lib/ops/loss.cpp) ====
// Elementwise losses take input and target of exactly the same shape and floating dtype
// (no broadcasting between them: a mismatch throws naming the op and both shapes).
// Reduction::Mean averages over every element, Sum adds them, None keeps the input's shape.
// All are compositions of differentiable ops, so they are differentiable in both arguments.

// libtorch's label-smoothed cross_entropy: with ε = label_smoothing in [0, 1],
// loss_i = (1 - ε) * nll_i + ε * mean_j(-log_softmax(logits)_ij). ε = 0 is cross_entropy.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction,
                     double label_smoothing);
// (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// |input - target| (the gradient at input == target is 0, like libtorch).
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// libtorch's huber_loss, d = input - target, delta > 0:
// 0.5 * d^2 where |d| < delta, delta * (|d| - 0.5 * delta) elsewhere.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);
// libtorch's smooth_l1_loss, beta >= 0 (beta = 0 is l1_loss):
// 0.5 * d^2 / beta where |d| < beta, |d| - 0.5 * beta elsewhere (= huber_loss / beta).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// TF-1's tf.losses.hinge_loss: labels are 0 or 1 (any other value throws), mapped to -1/+1:
// max(0, 1 - (2 * labels - 1) * logits).
Tensor hinge_loss(const Tensor& logits, const Tensor& labels, Reduction reduction = Reduction::Mean);
// libtorch's hinge_embedding_loss on labels -1 or 1 (any other value throws): input where
// the label is 1, max(0, margin - input) where it is -1.
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& labels,
                            Reduction reduction = Reduction::Mean, double margin = 1.0);
// tf.nn.sigmoid_cross_entropy_with_logits / libtorch's binary_cross_entropy_with_logits:
// max(x, 0) - x * t + log1p(exp(-|x|)), stable for logits of any magnitude.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::Mean);
// libtorch's kl_div (log_target = false): target * (log(target) - input), 0 where
// target == 0. input holds log-probabilities, target probabilities. Mean averages over
// every element (libtorch's "mean", not "batchmean").
Tensor kl_div(const Tensor& input_log_probs, const Tensor& target_probs,
              Reduction reduction = Reduction::Mean);

// libtorch's binary_cross_entropy on probabilities in [0, 1] (anything else throws): each
// log is clamped at -100, so inputs of exactly 0 or 1 give finite losses and gradients.
// weight (optional) broadcasts to the input's shape and is not differentiated.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            Reduction reduction = Reduction::Mean);
// max(0, -target * (input1 - input2) + margin); target holds 1 or -1 (all three of one shape).
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                           Reduction reduction = Reduction::Mean);
// Inputs (N, D) or (D), target (N) or () of 1 or -1 (anything else throws): 1 - cos(x1, x2)
// where the target is 1, max(0, cos - margin) where it is -1.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                             Reduction reduction = Reduction::Mean);
// max(0, margin + d(anchor, positive) - d(anchor, negative)), d = pairwise_distance(p, eps);
// swap takes min(d(a, n), d(p, n)) as the negative distance.
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           double margin = 1.0, double p = 2.0, double eps = 1e-6, bool swap = false,
                           Reduction reduction = Reduction::Mean);

// ==== Group and instance normalisation (lib/ops/norm.cpp) ====
// libtorch's group_norm: input (N, C, *), channels split into num_groups groups (which must
// divide C), each sample's group normalised with its mean and biased variance, then
// weight/bias (C, optional) per channel.
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// libtorch's instance_norm: input (N, C, L) or (N, C, H, W), each (sample, channel)
// normalised over its spatial positions when use_input_stats; running_mean/running_var (C,
// optional) are then updated with the batch average of the per-instance statistics
// (momentum as batch_norm). use_input_stats = false normalises with the running statistics.
Tensor instance_norm(const Tensor& input, const Tensor& running_mean = {}, const Tensor& running_var = {},
                     const Tensor& weight = {}, const Tensor& bias = {}, bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);

// ==== Resizing (lib/ops/interpolate.cpp) ====
enum class InterpolateMode { Nearest, Bilinear };
// libtorch's InterpolateFuncOptions: exactly one of size ({OH, OW} or {S}) and scale_factor
// ({h, w} or {s}: out = floor(in * s)); align_corners only for Bilinear.
class InterpolateFuncOptions {
public:
    InterpolateFuncOptions& size(const Shape& s) {
        size_ = s;
        return *this;
    }
    InterpolateFuncOptions& scale_factor(const std::vector<double>& s) {
        scale_factor_ = s;
        return *this;
    }
    InterpolateFuncOptions& mode(InterpolateMode m) {
        mode_ = m;
        return *this;
    }
    InterpolateFuncOptions& align_corners(bool on) {
        align_corners_ = on;
        return *this;
    }
    const std::optional<Shape>& size() const { return size_; }
    const std::optional<std::vector<double>>& scale_factor() const { return scale_factor_; }
    InterpolateMode mode() const { return mode_; }
    const std::optional<bool>& align_corners() const { return align_corners_; }

private:
    std::optional<Shape> size_;
    std::optional<std::vector<double>> scale_factor_;
    InterpolateMode mode_ = InterpolateMode::Nearest;
    std::optional<bool> align_corners_;
};
// (N, C, H, W) resized. Nearest: upsample_nearest2d. Bilinear: libtorch's source coordinate
// src = o * (in - 1) / (out - 1) with align_corners, else (o + 0.5) * scale - 0.5 clamped at
// 0 (scale = 1 / scale_factor when given, in / out otherwise), blending the two neighbours.
Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& options);

}  // namespace tg::nn::functional

TG_PUBLIC_END
