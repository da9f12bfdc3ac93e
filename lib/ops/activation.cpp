// Activation functions, each backward right below its forward. Smooth ones run through
// xtensor expressions on contiguous float data (xsimd-vectorised by map_floating).
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {
template <class X>
using value_t = typename std::decay_t<X>::value_type;

}  // namespace

namespace {
// relu's gradient: g where relu's output is positive, 0 elsewhere, in one pass (a mask,
// a zero and a where would allocate three tensors per backward). It records itself, as its
// own gradient in g is the same mask, so double backward works.
Tensor relu_backward(const Tensor& g, const Tensor& out) {
    Tensor grad = detail::map_binary(g, out, g.dtype(), g.dtype(), "relu_backward",
                                     [](auto gv, auto o) { return o > 0 ? gv : decltype(gv)(0); });
    if (detail::needs_grad(g))
        detail::record("relu_backward", {g}, grad, [so = SavedTensor(out)](const Tensor& gg) -> GradList {
            return {relu_backward(gg, so.unpack())};
        });
    return grad;
}

// x where x > 0, negative(x) elsewhere (elu, leaky_relu, traced with their one parameter):
// negative is given for one element and vectorised, and negative_grad(g, x) is the gradient on that side, in tapegrad ops (so double
// backward works). The backward saves the input: the output's sign would tell x > 0 only for a
// non-negative alpha or slope, and negative ones are allowed.
template <class Negative, class NegativeVec, class NegativeGrad>
Tensor positive_or(const Tensor& a, const char* op, const char* param_name, double param, Negative negative,
                   NegativeVec negative_vec, NegativeGrad negative_grad) {
    detail::check_defined(a, op);
    Tensor out = detail::map_floating(
        a, op, [negative](auto x) { return x > 0 ? x : negative(x); },
        [negative_vec](const auto& x) {
            using T = value_t<decltype(x)>;
            return xt::where(x > T(0), x, negative_vec(x));
        });
    if (detail::needs_grad(a))
        detail::record(op, {a}, out, [sa = SavedTensor(a), negative_grad](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            return {where(x > 0.0, g, negative_grad(g, x))};
        });
    TG_TRACE(op, {a}, out, {{param_name, param}});
    return out;
}

}  // namespace

Tensor relu(const Tensor& a) {
    detail::check_defined(a, "relu");
    Tensor out = detail::map_unary(a, "relu", [](auto x) { return x > 0 ? x : decltype(x)(0); });
    // The output is all the backward needs (out > 0 exactly where a > 0): save only it.
    if (detail::needs_grad(a))
        detail::record("relu", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {relu_backward(g, so.unpack())};
        });
    TG_TRACE("relu", {a}, out);
    return out;
}

Tensor sigmoid(const Tensor& a) {
    detail::check_defined(a, "sigmoid");
    // 1 / (1 + e^-x) never gives NaN: for very negative x, e^-x = inf and the result is 0.
    Tensor out = detail::map_floating(
        a, "sigmoid", [](auto x) { return decltype(x)(1) / (decltype(x)(1) + std::exp(-x)); },
        [](const auto& x) {
            using T = value_t<decltype(x)>;
            return T(1) / (T(1) + xt::exp(-x));
        },
        detail::SimdUnary::Sigmoid);
    if (detail::needs_grad(a))
        detail::record("sigmoid", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor s = so.unpack();
            return {g * s * (1.0 - s)};
        });
    TG_TRACE("sigmoid", {a}, out);
    return out;
}

Tensor tanh(const Tensor& a) {
    detail::check_defined(a, "tanh");
    Tensor out = detail::map_floating(a, "tanh", [](auto x) { return std::tanh(x); },
                                      [](const auto& x) { return xt::tanh(x); }, detail::SimdUnary::Tanh);
    if (detail::needs_grad(a))
        detail::record("tanh", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor t = so.unpack();
            return {g * (1.0 - t * t)};
        });
    TG_TRACE("tanh", {a}, out);
    return out;
}

