// TF-1's tf.layers functions in the variable-store style of tg::dense: each call opens the
// variable scope `name`, gets its variables there with tg::get_variable (so a scope with
// reuse shares them, and tg::global_variables() lists them under TF's names), and applies
// the layer. For TF-1 code ported line by line; new code may prefer tg::nn modules.
//
//   tg::variable_scope conv1("conv1");
//   auto h = tg::layers::conv2d(x, 32, {5, 5}, "conv2d", {.padding = tg::layers::Padding::Same,
//                                                         .activation = tg::relu});
//   h = tg::layers::batch_normalization(h, /*training=*/is_training);
//   h = tg::layers::max_pooling2d(h, {2, 2}, {2, 2});
//   h = tg::layers::dropout(h, 0.3, /*training=*/is_training);
//
// TF's defaults and layouts are kept: inputs are channels-last (NHWC) unless
// `.data_format = DataFormat::ChannelsFirst`; conv kernels are (kh, kw, in, out) named
// "kernel" (glorot_uniform), biases "bias" (zeros). Unlike TF-1, `training` has no default
// in batch_normalization and dropout: forgetting it was TF-1's classic bug.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/variable_store.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::layers {

using Padding = nn::functional::Padding;  // Valid (TF's default) or Same
using Activation = std::function<Tensor(const Tensor&)>;
enum class DataFormat { ChannelsLast, ChannelsFirst };  // NHWC (TF's default) or NCHW

using tg::dense;  // tf.layers.dense

// tf.layers.conv2d options, with TF's defaults.
struct Conv2dOptions {
    Shape strides = {1, 1};
    Padding padding = Padding::Valid;
    DataFormat data_format = DataFormat::ChannelsLast;
    Shape dilation_rate = {1, 1};
    Activation activation = {};
    bool use_bias = true;
    nn::init::Initializer kernel_initializer = {};  // empty: glorot_uniform (TF's default)
    nn::init::Initializer bias_initializer = {};    // empty: zeros
};
// tf.layers.conv2d(inputs, filters, kernel_size, ...): in scope `name`, kernel
// (kh, kw, in_channels, filters) and bias (filters). kernel_size / strides / dilation_rate
// take one entry for both dims or two. Input (N, H, W, C) or, channels-first, (N, C, H, W);
// the output has the same layout.
Tensor conv2d(const Tensor& inputs, std::int64_t filters, const Shape& kernel_size,
              const std::string& name = "conv2d", const Conv2dOptions& options = {});

// tf.layers.max_pooling2d(inputs, pool_size, strides, padding, data_format): no variables.
Tensor max_pooling2d(const Tensor& inputs, const Shape& pool_size, const Shape& strides,
                     Padding padding = Padding::Valid, DataFormat data_format = DataFormat::ChannelsLast);

// tf.layers.batch_normalization options, with TF's defaults (note TF's momentum is the
// weight of the old moving average: moving = momentum * moving + (1 - momentum) * batch).
struct BatchNormalizationOptions {
    std::int64_t axis = -1;  // the channel axis: -1 for NHWC and (N, C), 1 for NCHW
    double momentum = 0.99;
    double epsilon = 1e-3;
    bool center = true;  // beta
    bool scale = true;   // gamma
};
// tf.layers.batch_normalization: in scope `name`, gamma (ones) and beta (zeros), trainable,
// and moving_mean (zeros) and moving_variance (ones), not trainable. training = true:
// normalise with the batch's statistics (biased variance) and update the moving ones in
// place, now (TF-1 left that to UPDATE_OPS, which had to be run by hand; here there is
// nothing to forget); the moving variance takes the unbiased batch variance, as TF's fused
// kernel (its default for 4-D inputs). training = false: normalise with the moving ones.
Tensor batch_normalization(const Tensor& inputs, bool training, const std::string& name = "batch_normalization",
                           const BatchNormalizationOptions& options = {});

// tf.layers.dropout(inputs, rate, training): zeroes each element with probability `rate`
// and scales the others by 1 / (1 - rate) when training; the identity otherwise. (TF-1's
// tf.nn.dropout took keep_prob = 1 - rate.)
Tensor dropout(const Tensor& inputs, double rate, bool training);

}  // namespace tg::layers

TG_PUBLIC_END
