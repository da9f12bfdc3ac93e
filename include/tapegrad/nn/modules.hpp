// Layers as modules (libtorch's torch::nn layers). Each wraps the functional op of the same
// name in tg::nn::functional and owns its parameters; options classes have chainable setters:
//
//   tg::nn::Linear fc(tg::nn::LinearOptions(784, 10).bias(false));
//   auto conv = std::make_shared<tg::nn::Conv2d>(
//       tg::nn::Conv2dOptions(1, 32, 5).stride(1).padding(tg::nn::Padding::Same));
//   tg::nn::Linear dense(tg::nn::LinearOptions(64, 10).weight_init(tg::nn::init::xavier_uniform()));
//
// Default initialisation is libtorch's: weights kaiming_uniform_(a = sqrt(5)) (a bound of
// 1/sqrt(fan_in)), biases uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); BatchNorm weight 1 and
// bias 0; Embedding normal(0, 1). `weight_init` / `bias_init` replace the default.
// reset_parameters() draws them again.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <vector>
#include <string>
#include <utility>

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::detail {
// {k} -> {k, k}; {h, w} stays; anything else (or a value below min) throws naming the owner
// and the option (ConvOptionsBase's size setters; lib/nn/conv.cpp).
Shape conv_size_pair(const Shape& s, const char* owner, const char* what, std::int64_t min);
}  // namespace tg::detail

namespace tg::nn {

using init::Initializer;
using functional::Padding;  // Padding::Valid / Padding::Same (TF-1's "valid" / "same")

// ---- Linear (= tf.layers.dense) -------------------------------------------------------------
class LinearOptions {
public:
    LinearOptions(std::int64_t in_features, std::int64_t out_features)
        : in_features_(in_features), out_features_(out_features) {}
    // Size of each input sample.
    TG_ARG(std::int64_t, in_features, 0);
    // Size of each output sample.
    TG_ARG(std::int64_t, out_features, 0);
    // Learn an additive bias.
    TG_ARG(bool, bias, true);
    // Replaces the default weight initialiser (nullptr: libtorch's).
    TG_ARG(Initializer, weight_init, nullptr);
    // Replaces the default bias initialiser (nullptr: libtorch's).
    TG_ARG(Initializer, bias_init, nullptr);
};

// y = x W^T + b, W (out_features, in_features), b (out_features).
class Linear : public Module {
public:
    explicit Linear(const LinearOptions& options);
    Linear(std::int64_t in_features, std::int64_t out_features)
        : Linear(LinearOptions(in_features, out_features)) {}
    Tensor forward(const Tensor& input) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    LinearOptions options;
    Tensor weight;
    Tensor bias;  // undefined when options.bias() is false
};

// ---- Conv2d (ConvTranspose2d below) ------------------------------------------------------------
// What Conv2dOptions and ConvTranspose2dOptions share (libtorch's ConvOptions): channels,
// groups, bias, initialisers and the kernel / stride / padding / dilation sizes, which take
// one value for both spatial dims (3) or one per dim ({3, 5}). Setters return the derived
// options, so they chain with the derived ones.
template <class Derived>
class ConvOptionsBase {
public:
    // Channels of the input.
    Derived& in_channels(std::int64_t v) { return set(in_channels_, v); }
    // Channels the convolution produces.
    Derived& out_channels(std::int64_t v) { return set(out_channels_, v); }
    // Channel groups convolved separately (both channel counts divisible by it);
    // groups = in_channels is a depthwise convolution.
    Derived& groups(std::int64_t v) { return set(groups_, v); }
    // Learn an additive bias per output channel.
    Derived& bias(bool v) { return set(bias_, v); }
    // Replace the default weight / bias initialiser (nullptr: libtorch's).
    Derived& weight_init(Initializer v) { return set(weight_init_, std::move(v)); }
    Derived& bias_init(Initializer v) { return set(bias_init_, std::move(v)); }
    Derived& kernel_size(const Shape& k) { return set(kernel_size_, pair(k, "kernel_size", 1)); }
    Derived& stride(std::int64_t s) { return stride(Shape{s, s}); }
    Derived& stride(const Shape& s) { return set(stride_, pair(s, "stride", 1)); }
    Derived& dilation(std::int64_t d) { return dilation(Shape{d, d}); }
    Derived& dilation(const Shape& d) { return set(dilation_, pair(d, "dilation", 1)); }
    // Explicit zero padding on each side.
    Derived& padding(std::int64_t p) { return padding(Shape{p, p}); }
    Derived& padding(const Shape& p) { return set(padding_, pair(p, "padding", 0)); }