// x for x > 0, alpha (e^x - 1) otherwise.
Tensor elu(const Tensor& a, double alpha) {
    return positive_or(
        a, "elu", "alpha", alpha,
        [alpha](auto x) { return static_cast<decltype(x)>(alpha * std::expm1(x)); },
        [alpha](const auto& x) { return static_cast<value_t<decltype(x)>>(alpha) * xt::expm1(x); },
        [alpha](const Tensor& g, const Tensor& x) { return g * exp(x) * alpha; });
}

// x for x > 0, negative_slope x otherwise.
Tensor leaky_relu(const Tensor& a, double negative_slope) {
    return positive_or(
        a, "leaky_relu", "negative_slope", negative_slope,
        [negative_slope](auto x) { return static_cast<decltype(x)>(negative_slope) * x; },
        [negative_slope](const auto& x) { return static_cast<value_t<decltype(x)>>(negative_slope) * x; },
        [negative_slope](const Tensor& g, const Tensor&) { return g * negative_slope; });
}

// libtorch's softplus: log(1 + e^(beta x)) / beta, and x itself where beta x > threshold
// (where the two agree to double precision). log(1 + e^z) is written as
// max(z, 0) + log1p(e^-|z|): e^z overflows for large z and log(1 + tiny) loses digits for
// very negative z; this form does neither. d/dx = sigmoid(beta x) (1 past the threshold).
Tensor softplus(const Tensor& a, double beta, double threshold) {
    detail::check_defined(a, "softplus");
    TG_CHECK(beta != 0.0, "softplus", "beta must be non-zero, got 0 (input of shape {})", a.sizes());
    Tensor out = detail::map_floating(
        a, "softplus",
        [beta, threshold](auto x) {
            using T = decltype(x);
            const T z = static_cast<T>(beta) * x;
            if (z > static_cast<T>(threshold)) return x;
            return ((z > 0 ? z : T(0)) + std::log1p(std::exp(-std::abs(z)))) / static_cast<T>(beta);
        },
        [beta, threshold](const auto& x) {
            using T = value_t<decltype(x)>;
            // Written out, not via a local for beta * x: the lazy expression would keep a
            // reference to that local after this lambda returns.
            return xt::where(T(beta) * x > T(threshold), x,
                             (xt::maximum(T(beta) * x, T(0)) + xt::log1p(xt::exp(-xt::abs(T(beta) * x)))) / T(beta));
        });
    if (detail::needs_grad(a))
        detail::record("softplus", {a}, out, [sa = SavedTensor(a), beta, threshold](const Tensor& g) -> GradList {
            const Tensor z = beta == 1.0 ? sa.unpack() : sa.unpack() * beta;
            const Tensor slope = sigmoid(z);
            return {std::isinf(threshold) ? g * slope : where(z.detach() > threshold, g, g * slope)};
        });
    TG_TRACE("softplus", {a}, out, {{"beta", beta}, {"threshold", threshold}});
    return out;
}

// ---- gelu, silu, the hard ones, selu, softsign ---------------------------------------------

