// Activation functions, each backward right below its forward. Smooth ones run through
// xtensor expressions on contiguous float data (xsimd-vectorised by map_floating).
#include <cmath>
#include <type_traits>

#include "autograd/record.hpp"
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
}  // namespace

Tensor relu(const Tensor& a) {
    detail::check_defined(a, "relu");
    Tensor out = detail::map_unary(a, "relu", [](auto x) { return x > 0 ? x : decltype(x)(0); });
    // The output is all the backward needs (out > 0 exactly where a > 0): save only it.
    if (detail::needs_grad(a))
        detail::record("relu", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {relu_backward(g, so.unpack())};
        });
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
        });
    if (detail::needs_grad(a))
        detail::record("sigmoid", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor s = so.unpack();
            return {g * s * (1.0 - s)};
        });
    return out;
}

Tensor tanh(const Tensor& a) {
    detail::check_defined(a, "tanh");
    Tensor out = detail::map_floating(a, "tanh", [](auto x) { return std::tanh(x); },
                                      [](const auto& x) { return xt::tanh(x); });
    if (detail::needs_grad(a))
        detail::record("tanh", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor t = so.unpack();
            return {g * (1.0 - t * t)};
        });
    return out;
}

// x for x > 0, alpha (e^x - 1) otherwise. The backward saves the input: the output's sign
// would tell x > 0 only for alpha >= 0, and negative alpha is allowed.
Tensor elu(const Tensor& a, double alpha) {
    detail::check_defined(a, "elu");
    Tensor out = detail::map_floating(
        a, "elu",
        [alpha](auto x) {
            using T = decltype(x);
            return x > 0 ? x : static_cast<T>(alpha * std::expm1(x));
        },
        [alpha](const auto& x) {
            using T = value_t<decltype(x)>;
            return xt::where(x > T(0), x, static_cast<T>(alpha) * xt::expm1(x));
        });
    if (detail::needs_grad(a))
        detail::record("elu", {a}, out, [sa = SavedTensor(a), alpha](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            return {where(x > 0.0, g, g * exp(x) * alpha)};
        });
    return out;
}

Tensor leaky_relu(const Tensor& a, double negative_slope) {
    detail::check_defined(a, "leaky_relu");
    Tensor out = detail::map_floating(
        a, "leaky_relu",
        [negative_slope](auto x) {
            using T = decltype(x);
            return x > 0 ? x : static_cast<T>(negative_slope) * x;
        },
        [negative_slope](const auto& x) {
            using T = value_t<decltype(x)>;
            return xt::where(x > T(0), x, static_cast<T>(negative_slope) * x);
        });
    // Saves the input, for the same reason as elu (a negative slope flips the output's sign).
    if (detail::needs_grad(a))
        detail::record("leaky_relu", {a}, out, [sa = SavedTensor(a), negative_slope](const Tensor& g) -> GradList {
            return {where(sa.unpack() > 0.0, g, g * negative_slope)};
        });
    return out;
}

// log(1 + e^x) written as max(x, 0) + log1p(e^-|x|): e^x overflows for large x and
// log(1 + tiny) loses digits for very negative x; this form does neither.
Tensor softplus(const Tensor& a) {
    detail::check_defined(a, "softplus");
    Tensor out = detail::map_floating(
        a, "softplus",
        [](auto x) {
            using T = decltype(x);
            return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::abs(x)));
        },
        [](const auto& x) {
            using T = value_t<decltype(x)>;
            return xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x)));
        });
    if (detail::needs_grad(a))
        detail::record("softplus", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g * sigmoid(sa.unpack())};
        });
    return out;
}

}  // namespace tg