    std::int64_t in_channels() const { return in_channels_; }
    std::int64_t out_channels() const { return out_channels_; }
    std::int64_t groups() const { return groups_; }
    bool bias() const { return bias_; }
    const Initializer& weight_init() const { return weight_init_; }
    const Initializer& bias_init() const { return bias_init_; }
    const Shape& kernel_size() const { return kernel_size_; }
    const Shape& stride() const { return stride_; }
    const Shape& dilation() const { return dilation_; }
    const Shape& padding() const { return padding_; }

protected:
    ConvOptionsBase(std::int64_t in_channels, std::int64_t out_channels, const Shape& kernel_size)
        : in_channels_(in_channels), out_channels_(out_channels) {
        this->kernel_size(kernel_size);
    }

private:
    template <class T, class V>
    Derived& set(T& field, V&& value) {
        field = std::forward<V>(value);
        return static_cast<Derived&>(*this);
    }
    static Shape pair(const Shape& s, const char* what, std::int64_t min) {
        return tg::detail::conv_size_pair(s, Derived::kName, what, min);
    }

    std::int64_t in_channels_ = 0, out_channels_ = 0, groups_ = 1;
    bool bias_ = true;
    Initializer weight_init_, bias_init_;
    Shape kernel_size_;
    Shape stride_ = {1, 1};
    Shape dilation_ = {1, 1};
    Shape padding_ = {0, 0};
};

class Conv2dOptions : public ConvOptionsBase<Conv2dOptions> {
public:
    static constexpr const char* kName = "Conv2dOptions";
    Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : Conv2dOptions(in_channels, out_channels, Shape{kernel_size, kernel_size}) {}
    Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels, const Shape& kernel_size)
        : ConvOptionsBase(in_channels, out_channels, kernel_size) {}

    using ConvOptionsBase::padding;
    // Explicit zero padding on each side (clears a padding mode) ...
    Conv2dOptions& padding(std::int64_t p) { return padding(Shape{p, p}); }
    Conv2dOptions& padding(const Shape& p) {
        padding_mode_.reset();
        return ConvOptionsBase::padding(p);
    }
    // ... or TF-1's "valid" / "same" (same: out = ceil(in / stride), odd pixel bottom/right).
    Conv2dOptions& padding(Padding mode) {
        padding_mode_ = mode;
        return *this;
    }
    Conv2dOptions& padding_mode(Padding mode) { return padding(mode); }
    const std::optional<Padding>& padding_mode() const { return padding_mode_; }  // padding() when empty

private:
    std::optional<Padding> padding_mode_;
};

// NCHW cross-correlation: weight (out, in / groups, kh, kw), bias (out).
class Conv2d : public Module {
public:
    explicit Conv2d(const Conv2dOptions& options);
    Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : Conv2d(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
    Tensor forward(const Tensor& input) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    Conv2dOptions options;
    Tensor weight;
    Tensor bias;
};

// ---- pooling ---------------------------------------------------------------------------------
// stride defaults to the kernel size.
class Pool2dOptions {
public:
    Pool2dOptions(std::int64_t kernel_size) : Pool2dOptions(Shape{kernel_size, kernel_size}) {}  // NOLINT
    Pool2dOptions(const Shape& kernel_size);                                                    // NOLINT

