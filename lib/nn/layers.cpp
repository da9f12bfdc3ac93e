// TF-1's tf.layers functions (conv2d, max_pooling2d, batch_normalization, dropout) on top
// of tg::get_variable and the functional ops. TF keeps images channels-last and conv
// kernels as (kh, kw, in, out); the ops here are NCHW with (out, in, kh, kw) weights, so each
// layer permutes on the way in and out, and the variables keep TF's layout and names.
#include "tapegrad/layers.hpp"

#include <vector>

#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::layers {

namespace F = nn::functional;

namespace {

// TF accepts one number for both spatial dims or one per dim.
Shape two_dims(const Shape& s, std::string_view op, std::string_view what) {
    TG_CHECK(s.size() == 1 || s.size() == 2, op, "{} takes 1 or 2 entries, got {}", what, s);
    return s.size() == 1 ? Shape{s[0], s[0]} : s;
}

void check_image_batch(const Tensor& inputs, DataFormat format, std::string_view op) {
    detail::check_defined(inputs, op);
    detail::check_floating(inputs, op);
    TG_CHECK(inputs.dim() == 4, op, "expected a 4-D input ({}), got shape {}",
             format == DataFormat::ChannelsLast ? "N, H, W, C" : "N, C, H, W", inputs.sizes());
}

Tensor to_nchw(const Tensor& t, DataFormat format) {
    return format == DataFormat::ChannelsLast ? t.permute({0, 3, 1, 2}) : t;
}

Tensor from_nchw(const Tensor& t, DataFormat format) {
    return format == DataFormat::ChannelsLast ? t.permute({0, 2, 3, 1}) : t;
}

}  // namespace

Tensor conv2d(const Tensor& inputs, std::int64_t filters, const Shape& kernel_size, const std::string& name,
              const Conv2dOptions& options) {
    constexpr std::string_view op = "layers::conv2d";
    check_image_batch(inputs, options.data_format, op);
    TG_CHECK(filters > 0, op, "filters must be positive, got {}", filters);
    const Shape kernel = two_dims(kernel_size, op, "kernel_size");
    const Shape strides = two_dims(options.strides, op, "strides");
    const Shape dilation = two_dims(options.dilation_rate, op, "dilation_rate");
    const Tensor x = to_nchw(inputs, options.data_format);
    variable_scope scope(name);
    const Tensor kernel_var = get_variable("kernel", {kernel[0], kernel[1], x.size(1), filters},
                                           options.kernel_initializer, inputs.dtype());
    Tensor bias;
    if (options.use_bias)
        bias = get_variable("bias", {filters},
                            options.bias_initializer ? options.bias_initializer : nn::init::zeros(), inputs.dtype());
    // (kh, kw, in, out) -> (out, in, kh, kw); the copy is recorded, so the gradient reaches
    // the kernel variable in TF's layout.
    const Tensor weight = kernel_var.permute({3, 2, 0, 1}).contiguous();
    Tensor y = F::conv2d(x, weight, bias, strides, options.padding, dilation);
    if (options.activation) y = options.activation(y);
    return from_nchw(y, options.data_format);
}

Tensor max_pooling2d(const Tensor& inputs, const Shape& pool_size, const Shape& strides, Padding padding,
                     DataFormat data_format) {
    constexpr std::string_view op = "layers::max_pooling2d";
    check_image_batch(inputs, data_format, op);
    const Tensor y = F::max_pool2d(to_nchw(inputs, data_format), two_dims(pool_size, op, "pool_size"),
                                   two_dims(strides, op, "strides"), padding);
    return from_nchw(y, data_format);
}

Tensor batch_normalization(const Tensor& inputs, bool training, const std::string& name,
                           const BatchNormalizationOptions& options) {
    constexpr std::string_view op = "layers::batch_normalization";
    detail::check_defined(inputs, op);
    detail::check_floating(inputs, op);
    TG_CHECK(inputs.dim() == 2 || inputs.dim() == 4, op,
             "expected an input of shape (N, C) or a 4-D image batch, got {}", inputs.sizes());
    TG_CHECK(options.momentum >= 0 && options.momentum <= 1, op, "momentum must be in [0, 1], got {}",
             options.momentum);
    TG_CHECK(options.epsilon > 0, op, "epsilon must be positive, got {}", options.epsilon);
    const std::int64_t axis = detail::wrap_dim(options.axis, inputs.sizes(), op);
    const std::int64_t channels = inputs.size(axis);
    variable_scope scope(name);
    const Dtype dtype = inputs.dtype();
    const Tensor gamma = options.scale ? get_variable("gamma", {channels}, nn::init::ones(), dtype) : Tensor();
    const Tensor beta = options.center ? get_variable("beta", {channels}, nn::init::zeros(), dtype) : Tensor();
    const Tensor moving_mean = get_variable("moving_mean", {channels}, nn::init::zeros(), dtype, false);
    const Tensor moving_variance = get_variable("moving_variance", {channels}, nn::init::ones(), dtype, false);
    // batch_norm normalises per dim 1: bring `axis` there and back.
    Shape perm{axis == 0 ? 1 : 0, axis};
    for (std::int64_t d = 0; d < inputs.dim(); ++d)
        if (d != perm[0] && d != axis) perm.push_back(d);
    Shape inverse(perm.size(), 0);
    for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
    const bool moved = axis != 1;
    const Tensor x = moved ? inputs.permute(perm) : inputs;
    // TF's momentum weighs the old average; batch_norm's weighs the batch.
    const Tensor y = F::batch_norm(x, moving_mean, moving_variance, gamma, beta, training, 1.0 - options.momentum,
                                   options.epsilon);
    return moved ? y.permute(inverse) : y;
}

Tensor dropout(const Tensor& inputs, double rate, bool training) {
    constexpr std::string_view op = "layers::dropout";
    detail::check_defined(inputs, op);
    TG_CHECK(rate >= 0 && rate < 1, op, "rate must be in [0, 1), got {} (TF-1's keep_prob is 1 - rate)", rate);
    return F::dropout(inputs, rate, training);
}

}  // namespace tg::layers
