// nn::Conv2d and nn::ConvTranspose2d over functional::conv2d / conv_transpose2d.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "nn/layer_init.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace {

// {k} -> {k, k}; {h, w} stays; anything else is an error naming the option.
Shape pair_of(const Shape& s, const char* owner, const char* what, std::int64_t min) {
    TG_CHECK(s.size() == 1 || s.size() == 2, owner, "{} takes 1 or 2 values, got {}", what, s);
    Shape out = s.size() == 1 ? Shape{s[0], s[0]} : s;
    TG_CHECK(out[0] >= min && out[1] >= min, owner, "{} must be >= {}, got {}", what, min, out);
    return out;
}

}  // namespace

Conv2dOptions::Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels,
                             const Shape& kernel_size)
    : in_channels_(in_channels), out_channels_(out_channels) {
    this->kernel_size(kernel_size);
}

Conv2dOptions& Conv2dOptions::kernel_size(const Shape& k) {
    kernel_size_ = pair_of(k, "Conv2dOptions", "kernel_size", 1);
    return *this;
}
Conv2dOptions& Conv2dOptions::stride(const Shape& s) {
    stride_ = pair_of(s, "Conv2dOptions", "stride", 1);
    return *this;
}
Conv2dOptions& Conv2dOptions::dilation(const Shape& d) {
    dilation_ = pair_of(d, "Conv2dOptions", "dilation", 1);
    return *this;
}
Conv2dOptions& Conv2dOptions::padding(const Shape& p) {
    padding_ = pair_of(p, "Conv2dOptions", "padding", 0);
    padding_mode_.reset();
    return *this;
}

Conv2d::Conv2d(const Conv2dOptions& options_) : Module("Conv2d"), options(options_) {
    TG_CHECK(options.in_channels() > 0 && options.out_channels() > 0, "Conv2d",
             "in_channels and out_channels must be positive, got {} and {}",
             options.in_channels(), options.out_channels());
    const Shape& k = options.kernel_size();
    weight = register_parameter(
        "weight", empty({options.out_channels(), options.in_channels(), k[0], k[1]}));
    if (options.bias()) bias = register_parameter("bias", empty({options.out_channels()}));
    reset_parameters();
}

void Conv2d::reset_parameters() {
    init::reset_layer_parameters(weight, bias, options.weight_init(), options.bias_init());
}

Tensor Conv2d::forward(const Tensor& input) {
    if (options.padding_mode())
        return functional::conv2d(input, weight, bias, options.stride(), *options.padding_mode(),
                                  options.dilation());
    return functional::conv2d(input, weight, bias, options.stride(), options.padding(),
                              options.dilation());
}

void Conv2d::pretty_print(std::ostream& os) const {
    os << "Conv2d(" << options.in_channels() << ", " << options.out_channels()
       << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
    if (options.padding_mode())
        os << ", padding=" << (*options.padding_mode() == Padding::Same ? "same" : "valid");
    else if (options.padding() != Shape{0, 0})
        os << ", padding=" << options.padding();
    if (options.dilation() != Shape{1, 1}) os << ", dilation=" << options.dilation();
    if (!options.bias()) os << ", bias=false";
    os << ")";
}

ConvTranspose2dOptions::ConvTranspose2dOptions(std::int64_t in_channels, std::int64_t out_channels,
                                               const Shape& kernel_size)
    : in_channels_(in_channels), out_channels_(out_channels) {
    this->kernel_size(kernel_size);
}

ConvTranspose2dOptions& ConvTranspose2dOptions::kernel_size(const Shape& k) {
    kernel_size_ = pair_of(k, "ConvTranspose2dOptions", "kernel_size", 1);
    return *this;
}
ConvTranspose2dOptions& ConvTranspose2dOptions::stride(const Shape& s) {
    stride_ = pair_of(s, "ConvTranspose2dOptions", "stride", 1);
    return *this;
}
ConvTranspose2dOptions& ConvTranspose2dOptions::padding(const Shape& p) {
    padding_ = pair_of(p, "ConvTranspose2dOptions", "padding", 0);
    return *this;
}
ConvTranspose2dOptions& ConvTranspose2dOptions::output_padding(const Shape& p) {
    output_padding_ = pair_of(p, "ConvTranspose2dOptions", "output_padding", 0);
    return *this;
}
ConvTranspose2dOptions& ConvTranspose2dOptions::dilation(const Shape& d) {
    dilation_ = pair_of(d, "ConvTranspose2dOptions", "dilation", 1);
    return *this;
}

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& options_)
    : Module("ConvTranspose2d"), options(options_) {
    TG_CHECK(options.in_channels() > 0 && options.out_channels() > 0, "ConvTranspose2d",
             "in_channels and out_channels must be positive, got {} and {}", options.in_channels(),
             options.out_channels());
    const Shape& k = options.kernel_size();
    // libtorch's layout (in, out, kh, kw): the weight of the conv2d this layer is the adjoint of.
    weight = register_parameter("weight", empty({options.in_channels(), options.out_channels(), k[0], k[1]}));
    if (options.bias()) bias = register_parameter("bias", empty({options.out_channels()}));
    reset_parameters();
}

// The same routine as Conv2d: fan_in comes from weight dim 1 (out * kh * kw), as in libtorch.
void ConvTranspose2d::reset_parameters() {
    init::reset_layer_parameters(weight, bias, options.weight_init(), options.bias_init());
}

Tensor ConvTranspose2d::forward(const Tensor& input) {
    return functional::conv_transpose2d(input, weight, bias, options.stride(), options.padding(),
                                        options.output_padding(), options.dilation());
}

void ConvTranspose2d::pretty_print(std::ostream& os) const {
    os << "ConvTranspose2d(" << options.in_channels() << ", " << options.out_channels()
       << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
    if (options.padding() != Shape{0, 0}) os << ", padding=" << options.padding();
    if (options.output_padding() != Shape{0, 0}) os << ", output_padding=" << options.output_padding();
    if (options.dilation() != Shape{1, 1}) os << ", dilation=" << options.dilation();
    if (!options.bias()) os << ", bias=false";
    os << ")";
}

}  // namespace tg::nn