    Pool2dOptions& stride(std::int64_t s) { return stride(Shape{s, s}); }
    Pool2dOptions& stride(const Shape& s);
    Pool2dOptions& padding(std::int64_t p) { return padding(Shape{p, p}); }
    Pool2dOptions& padding(const Shape& p);
    Pool2dOptions& padding(Padding mode) {
        padding_mode_ = mode;
        return *this;
    }
    Pool2dOptions& padding_mode(Padding mode) { return padding(mode); }
    // AvgPool2d only: divide by the whole window (true, libtorch's default) or by the cells
    // inside the input.
    Pool2dOptions& count_include_pad(bool on) {
        count_include_pad_ = on;
        return *this;
    }
    // Round the output size up (libtorch's ceil_mode; explicit padding only).
    Pool2dOptions& ceil_mode(bool on) {
        ceil_mode_ = on;
        return *this;
    }

    const Shape& kernel_size() const { return kernel_size_; }
    const Shape& stride() const { return stride_; }
    const Shape& padding() const { return padding_; }
    const std::optional<Padding>& padding_mode() const { return padding_mode_; }
    bool count_include_pad() const { return count_include_pad_; }
    bool ceil_mode() const { return ceil_mode_; }

private:
    Shape kernel_size_;
    Shape stride_;
    Shape padding_ = {0, 0};
    std::optional<Padding> padding_mode_;
    bool count_include_pad_ = true;
    bool ceil_mode_ = false;
};
using MaxPool2dOptions = Pool2dOptions;
using AvgPool2dOptions = Pool2dOptions;

class MaxPool2d : public Module {
public:
    explicit MaxPool2d(const MaxPool2dOptions& options);
    explicit MaxPool2d(std::int64_t kernel_size) : MaxPool2d(MaxPool2dOptions(kernel_size)) {}
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    MaxPool2dOptions options;
};

class AvgPool2d : public Module {
public:
    explicit AvgPool2d(const AvgPool2dOptions& options);
    explicit AvgPool2d(std::int64_t kernel_size) : AvgPool2d(AvgPool2dOptions(kernel_size)) {}
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    AvgPool2dOptions options;
};

// ---- Flatten, Dropout --------------------------------------------------------------------------
class FlattenOptions {
public:
    FlattenOptions() = default;
    // First dim to flatten (default 1 keeps the batch dim).
    TG_ARG(std::int64_t, start_dim, 1);
    // Last dim to flatten.
    TG_ARG(std::int64_t, end_dim, -1);
};

// (N, C, H, W) -> (N, C*H*W) by default (keeps the batch dim, like libtorch).
class Flatten : public Module {
public:
    explicit Flatten(const FlattenOptions& options = {});
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    FlattenOptions options;
};

class DropoutOptions {
public:
    DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: Dropout(0.2) reads well
    // Probability of zeroing an element.
    TG_ARG(double, p, 0.5);
};

// Inverted dropout in training, the identity after eval().
class Dropout : public Module {
public:
    explicit Dropout(const DropoutOptions& options = {});
    explicit Dropout(double p) : Dropout(DropoutOptions(p)) {}
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    DropoutOptions options;
};

// ---- batch normalisation --------------------------------------------------------------------
class BatchNormOptions {
public:
    BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT
    // C, the channels of the input.
    TG_ARG(std::int64_t, num_features, 0);
    // Added to the variance for stability.
    TG_ARG(double, eps, 1e-5);
    // running = (1 - momentum) * running + momentum * batch statistic (libtorch's meaning;
    // TF-1's decay is 1 - momentum).
    TG_ARG(double, momentum, 0.1);
    // Learn a per-channel scale (weight) and shift (bias).
    TG_ARG(bool, affine, true);
    // Keep running mean/variance for eval mode (false: batch statistics always).
    TG_ARG(bool, track_running_stats, true);
};

// libtorch's NormImplBase: the parameters, running statistics and input checks BatchNorm and
// InstanceNorm share (lib/nn/norm.cpp; instantiated for BatchNormOptions and InstanceNormOptions).
template <class Options>
class NormBase : public Module {
public:
    void reset_running_stats();
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    Options options;
    Tensor weight, bias;               // (C), when affine
    Tensor running_mean, running_var;  // (C), when track_running_stats
    Tensor num_batches_tracked;        // int64 scalar, when track_running_stats

protected:
    // input_dim: the rank forward accepts (2: (N, C), 3: (N, C, L), 4: (N, C, H, W)).
    NormBase(const Options& options, std::int64_t input_dim, std::string name);
    // Checks the input's rank and channels and, in training with running statistics, counts
    // the batch. Returns whether to normalise with the input's own statistics.
    bool begin_forward(const Tensor& input);

private:
    std::int64_t input_dim_;
};

// Shared by BatchNorm1d ((N, C) input) and BatchNorm2d ((N, C, H, W)). In training it
// normalises with the batch statistics and updates running_mean / running_var (buffers,
// plus the int64 count num_batches_tracked); after eval() it uses the running statistics.
// Without track_running_stats it always uses batch statistics.
class BatchNormBase : public NormBase<BatchNormOptions> {
public:
    Tensor forward(const Tensor& input) override;

protected:
    using NormBase::NormBase;
};

class BatchNorm1d : public BatchNormBase {
public:
    explicit BatchNorm1d(const BatchNormOptions& options) : BatchNormBase(options, 2, "BatchNorm1d") {}
    explicit BatchNorm1d(std::int64_t num_features) : BatchNorm1d(BatchNormOptions(num_features)) {}
};

class BatchNorm2d : public BatchNormBase {
public:
    explicit BatchNorm2d(const BatchNormOptions& options) : BatchNormBase(options, 4, "BatchNorm2d") {}
    explicit BatchNorm2d(std::int64_t num_features) : BatchNorm2d(BatchNormOptions(num_features)) {}
};

// ---- Embedding ---------------------------------------------------------------------------------
class EmbeddingOptions {
public:
    EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
        : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
    // Rows of the table (the vocabulary size).
    TG_ARG(std::int64_t, num_embeddings, 0);
    // Size of each embedding vector.
    TG_ARG(std::int64_t, embedding_dim, 0);
    TG_ARG(Initializer, weight_init, nullptr);  // default normal(0, 1)
};

// int64 indices of any shape -> indices.shape + [embedding_dim]; weight (num, dim).
class Embedding : public Module {
public:
    explicit Embedding(const EmbeddingOptions& options);
    Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
        : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
    Tensor forward(const Tensor& indices) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    EmbeddingOptions options;
    Tensor weight;
};

// ---- layers a TF-1 course uses: LayerNorm, ConvTranspose2d, Upsample, AdaptiveAvgPool2d ----
class LayerNormOptions {
public:
    LayerNormOptions(const Shape& normalized_shape) : normalized_shape_(normalized_shape) {}  // NOLINT
    // The trailing dims normalised over (and the shape of weight and bias).
    TG_ARG(Shape, normalized_shape, {});
    // Added to the variance for stability.
    TG_ARG(double, eps, 1e-5);
    // Learn an elementwise scale (weight) and shift (bias).
    TG_ARG(bool, elementwise_affine, true);
};

// Normalises over the trailing normalized_shape dims; weight (ones) and bias (zeros) of
// shape normalized_shape when elementwise_affine. Same in training and eval.
class LayerNorm : public Module {
public:
    explicit LayerNorm(const LayerNormOptions& options);
    Tensor forward(const Tensor& input) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    LayerNormOptions options;
    Tensor weight, bias;  // undefined without elementwise_affine
};

// ---- group and instance normalisation (libtorch's GroupNorm, InstanceNorm1d/2d) -----------
class GroupNormOptions {
public:
    GroupNormOptions(std::int64_t num_groups, std::int64_t num_channels)
        : num_groups_(num_groups), num_channels_(num_channels) {}
    // G: the channels are split into this many groups, each normalised on its own.
    TG_ARG(std::int64_t, num_groups, 0);
    // C, the channels of the input (divisible by num_groups).
    TG_ARG(std::int64_t, num_channels, 0);
    // Added to the variance for stability.
    TG_ARG(double, eps, 1e-5);
    // Learn a per-channel scale (weight) and shift (bias).
    TG_ARG(bool, affine, true);
};

// functional::group_norm on (N, num_channels, *); weight (ones) and bias (zeros) of shape
// (num_channels) when affine. Same in training and eval.
class GroupNorm : public Module {
public:
    explicit GroupNorm(const GroupNormOptions& options);
    GroupNorm(std::int64_t num_groups, std::int64_t num_channels) : GroupNorm(GroupNormOptions(num_groups, num_channels)) {}
    Tensor forward(const Tensor& input) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    GroupNormOptions options;
    Tensor weight, bias;  // undefined without affine
};

class InstanceNormOptions {
public:
    InstanceNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT
    // C, the channels of the input.
    TG_ARG(std::int64_t, num_features, 0);
    // Added to the variance for stability.
    TG_ARG(double, eps, 1e-5);
    // Weight of the newest batch in the running statistics (when tracked).
    TG_ARG(double, momentum, 0.1);
    // Learn a per-channel scale (weight) and shift (bias); off by default, as in libtorch.
    TG_ARG(bool, affine, false);
    // Keep running mean/variance for eval mode; off by default, as in libtorch.
    TG_ARG(bool, track_running_stats, false);
};

// functional::instance_norm: per-sample, per-channel statistics in training (and always
// without track_running_stats); the running statistics after eval() when tracked.
class InstanceNormBase : public NormBase<InstanceNormOptions> {
public:
    Tensor forward(const Tensor& input) override;

protected:
    using NormBase::NormBase;
};

class InstanceNorm1d : public InstanceNormBase {  // (N, C, L)
public:
    explicit InstanceNorm1d(const InstanceNormOptions& options) : InstanceNormBase(options, 3, "InstanceNorm1d") {}
    explicit InstanceNorm1d(std::int64_t num_features) : InstanceNorm1d(InstanceNormOptions(num_features)) {}
};

class InstanceNorm2d : public InstanceNormBase {  // (N, C, H, W)
public:
    explicit InstanceNorm2d(const InstanceNormOptions& options) : InstanceNormBase(options, 4, "InstanceNorm2d") {}
    explicit InstanceNorm2d(std::int64_t num_features) : InstanceNorm2d(InstanceNormOptions(num_features)) {}
};

// ConvOptionsBase (above Conv2d) plus output_padding.
class ConvTranspose2dOptions : public ConvOptionsBase<ConvTranspose2dOptions> {
public:
    static constexpr const char* kName = "ConvTranspose2dOptions";
    ConvTranspose2dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : ConvTranspose2dOptions(in_channels, out_channels, Shape{kernel_size, kernel_size}) {}
    ConvTranspose2dOptions(std::int64_t in_channels, std::int64_t out_channels, const Shape& kernel_size)
        : ConvOptionsBase(in_channels, out_channels, kernel_size) {}

