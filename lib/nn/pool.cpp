// nn::MaxPool2d and nn::AvgPool2d over their functional ops.
#include <ostream>

#include "tapegrad/nn/modules.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace {

Shape pair_of(const Shape& s, const char* what, std::int64_t min) {
    TG_CHECK(s.size() == 1 || s.size() == 2, "Pool2dOptions", "{} takes 1 or 2 values, got {}",
             what, s);
    Shape out = s.size() == 1 ? Shape{s[0], s[0]} : s;
    TG_CHECK(out[0] >= min && out[1] >= min, "Pool2dOptions", "{} must be >= {}, got {}", what,
             min, out);
    return out;
}

void print_pool(std::ostream& os, const char* name, const Pool2dOptions& o, bool avg) {
    os << name << "(kernel_size=" << o.kernel_size() << ", stride=" << o.stride()
       << ", padding=";
    if (o.padding_mode())
        os << (*o.padding_mode() == Padding::Same ? "same" : "valid");
    else
        os << o.padding();
    if (avg && !o.count_include_pad()) os << ", count_include_pad=false";
    os << ")";
}

}  // namespace

Pool2dOptions::Pool2dOptions(const Shape& kernel_size)
    : kernel_size_(pair_of(kernel_size, "kernel_size", 1)), stride_(kernel_size_) {}

Pool2dOptions& Pool2dOptions::stride(const Shape& s) {
    stride_ = pair_of(s, "stride", 1);
    return *this;
}

Pool2dOptions& Pool2dOptions::padding(const Shape& p) {
    padding_ = pair_of(p, "padding", 0);
    padding_mode_.reset();
    return *this;
}

MaxPool2d::MaxPool2d(const MaxPool2dOptions& options_) : Module("MaxPool2d"), options(options_) {}

Tensor MaxPool2d::forward(const Tensor& input) {
    if (options.padding_mode())
        return functional::max_pool2d(input, options.kernel_size(), options.stride(),
                                      *options.padding_mode());
    return functional::max_pool2d(input, options.kernel_size(), options.stride(),
                                  options.padding());
}

void MaxPool2d::pretty_print(std::ostream& os) const { print_pool(os, "MaxPool2d", options, false); }

AvgPool2d::AvgPool2d(const AvgPool2dOptions& options_) : Module("AvgPool2d"), options(options_) {}

Tensor AvgPool2d::forward(const Tensor& input) {
    if (options.padding_mode())
        return functional::avg_pool2d(input, options.kernel_size(), options.stride(),
                                      *options.padding_mode());
    return functional::avg_pool2d(input, options.kernel_size(), options.stride(),
                                  options.padding(), options.count_include_pad());
}

void AvgPool2d::pretty_print(std::ostream& os) const { print_pool(os, "AvgPool2d", options, true); }

}  // namespace tg::nn
