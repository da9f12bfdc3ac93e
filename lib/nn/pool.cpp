// nn::MaxPool2d, nn::AvgPool2d, nn::AdaptiveAvgPool2d and nn::Upsample over their functional ops.
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
    if (o.ceil_mode()) os << ", ceil_mode=true";
    if (avg && !o.count_include_pad()) os << ", count_include_pad=false";
    os << ")";
}

// TF's padding modes fix the output size themselves; ceil_mode belongs to explicit padding.
void check_ceil_mode(const Pool2dOptions& o, const char* layer, const Tensor& input) {
    TG_CHECK(!(o.ceil_mode() && o.padding_mode()), layer,
             "ceil_mode applies to explicit padding, not to padding mode \"{}\" (input shape {})",
             *o.padding_mode() == Padding::Same ? "same" : "valid", input.sizes());
}

// MaxPool2d's and AvgPool2d's forward: TF's padding modes or explicit padding (with ceil_mode,
// and for avg count_include_pad).
Tensor pool_forward(const Tensor& input, const Pool2dOptions& o, bool avg) {
    check_ceil_mode(o, avg ? "AvgPool2d" : "MaxPool2d", input);
    if (o.padding_mode())
        return avg ? functional::avg_pool2d(input, o.kernel_size(), o.stride(), *o.padding_mode())
                   : functional::max_pool2d(input, o.kernel_size(), o.stride(), *o.padding_mode());
    return avg ? functional::avg_pool2d(input, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(),
                                        o.count_include_pad())
               : functional::max_pool2d(input, o.kernel_size(), o.stride(), o.padding(), {1, 1}, o.ceil_mode());
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

Tensor MaxPool2d::forward(const Tensor& input) { return pool_forward(input, options, false); }

void MaxPool2d::pretty_print(std::ostream& os) const { print_pool(os, "MaxPool2d", options, false); }

AvgPool2d::AvgPool2d(const AvgPool2dOptions& options_) : Module("AvgPool2d"), options(options_) {}

Tensor AvgPool2d::forward(const Tensor& input) { return pool_forward(input, options, true); }

void AvgPool2d::pretty_print(std::ostream& os) const { print_pool(os, "AvgPool2d", options, true); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options_)
    : Module("AdaptiveAvgPool2d"), options(options_) {
    const Shape& s = options.output_size();
    TG_CHECK((s.size() == 1 || s.size() == 2) && s[0] > 0 && s[s.size() - 1] > 0, "AdaptiveAvgPool2d",
             "output_size takes 1 or 2 positive values, got {}", s);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
    return functional::adaptive_avg_pool2d(input, options.output_size());
}

void AdaptiveAvgPool2d::pretty_print(std::ostream& os) const {
    os << "AdaptiveAvgPool2d(output_size=" << options.output_size() << ")";
}

UpsampleOptions& UpsampleOptions::size(const Shape& s) {
    TG_CHECK((s.size() == 1 || s.size() == 2) && s[0] > 0 && s[s.size() - 1] > 0, "UpsampleOptions",
             "size takes 1 or 2 positive values, got {}", s);
    size_ = s.size() == 1 ? Shape{s[0], s[0]} : s;
    scale_factor_.reset();
    return *this;
}

UpsampleOptions& UpsampleOptions::scale_factor(const std::vector<double>& s) {
    TG_CHECK((s.size() == 1 || s.size() == 2) && s[0] > 0 && s.back() > 0, "UpsampleOptions",
             "scale_factor takes 1 or 2 positive values, got {} values", s.size());
    scale_factor_ = s.size() == 1 ? std::vector<double>{s[0], s[0]} : s;
    size_.reset();
    return *this;
}

Upsample::Upsample(const UpsampleOptions& options_) : Module("Upsample"), options(options_) {
    TG_CHECK(options.size() || options.scale_factor(), "Upsample", "give UpsampleOptions a size or a scale_factor");
}

Tensor Upsample::forward(const Tensor& input) {
    if (options.mode() == functional::InterpolateMode::Bilinear) {
        functional::InterpolateFuncOptions o;
        o.mode(options.mode());
        if (options.size()) o.size(*options.size());
        else o.scale_factor(*options.scale_factor());
        if (options.align_corners()) o.align_corners(*options.align_corners());
        return functional::interpolate(input, o);
    }
    if (options.size()) return functional::upsample_nearest2d(input, *options.size());
    const auto& f = *options.scale_factor();
    return functional::upsample_nearest2d(input, f[0], f[1]);
}

void Upsample::pretty_print(std::ostream& os) const {
    os << "Upsample(";
    if (options.size())
        os << "size=" << *options.size();
    else
        os << "scale_factor=[" << (*options.scale_factor())[0] << ", " << (*options.scale_factor())[1] << "]";
    if (options.mode() == functional::InterpolateMode::Bilinear)
        os << ", mode=bilinear, align_corners=" << (options.align_corners().value_or(false) ? "true" : "false") << ")";
    else
        os << ", mode=nearest)";
}

}  // namespace tg::nn