    // Rows / columns added at the bottom / right of the output (each < its stride).
    ConvTranspose2dOptions& output_padding(std::int64_t p) { return output_padding(Shape{p, p}); }
    ConvTranspose2dOptions& output_padding(const Shape& p) {
        output_padding_ = tg::detail::conv_size_pair(p, kName, "output_padding", 0);
        return *this;
    }
    const Shape& output_padding() const { return output_padding_; }

private:
    Shape output_padding_ = {0, 0};
};

// The adjoint of Conv2d (tf.layers.conv2d_transpose): weight (in, out / groups, kh, kw) like
// libtorch, bias (out); default init libtorch's (fan_in from weight dim 1: out / groups * kh * kw).
class ConvTranspose2d : public Module {
public:
    explicit ConvTranspose2d(const ConvTranspose2dOptions& options);
    ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : ConvTranspose2d(ConvTranspose2dOptions(in_channels, out_channels, kernel_size)) {}
    Tensor forward(const Tensor& input) override;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    ConvTranspose2dOptions options;
    Tensor weight;
    Tensor bias;  // undefined when options.bias() is false
};

// libtorch's UpsampleOptions: either size or scale_factor; mode Nearest (the default) or
// Bilinear with align_corners (false unless set), as functional::interpolate.
class UpsampleOptions {
public:
    UpsampleOptions() = default;
    UpsampleOptions& size(const Shape& s);  // {OH, OW} or {S}; clears scale_factor
    UpsampleOptions& scale_factor(double s) { return scale_factor(std::vector<double>{s, s}); }
    UpsampleOptions& scale_factor(const std::vector<double>& s);  // {h, w}; clears size
    UpsampleOptions& mode(functional::InterpolateMode m) {
        mode_ = m;
        return *this;
    }
    UpsampleOptions& align_corners(bool on) {
        align_corners_ = on;
        return *this;
    }
    const std::optional<Shape>& size() const { return size_; }
    const std::optional<std::vector<double>>& scale_factor() const { return scale_factor_; }
    functional::InterpolateMode mode() const { return mode_; }
    const std::optional<bool>& align_corners() const { return align_corners_; }

private:
    std::optional<Shape> size_;
    std::optional<std::vector<double>> scale_factor_;
    functional::InterpolateMode mode_ = functional::InterpolateMode::Nearest;
    std::optional<bool> align_corners_;
};

class Upsample : public Module {
public:
    explicit Upsample(const UpsampleOptions& options);
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    UpsampleOptions options;
};

class AdaptiveAvgPool2dOptions {
public:
    AdaptiveAvgPool2dOptions(std::int64_t output_size) : output_size_{output_size, output_size} {}  // NOLINT
    AdaptiveAvgPool2dOptions(const Shape& output_size) : output_size_(output_size) {}             // NOLINT
    // {OH, OW}, or {S} for both.
    TG_ARG(Shape, output_size, {});
};

// AdaptiveAvgPool2d(1) is global average pooling: (N, C, H, W) -> (N, C, 1, 1).
class AdaptiveAvgPool2d : public Module {
public:
    explicit AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options);
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    AdaptiveAvgPool2dOptions options;
};