Tensor gelu(const Tensor& a, std::string_view approximate) {
    detail::check_floating(a, "gelu");
    const bool tanh_form = approximate == "tanh";
    TG_CHECK(tanh_form || approximate == "none", "gelu",
             "approximate must be \"none\" or \"tanh\", got \"{}\" (tensor of shape {})", approximate, a.sizes());
    // x * Phi(x), Phi the standard normal CDF 0.5 (1 + erf(x / sqrt(2))); or its tanh fit
    // 0.5 x (1 + tanh(k (x + c x^3))), k = sqrt(2 / pi), c = 0.044715.
    constexpr double k = 0.7978845608028654, c = 0.044715;
    Tensor out = tanh_form
        ? detail::map_floating(
              a, "gelu",
              [](auto x) {
                  using T = decltype(x);
                  return T(0.5) * x * (T(1) + std::tanh(T(k) * (x + T(c) * x * x * x)));
              },
              [](const auto& x) {
                  using T = value_t<decltype(x)>;
                  return T(0.5) * x * (T(1) + xt::tanh(T(k) * (x + T(c) * x * x * x)));
              })
        : detail::map_floating(
              a, "gelu",
              [](auto x) {
                  using T = decltype(x);
                  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
              },
              [](const auto& x) {
                  using T = value_t<decltype(x)>;
                  return T(0.5) * x * (T(1) + xt::erf(x * T(M_SQRT1_2)));
              });
    if (detail::needs_grad(a))
        detail::record("gelu", {a}, out, [sa = SavedTensor(a), tanh_form](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            if (tanh_form) {
                // d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)).
                const Tensor x2 = x * x;
                const Tensor t = tanh((x + x2 * x * c) * k);
                return {g * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * (x2 * (3.0 * c) + 1.0) * (0.5 * k))};
            }
            // d/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2 / 2) / sqrt(2 pi).
            const Tensor cdf = (erf(x * M_SQRT1_2) + 1.0) * 0.5;
            const Tensor pdf = exp(x * x * -0.5) * 0.3989422804014327;
            return {g * (cdf + x * pdf)};
        });
    TG_TRACE("gelu", {a}, out, {{"approximate", approximate}});
    return out;
}

// x * sigmoid(x); d/dx = s (1 + x (1 - s)), s = sigmoid(x).
Tensor silu(const Tensor& a) {
    detail::check_floating(a, "silu");
    Tensor out = detail::map_floating(
        a, "silu", [](auto x) { return x / (decltype(x)(1) + std::exp(-x)); },
        [](const auto& x) {
            using T = value_t<decltype(x)>;
            return x / (T(1) + xt::exp(-x));
        });
    if (detail::needs_grad(a))
        detail::record("silu", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            const Tensor s = sigmoid(x);
            return {g * s * (x * (1.0 - s) + 1.0)};
        });
    TG_TRACE("silu", {a}, out);
    return out;
}

namespace {
// Where lo < x < hi (bounds exclusive), as a bool mask (1 byte per element): what a
// clipped-linear activation's backward saves instead of its input.
Tensor strictly_inside(const Tensor& x, double lo, double hi, std::string_view op) {
    Tensor inside = make_tensor(x.sizes(), kBool);
    detail::visit_floating(x.dtype(), op, [&](auto v) {
        using T = decltype(v);
        detail::unary_loop<bool, T>(x, inside, [lo, hi](T e) { return e > lo && e < hi; });
    });
    return inside;
}

// (x + shift) / divisor clipped to [lo, hi], with the gradient 1 / divisor strictly inside
// the clipping range and 0 outside and on its bounds (libtorch's hardtanh/hardsigmoid).
// hardtanh, relu6 and hardsigmoid are this with different constants; dividing (rather than
// multiplying by 1/6) makes hardsigmoid land exactly on 0 and 1 at x = -3 and 3.
Tensor clipped_linear(const Tensor& a, double shift, double divisor, double lo, double hi, std::string_view op) {
    Tensor out = detail::map_floating(
        a, op,
        [=](auto x) {
            using T = decltype(x);
            if (std::isnan(x)) return x;
            const T y = (x + static_cast<T>(shift)) / static_cast<T>(divisor);
            return y < T(lo) ? T(lo) : (y > T(hi) ? T(hi) : y);
        },
        [=](const auto& x) {
            using T = value_t<decltype(x)>;
            return xt::clip((x + static_cast<T>(shift)) / static_cast<T>(divisor), T(lo), T(hi));
        });
    // divisor > 0, so the input is strictly inside its clipping range exactly where the
    // output is strictly inside (lo, hi): the mask comes from the output.
    if (detail::needs_grad(a))
        detail::record(op, {a}, out, [sm = SavedTensor(strictly_inside(out, lo, hi, op)), divisor](const Tensor& g) -> GradList {
            const Tensor gs = divisor == 1.0 ? g : g / divisor;
            return {where(sm.unpack(), gs, scalar_tensor(0.0, g.dtype()))};
        });
    TG_TRACE(op, {a}, out, {{"min_val", lo}, {"max_val", hi}});
    return out;
}
}  // namespace

