// nn::BatchNorm1d / BatchNorm2d over functional::batch_norm, on NormBase (shared with InstanceNorm below).
#include <ostream>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace {

// The per-channel (or normalized_shape) scale and shift of an affine normalisation, shared by
// every norm module here: registered as parameters, and reset to ones and zeros (libtorch's).
void register_affine(Module& m, const Shape& shape, Tensor& weight, Tensor& bias) {
    weight = m.register_parameter("weight", empty(shape));
    bias = m.register_parameter("bias", empty(shape));
}

void reset_affine(Tensor& weight, Tensor& bias) {
    if (!weight.defined()) return;  // not affine
    init::ones_(weight);
    init::zeros_(bias);
}

}  // namespace

template <class Options>
NormBase<Options>::NormBase(const Options& options_, std::int64_t input_dim, std::string name)
    : Module(std::move(name)), options(options_), input_dim_(input_dim) {
    const std::int64_t c = options.num_features();
    TG_CHECK(c > 0, type_name(), "num_features must be positive, got {}", c);
    TG_CHECK(options.eps() > 0, type_name(), "eps must be positive, got {}", options.eps());
    if (options.affine()) register_affine(*this, {c}, weight, bias);
    if (options.track_running_stats()) {
        running_mean = register_buffer("running_mean", zeros({c}));
        running_var = register_buffer("running_var", ones({c}));
        num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
    }
    reset_parameters();
}

template <class Options>
void NormBase<Options>::reset_running_stats() {
    if (!options.track_running_stats()) return;
    NoGradGuard no_grad;
    running_mean.zero_();
    running_var.fill_(1.0);
    num_batches_tracked.zero_();
}

template <class Options>
void NormBase<Options>::reset_parameters() {
    reset_running_stats();
    reset_affine(weight, bias);
}

template <class Options>
bool NormBase<Options>::begin_forward(const Tensor& input) {
    detail::check_defined(input, type_name());
    const char* layout = input_dim_ == 2 ? "N, C" : input_dim_ == 3 ? "N, C, L" : "N, C, H, W";
    TG_CHECK(input.dim() == input_dim_, type_name(), "expected a {}-D input ({}), got shape {}", input_dim_, layout,
             input.sizes());
    TG_CHECK(input.size(1) == options.num_features(), type_name(),
             "input of shape {} has {} channels in dim 1, expected num_features = {}", input.sizes(), input.size(1),
             options.num_features());
    if (is_training() && options.track_running_stats()) {
        NoGradGuard no_grad;
        num_batches_tracked.add_(1.0);
    }
    // The input's own statistics in training, and always when no running statistics are kept.
    return is_training() || !options.track_running_stats();
}

template <class Options>
void NormBase<Options>::pretty_print(std::ostream& os) const {
    os << type_name() << "(" << options.num_features() << ", eps=" << options.eps()
       << ", momentum=" << options.momentum() << ", affine=" << (options.affine() ? "true" : "false")
       << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false") << ")";
}

template class NormBase<BatchNormOptions>;
template class NormBase<InstanceNormOptions>;

Tensor BatchNormBase::forward(const Tensor& input) {
    const bool use_batch_stats = begin_forward(input);
    return functional::batch_norm(input, running_mean, running_var, weight, bias,
                                  use_batch_stats, options.momentum(), options.eps());
}

}  // namespace tg::nn

// nn::LayerNorm over functional::layer_norm.
namespace tg::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options_) : Module("LayerNorm"), options(options_) {
    const Shape& shape = options.normalized_shape();
    TG_CHECK(!shape.empty(), "LayerNorm", "normalized_shape must have at least 1 dim, got {}", shape);
    for (std::int64_t d : shape)
        TG_CHECK(d > 0, "LayerNorm", "normalized_shape dims must be positive, got {}", shape);
    TG_CHECK(options.eps() >= 0, "LayerNorm", "eps must be non-negative, got {}", options.eps());
    if (options.elementwise_affine()) register_affine(*this, shape, weight, bias);
    reset_parameters();
}

void LayerNorm::reset_parameters() {
    reset_affine(weight, bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
    return functional::layer_norm(input, options.normalized_shape(), weight, bias, options.eps());
}

void LayerNorm::pretty_print(std::ostream& os) const {
    os << "LayerNorm(" << options.normalized_shape() << ", eps=" << options.eps()
       << ", elementwise_affine=" << (options.elementwise_affine() ? "true" : "false") << ")";
}

}  // namespace tg::nn

// nn::GroupNorm and nn::InstanceNorm1d/2d over functional::group_norm / instance_norm.
namespace tg::nn {

GroupNorm::GroupNorm(const GroupNormOptions& options_) : Module("GroupNorm"), options(options_) {
    const std::int64_t g = options.num_groups(), c = options.num_channels();
    TG_CHECK(g > 0 && c > 0 && c % g == 0, "GroupNorm", "num_groups {} must be positive and divide num_channels {}", g, c);
    TG_CHECK(options.eps() >= 0, "GroupNorm", "eps must be non-negative, got {}", options.eps());
    if (options.affine()) register_affine(*this, {c}, weight, bias);
    reset_parameters();
}

void GroupNorm::reset_parameters() {
    reset_affine(weight, bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
    detail::check_defined(input, "GroupNorm");
    TG_CHECK(input.dim() >= 2 && input.size(1) == options.num_channels(), "GroupNorm",
             "input of shape {} does not have num_channels = {} in dim 1", input.sizes(), options.num_channels());
    return functional::group_norm(input, options.num_groups(), weight, bias, options.eps());
}

void GroupNorm::pretty_print(std::ostream& os) const {
    os << "GroupNorm(" << options.num_groups() << ", " << options.num_channels() << ", eps=" << options.eps()
       << ", affine=" << (options.affine() ? "true" : "false") << ")";
}

Tensor InstanceNormBase::forward(const Tensor& input) {
    const bool use_input_stats = begin_forward(input);
    return functional::instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                                     options.momentum(), options.eps());
}

}  // namespace tg::nn