// ---- activations -------------------------------------------------------------------------------
// The activations without options: a module that applies one elementwise op and prints
// as "Name()". Each is its own class (ReLU, SiLU, ...), built on this one.
class ElementwiseActivation : public Module {
public:
    Tensor forward(const Tensor& input) override { return fn_(input); }
    void pretty_print(std::ostream& os) const override;

protected:
    ElementwiseActivation(std::string type_name, Tensor (*fn)(const Tensor&))
        : Module(std::move(type_name)), fn_(fn) {}

private:
    Tensor (*fn_)(const Tensor&);
};

class ReLU : public ElementwiseActivation {
public:
    ReLU();
};

class Sigmoid : public ElementwiseActivation {
public:
    Sigmoid();
};

class Tanh : public ElementwiseActivation {
public:
    Tanh();
};

class ELUOptions {
public:
    ELUOptions(double alpha = 1.0) : alpha_(alpha) {}  // NOLINT: ELU(0.5) reads well
    // Value the negative side saturates to: alpha * (exp(x) - 1).
    TG_ARG(double, alpha, 1.0);
};

// x for x > 0, alpha * (exp(x) - 1) otherwise.
class ELU : public Module {
public:
    explicit ELU(const ELUOptions& options = {});
    explicit ELU(double alpha) : ELU(ELUOptions(alpha)) {}
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    ELUOptions options;
};