Tensor hardtanh(const Tensor& a, double min_val, double max_val) {
    detail::check_floating(a, "hardtanh");
    TG_CHECK(min_val < max_val, "hardtanh", "min_val {} must be less than max_val {} (tensor of shape {})", min_val,
             max_val, a.sizes());
    return clipped_linear(a, 0.0, 1.0, min_val, max_val, "hardtanh");
}

Tensor relu6(const Tensor& a) {
    detail::check_floating(a, "relu6");
    return clipped_linear(a, 0.0, 1.0, 0.0, 6.0, "relu6");
}

// (x + 3) / 6 clipped to [0, 1] (libtorch's relu6(x + 3) / 6).
Tensor hardsigmoid(const Tensor& a) {
    detail::check_floating(a, "hardsigmoid");
    return clipped_linear(a, 3.0, 6.0, 0.0, 1.0, "hardsigmoid");
}

// scale * (x for x > 0, alpha (e^x - 1) otherwise), with the constants of Klambauer et al.
// that make the activations self-normalising (libtorch's and TF's values).
Tensor selu(const Tensor& a) {
    detail::check_floating(a, "selu");
    constexpr double alpha = 1.6732632423543772848170429916717;
    constexpr double scale = 1.0507009873554804934193349852946;
    Tensor out = detail::map_floating(
        a, "selu",
        [](auto x) {
            using T = decltype(x);
            return static_cast<T>(scale) * (x > 0 ? x : static_cast<T>(alpha * std::expm1(x)));
        },
        [](const auto& x) {
            using T = value_t<decltype(x)>;
            return T(scale) * xt::where(x > T(0), x, T(alpha) * xt::expm1(x));
        });
    if (detail::needs_grad(a))
        detail::record("selu", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            return {where(x > 0.0, g * scale, g * exp(x) * (alpha * scale))};
        });
    TG_TRACE("selu", {a}, out);
    return out;
}

// x / (1 + |x|) (tf.nn.softsign); d/dx = 1 / (1 + |x|)^2.
Tensor softsign(const Tensor& a) {
    detail::check_floating(a, "softsign");
    Tensor out = detail::map_floating(
        a, "softsign", [](auto x) { return x / (decltype(x)(1) + std::abs(x)); },
        [](const auto& x) {
            using T = value_t<decltype(x)>;
            return x / (T(1) + xt::abs(x));
        });
    if (detail::needs_grad(a))
        detail::record("softsign", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g / square(abs(sa.unpack()) + 1.0)};
        });
    TG_TRACE("softsign", {a}, out);
    return out;
}

// ---- compositions (libtorch's F::logsigmoid, hardswish, mish): their gradients, of every
// order, are those of the ops they are written with.

// log(sigmoid(x)) = -softplus(-x), exact for any x (no log of an underflowed sigmoid).
Tensor logsigmoid(const Tensor& a) {
    detail::check_floating(a, "logsigmoid");
    return neg(softplus(neg(a), 1.0, std::numeric_limits<double>::infinity()));
}

// x * relu6(x + 3) / 6 (MobileNetV3's hard swish).
Tensor hardswish(const Tensor& a) {
    detail::check_floating(a, "hardswish");
    return a * hardsigmoid(a);
}

// x * tanh(softplus(x)) (Misra 2019).
Tensor mish(const Tensor& a) {
    detail::check_floating(a, "mish");
    return a * tanh(softplus(a));
}

}  // namespace tg
