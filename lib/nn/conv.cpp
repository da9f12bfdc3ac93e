// nn::Conv2d and nn::ConvTranspose2d over functional::conv2d / conv_transpose2d.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "nn/layer_init.hpp"
#include "tensor/check.hpp"

namespace tg::detail {

Shape conv_size_pair(const Shape& s, const char* owner, const char* what, std::int64_t min) {
    TG_CHECK(s.size() == 1 || s.size() == 2, owner, "{} takes 1 or 2 values, got {}", what, s);
    Shape out = s.size() == 1 ? Shape{s[0], s[0]} : s;
    TG_CHECK(out[0] >= min && out[1] >= min, owner, "{} must be >= {}, got {}", what, min, out);
    return out;
}

}  // namespace tg::detail

namespace tg::nn {

namespace {

// The checks and the printout Conv2d and ConvTranspose2d share.
template <class Options>
void check_channels(const Options& o, const char* layer) {
    TG_CHECK(o.in_channels() > 0 && o.out_channels() > 0, layer,
             "in_channels and out_channels must be positive, got {} and {}", o.in_channels(), o.out_channels());
    TG_CHECK(o.groups() > 0 && o.in_channels() % o.groups() == 0 && o.out_channels() % o.groups() == 0, layer,
             "groups {} must be positive and divide in_channels {} and out_channels {}", o.groups(), o.in_channels(),
             o.out_channels());
}

// Checks the options and registers weight {rows, cols / groups, kh, kw} (each layer names its
// own layout) and, when asked for, bias {out_channels}; the caller initialises them.
template <class Options>
void register_conv_parameters(Module& layer, const Options& o, const char* name, std::int64_t rows, std::int64_t cols,
                              Tensor& weight, Tensor& bias) {
    check_channels(o, name);
    const Shape& k = o.kernel_size();
    weight = layer.register_parameter("weight", empty({rows, cols / o.groups(), k[0], k[1]}));
    if (o.bias()) bias = layer.register_parameter("bias", empty({o.out_channels()}));
}

template <class Options>
void print_conv_tail(std::ostream& os, const Options& o) {
    if (o.dilation() != Shape{1, 1}) os << ", dilation=" << o.dilation();
    if (o.groups() != 1) os << ", groups=" << o.groups();
    if (!o.bias()) os << ", bias=false";
    os << ")";
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& options_) : Module("Conv2d"), options(options_) {
    register_conv_parameters(*this, options, "Conv2d", options.out_channels(), options.in_channels(), weight, bias);
    reset_parameters();
}

void Conv2d::reset_parameters() {
    init::reset_layer_parameters(weight, bias, options.weight_init(), options.bias_init());
}

Tensor Conv2d::forward(const Tensor& input) {
    if (options.padding_mode())
        return functional::conv2d(input, weight, bias, options.stride(), *options.padding_mode(),
                                  options.dilation(), options.groups());
    return functional::conv2d(input, weight, bias, options.stride(), options.padding(),
                              options.dilation(), options.groups());
}

void Conv2d::pretty_print(std::ostream& os) const {
    os << "Conv2d(" << options.in_channels() << ", " << options.out_channels()
       << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
    if (options.padding_mode())
        os << ", padding=" << (*options.padding_mode() == Padding::Same ? "same" : "valid");
    else if (options.padding() != Shape{0, 0})
        os << ", padding=" << options.padding();
    print_conv_tail(os, options);
}

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& options_)
    : Module("ConvTranspose2d"), options(options_) {
    // libtorch's layout (in, out / groups, kh, kw): the weight of the conv2d this layer is the adjoint of.
    register_conv_parameters(*this, options, "ConvTranspose2d", options.in_channels(), options.out_channels(), weight,
                             bias);
    reset_parameters();
}

// The same routine as Conv2d: fan_in comes from weight dim 1 (out * kh * kw), as in libtorch.
void ConvTranspose2d::reset_parameters() {
    init::reset_layer_parameters(weight, bias, options.weight_init(), options.bias_init());
}

Tensor ConvTranspose2d::forward(const Tensor& input) {
    return functional::conv_transpose2d(input, weight, bias, options.stride(), options.padding(),
                                        options.output_padding(), options.groups(), options.dilation());
}

void ConvTranspose2d::pretty_print(std::ostream& os) const {
    os << "ConvTranspose2d(" << options.in_channels() << ", " << options.out_channels()
       << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
    if (options.padding() != Shape{0, 0}) os << ", padding=" << options.padding();
    if (options.output_padding() != Shape{0, 0}) os << ", output_padding=" << options.output_padding();
    print_conv_tail(os, options);
}

}  // namespace tg::nn