class GELUOptions {
public:
    GELUOptions(std::string approximate = "none") : approximate_(std::move(approximate)) {}  // NOLINT
    TG_ARG(std::string, approximate, "none");  // "none" (exact erf form) or "tanh"
};
class GELU : public Module {
public:
    explicit GELU(const GELUOptions& options = {});
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    GELUOptions options;
};
class HardtanhOptions {
public:
    HardtanhOptions() = default;
    // Lower clipping bound.
    TG_ARG(double, min_val, -1.0);
    // Upper clipping bound.
    TG_ARG(double, max_val, 1.0);
};
class Hardtanh : public Module {
public:
    explicit Hardtanh(const HardtanhOptions& options = {});
    Hardtanh(double min_val, double max_val) : Hardtanh(HardtanhOptions().min_val(min_val).max_val(max_val)) {}
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;
    HardtanhOptions options;
};
class SiLU : public ElementwiseActivation {
public:
    SiLU();
};
class ReLU6 : public ElementwiseActivation {
public:
    ReLU6();
};
class SELU : public ElementwiseActivation {
public:
    SELU();
};
class Softsign : public ElementwiseActivation {
public:
    Softsign();
};
class Hardsigmoid : public ElementwiseActivation {
public:
    Hardsigmoid();
};

}  // namespace tg::nn

TG_PUBLIC_END
