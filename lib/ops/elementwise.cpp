// Elementwise arithmetic and math, each op's backward right below its forward.
// Binary ops broadcast (tensor/broadcast.hpp) and promote dtypes like libtorch.
#include <cmath>

#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::InputInfo;
using detail::SavedTensor;

namespace {

// Arithmetic never runs on bool: bool operands count as int64.
Dtype arithmetic_dtype(const Tensor& a, const Tensor& b) {
    const Dtype d = promote_types(a.dtype(), b.dtype());
    return d == kBool ? kInt64 : d;
}

void check_operands(const Tensor& a, const Tensor& b, std::string_view op) {
    detail::check_defined(a, op);
    detail::check_defined(b, op);
}

// A scalar operand as a 0-dim tensor: it takes the tensor's dtype, except that a
// fractional scalar with an integer tensor gives float32 (libtorch's rule).
Tensor scalar_like(const Tensor& t, double value) {
    Dtype d = t.dtype() == kBool ? kInt64 : t.dtype();
    if (!is_floating_point(d) && value != std::floor(value)) d = kFloat32;
    return scalar_tensor(value, d);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
    check_operands(a, b, "add");
    const Dtype d = arithmetic_dtype(a, b);
    Tensor out = alpha == 1.0
        ? detail::map_binary(a, b, d, d, "add", [](auto x, auto y) { return x + y; })
        : detail::map_binary(a, b, d, d, "add", [alpha](auto x, auto y) { return x + alpha * y; });
    if (detail::needs_grad(a, b))
        detail::record("add", {a, b}, out, [ia = InputInfo(a), ib = InputInfo(b), alpha](const Tensor& g) -> GradList {
            return {ia.reduce(g), ib.reduce(alpha == 1.0 ? g : g * alpha)};
        });
    return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
    check_operands(a, b, "sub");
    const Dtype d = arithmetic_dtype(a, b);
    Tensor out = detail::map_binary(a, b, d, d, "sub", [alpha](auto x, auto y) { return x - alpha * y; });
    if (detail::needs_grad(a, b))
        detail::record("sub", {a, b}, out, [ia = InputInfo(a), ib = InputInfo(b), alpha](const Tensor& g) -> GradList {
            return {ia.reduce(g), ib.reduce(g * -alpha)};
        });
    return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
    check_operands(a, b, "mul");
    const Dtype d = arithmetic_dtype(a, b);
    Tensor out = detail::map_binary(a, b, d, d, "mul", [](auto x, auto y) { return x * y; });
    if (detail::needs_grad(a, b))
        detail::record("mul", {a, b}, out,
                       [ia = InputInfo(a), ib = InputInfo(b), sa = SavedTensor(b.requires_grad() ? a : Tensor()),
                        sb = SavedTensor(a.requires_grad() ? b : Tensor())](const Tensor& g) -> GradList {
                           return {ia.requires_grad ? ia.reduce(g * sb.unpack()) : Tensor(),
                                   ib.requires_grad ? ib.reduce(g * sa.unpack()) : Tensor()};
                       });
    return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
    check_operands(a, b, "div");
    // True division: integer operands give float32, as in libtorch.
    Dtype d = arithmetic_dtype(a, b);
    if (!is_floating_point(d)) d = kFloat32;
    Tensor out = detail::map_binary(a, b, d, d, "div", [](auto x, auto y) { return x / y; });
    if (detail::needs_grad(a, b))
        detail::record("div", {a, b}, out,
                       [ia = InputInfo(a), ib = InputInfo(b), sa = SavedTensor(b.requires_grad() ? a : Tensor()),
                        sb = SavedTensor(b)](const Tensor& g) -> GradList {
                           const Tensor bv = sb.unpack();
                           return {ia.requires_grad ? ia.reduce(g / bv) : Tensor(),
                                   ib.requires_grad ? ib.reduce(-g * sa.unpack() / (bv * bv)) : Tensor()};
                       });
    return out;
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(scalar_like(a, b), a); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor rdiv(const Tensor& a, double b) { return div(scalar_like(a, b), a); }

Tensor neg(const Tensor& a) {
    detail::check_defined(a, "neg");
    Tensor out = detail::map_unary(a, "neg", [](auto x) { return -x; });
    if (detail::needs_grad(a))
        detail::record("neg", {a}, out, [](const Tensor& g) -> GradList { return {-g}; });
    return out;
}

Tensor exp(const Tensor& a) {
    detail::check_defined(a, "exp");
    Tensor out = detail::map_floating(a, "exp", [](auto x) { return std::exp(x); },
                                      [](const auto& x) { return xt::exp(x); });
    if (detail::needs_grad(a))
        detail::record("exp", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {g * so.unpack()};
        });
    return out;
}

Tensor log(const Tensor& a) {
    detail::check_defined(a, "log");
    Tensor out = detail::map_floating(a, "log", [](auto x) { return std::log(x); },
                                      [](const auto& x) { return xt::log(x); });
    if (detail::needs_grad(a))
        detail::record("log", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g / sa.unpack()};
        });
    return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace tg
