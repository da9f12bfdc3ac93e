// Gradient clipping by total norm (tf.clip_by_global_norm) and by value
// (tf.clip_by_value), in place on .grad(), as torch.nn.utils.clip_grad_norm_/value_.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/record.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/optim.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::nn::utils {

namespace {

// Calls f(T* data, n) on each defined gradient, as a dense buffer. A non-contiguous
// gradient is replaced by a contiguous copy first so the loop can write it.
template <class F>
void for_each_grad(const std::vector<Tensor>& parameters, std::string_view op, F&& f) {
    for (const Tensor& p : parameters) {
        TG_CHECK(p.defined(), op, "a parameter is undefined");
        Tensor grad = p.grad();
        if (!grad.defined()) continue;
        if (!grad.is_contiguous()) {
            grad = grad.contiguous();
            Tensor(p).set_grad(grad);
        }
        tg::detail::visit_floating(grad.dtype(), op, [&](auto v) {
            using T = decltype(v);
            f(impl_of(grad).data_as<T>(), grad.numel());
        });
        tg::detail::bump_version(grad);
    }
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
    TG_CHECK(norm_type > 0, "clip_grad_norm_", "norm_type must be positive (or INFINITY), got {}", norm_type);
    NoGradGuard no_grad;
    const bool inf_norm = std::isinf(norm_type);
    // Accumulate in double: float32 sums of many squares lose digits.
    double total = 0.0;
    for (const Tensor& p : parameters) {
        TG_CHECK(p.defined(), "clip_grad_norm_", "a parameter is undefined");
        const Tensor grad = p.grad();
        if (!grad.defined()) continue;
        const Tensor g = grad.contiguous();
        tg::detail::visit_floating(g.dtype(), "clip_grad_norm_", [&](auto v) {
            using T = decltype(v);
            const T* x = impl_of(g).data_as<T>();
            const std::int64_t n = g.numel();
            for (std::int64_t i = 0; i < n; ++i) {
                const double a = std::abs(static_cast<double>(x[i]));
                if (inf_norm)
                    total = std::isnan(a) || std::isnan(total) ? std::numeric_limits<double>::quiet_NaN()
                                                               : std::max(total, a);
                else if (norm_type == 2.0)
                    total += a * a;
                else if (norm_type == 1.0)
                    total += a;
                else
                    total += std::pow(a, norm_type);
            }
        });
    }
    if (!inf_norm && norm_type != 1.0) total = std::pow(total, 1.0 / norm_type);
    TG_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_",
             "the total norm of order {} of the gradients is {}; they hold NaN or Inf", norm_type, total);
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0 || std::isnan(coef))
        for_each_grad(parameters, "clip_grad_norm_", [&](auto* x, std::int64_t n) {
            using T = std::remove_pointer_t<decltype(x)>;
            const T c = static_cast<T>(coef);
            for (std::int64_t i = 0; i < n; ++i) x[i] *= c;
        });
    return total;
}

double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type, bool error_if_nonfinite) {
    return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
    TG_CHECK(clip_value >= 0, "clip_grad_value_", "clip_value must be >= 0, got {}", clip_value);
    NoGradGuard no_grad;
    for_each_grad(parameters, "clip_grad_value_", [&](auto* x, std::int64_t n) {
        using T = std::remove_pointer_t<decltype(x)>;
        const T hi = static_cast<T>(clip_value), lo = -hi;
        for (std::int64_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], lo, hi);  // NaN stays NaN
    });
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
    clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

}  // namespace tg::nn::utils
