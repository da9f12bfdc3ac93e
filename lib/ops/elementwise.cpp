// Elementwise arithmetic and math, each op's backward right below its forward.
// Binary ops broadcast (tensor/broadcast.hpp) and promote dtypes like libtorch.
#include <cmath>
#include <type_traits>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::InputInfo;
using detail::SavedTensor;

namespace {

// Arithmetic never runs on bool: bool operands count as int64. Called after
// check_operands, so the dtypes are read through TensorImpl, inline.
Dtype arithmetic_dtype(const Tensor& a, const Tensor& b) {
    const Dtype d = promote_types(impl_of(a).dtype(), impl_of(b).dtype());
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

// base^e for integers by repeated squaring; wraps on overflow (unsigned arithmetic) like
// libtorch. A negative exponent has no integer result: an error, never a division by zero.
std::int64_t int_pow(std::int64_t base, std::int64_t e) {
    TG_CHECK(e >= 0, "pow", "integers to negative integer powers are not allowed (exponent {})", e);
    std::uint64_t result = 1, b = static_cast<std::uint64_t>(base);
    for (auto n = static_cast<std::uint64_t>(e); n != 0; n >>= 1) {
        if (n & 1) result *= b;
        b *= b;
    }
    return static_cast<std::int64_t>(result);
}

// max/min that propagate NaN (as libtorch's maximum/minimum do) instead of picking a side.
template <bool IsMax, class T>
T pick(T x, T y) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(x)) return x;
        if (std::isnan(y)) return y;
    }
    if constexpr (IsMax) return x > y ? x : y;
    else return x < y ? x : y;
}

Tensor zero_like_scalar(const Tensor& t) { return scalar_tensor(0.0, t.dtype()); }

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
    TG_TRACE("add", {a, b}, out, {{"alpha", alpha}});
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
    TG_TRACE("sub", {a, b}, out, {{"alpha", alpha}});
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
    TG_TRACE("mul", {a, b}, out);
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
    TG_TRACE("div", {a, b}, out);
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
    TG_TRACE("neg", {a}, out);
    return out;
}

Tensor exp(const Tensor& a) {
    detail::check_defined(a, "exp");
    Tensor out = detail::map_floating(a, "exp", [](auto x) { return std::exp(x); },
                                      [](const auto& x) { return xt::exp(x); }, detail::SimdUnary::Exp);
    if (detail::needs_grad(a))
        detail::record("exp", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {g * so.unpack()};
        });
    TG_TRACE("exp", {a}, out);
    return out;
}

Tensor log(const Tensor& a) {
    detail::check_defined(a, "log");
    Tensor out = detail::map_floating(a, "log", [](auto x) { return std::log(x); },
                                      [](const auto& x) { return xt::log(x); }, detail::SimdUnary::Log);
    if (detail::needs_grad(a))
        detail::record("log", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g / sa.unpack()};
        });
    TG_TRACE("log", {a}, out);
    return out;
}

// ---- powers -------------------------------------------------------------------------------

Tensor pow(const Tensor& a, double exponent) {
    detail::check_defined(a, "pow");
    // An integer tensor keeps its dtype for integral exponents; a fractional one gives float32.
    Tensor x = a.dtype() == kBool ? a.to(kInt64) : a;
    if (!x.is_floating_point() && exponent != std::floor(exponent)) x = x.to(kFloat32);
    Tensor out;
    if (x.is_floating_point()) {
        out = detail::map_floating(
            x, "pow", [exponent](auto v) { return std::pow(v, static_cast<decltype(v)>(exponent)); },
            [exponent](const auto& v) {
                using T = typename std::decay_t<decltype(v)>::value_type;
                return xt::pow(v, static_cast<T>(exponent));
            });
    } else {
        const auto e = static_cast<std::int64_t>(exponent);
        TG_CHECK(e >= 0, "pow", "integers to negative integer powers are not allowed (int64 tensor of shape {}, exponent {})",
                 a.sizes(), exponent);
        out = detail::map_unary(x, "pow", [e](auto v) { return int_pow(static_cast<std::int64_t>(v), e); });
    }
    if (detail::needs_grad(a))
        detail::record("pow", {a}, out, [sa = SavedTensor(a), exponent](const Tensor& g) -> GradList {
            // d/da a^e = e a^(e-1); the special cases avoid 0 * inf = NaN at a = 0.
            if (exponent == 0.0) return {g * 0.0};
            if (exponent == 1.0) return {g};
            if (exponent == 2.0) return {g * sa.unpack() * 2.0};
            return {g * pow(sa.unpack(), exponent - 1.0) * exponent};
        });
    TG_TRACE("pow", {a}, out, {{"exponent", exponent}});
    return out;
}

Tensor pow(const Tensor& a, const Tensor& exponent) {
    check_operands(a, exponent, "pow");
    const Dtype d = arithmetic_dtype(a, exponent);
    Tensor out = detail::map_binary(a, exponent, d, d, "pow", [](auto x, auto y) {
        using T = decltype(x);
        if constexpr (std::is_floating_point_v<T>) return std::pow(x, y);
        else return static_cast<T>(int_pow(static_cast<std::int64_t>(x), static_cast<std::int64_t>(y)));
    });
    if (detail::needs_grad(a, exponent))
        detail::record("pow", {a, exponent}, out,
                       [ia = InputInfo(a), ib = InputInfo(exponent), sa = SavedTensor(a), sb = SavedTensor(exponent),
                        so = SavedTensor(exponent.requires_grad() ? out : Tensor(), true)](const Tensor& g) -> GradList {
                           const Tensor av = sa.unpack(), bv = sb.unpack();
                           Tensor ga, gb;
                           // d/da = b a^(b-1), taken as 0 where b == 0 (0 * 0^-1 would be NaN);
                           // d/db = a^b log(a), taken as 0 where a == 0 and b >= 0 (the limit).
                           if (ia.requires_grad)
                               ga = ia.reduce(where(bv == 0.0, zero_like_scalar(g), g * bv * pow(av, bv - 1.0)));
                           if (ib.requires_grad)
                               gb = ib.reduce(where(logical_and(av == 0.0, bv >= 0.0), zero_like_scalar(g),
                                                    g * so.unpack() * log(av)));
                           return {ga, gb};
                       });
    TG_TRACE("pow", {a, exponent}, out);
    return out;
}

// The base becomes a 0-dim tensor of the exponent's dtype (float32 for a fractional base
// with an integer exponent), so the tensor-tensor pow and its backward serve both.
Tensor pow(double base, const Tensor& exponent) {
    detail::check_defined(exponent, "pow");
    return pow(scalar_like(exponent, base), exponent);
}

// ---- unary math -----------------------------------------------------------------------------

Tensor sqrt(const Tensor& a) {
    detail::check_defined(a, "sqrt");
    Tensor out = detail::map_floating(a, "sqrt", [](auto x) { return std::sqrt(x); },
                                      [](const auto& x) { return xt::sqrt(x); });
    if (detail::needs_grad(a))
        detail::record("sqrt", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {g / (so.unpack() * 2.0)};
        });
    TG_TRACE("sqrt", {a}, out);
    return out;
}

// sin, cos, rsqrt, reciprocal, expm1, log1p and erf take float32/float64 only (an integer
// tensor throws naming the op and its shape; convert with .to(kFloat32) first).

Tensor sin(const Tensor& a) {
    detail::check_floating(a, "sin");
    Tensor out = detail::map_floating(a, "sin", [](auto x) { return std::sin(x); },
                                      [](const auto& x) { return xt::sin(x); });
    if (detail::needs_grad(a))
        detail::record("sin", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g * cos(sa.unpack())};
        });
    TG_TRACE("sin", {a}, out);
    return out;
}

Tensor cos(const Tensor& a) {
    detail::check_floating(a, "cos");
    Tensor out = detail::map_floating(a, "cos", [](auto x) { return std::cos(x); },
                                      [](const auto& x) { return xt::cos(x); });
    if (detail::needs_grad(a))
        detail::record("cos", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {-g * sin(sa.unpack())};
        });
    TG_TRACE("cos", {a}, out);
    return out;
}

// d/da a^(-1/2) = -a^(-3/2) / 2 = -out^3 / 2: the output is all the backward needs.
Tensor rsqrt(const Tensor& a) {
    detail::check_floating(a, "rsqrt");
    Tensor out = detail::map_floating(
        a, "rsqrt", [](auto x) { return decltype(x)(1) / std::sqrt(x); },
        [](const auto& x) {
            using T = typename std::decay_t<decltype(x)>::value_type;
            return T(1) / xt::sqrt(x);
        });
    if (detail::needs_grad(a))
        detail::record("rsqrt", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor y = so.unpack();
            return {g * y * y * y * -0.5};
        });
    TG_TRACE("rsqrt", {a}, out);
    return out;
}

// d/da 1/a = -1/a^2 = -out^2.
Tensor reciprocal(const Tensor& a) {
    detail::check_floating(a, "reciprocal");
    Tensor out = detail::map_floating(
        a, "reciprocal", [](auto x) { return decltype(x)(1) / x; },
        [](const auto& x) {
            using T = typename std::decay_t<decltype(x)>::value_type;
            return T(1) / x;
        });
    if (detail::needs_grad(a))
        detail::record("reciprocal", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor y = so.unpack();
            return {-g * y * y};
        });
    TG_TRACE("reciprocal", {a}, out);
    return out;
}

// d/da (e^a - 1) = e^a = out + 1.
Tensor expm1(const Tensor& a) {
    detail::check_floating(a, "expm1");
    Tensor out = detail::map_floating(a, "expm1", [](auto x) { return std::expm1(x); },
                                      [](const auto& x) { return xt::expm1(x); });
    if (detail::needs_grad(a))
        detail::record("expm1", {a}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            return {g * (so.unpack() + 1.0)};
        });
    TG_TRACE("expm1", {a}, out);
    return out;
}

Tensor log1p(const Tensor& a) {
    detail::check_floating(a, "log1p");
    Tensor out = detail::map_floating(a, "log1p", [](auto x) { return std::log1p(x); },
                                      [](const auto& x) { return xt::log1p(x); });
    if (detail::needs_grad(a))
        detail::record("log1p", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g / (sa.unpack() + 1.0)};
        });
    TG_TRACE("log1p", {a}, out);
    return out;
}

// d/da erf(a) = 2 / sqrt(pi) * e^(-a^2).
Tensor erf(const Tensor& a) {
    detail::check_floating(a, "erf");
    Tensor out = detail::map_floating(a, "erf", [](auto x) { return std::erf(x); },
                                      [](const auto& x) { return xt::erf(x); });
    if (detail::needs_grad(a))
        detail::record("erf", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            return {g * exp(-(x * x)) * 1.1283791670955126};  // 2 / sqrt(pi)
        });
    TG_TRACE("erf", {a}, out);
    return out;
}

Tensor abs(const Tensor& a) {
    detail::check_defined(a, "abs");
    Tensor out = detail::map_unary(a, "abs", [](auto x) { return std::abs(x); });
    if (detail::needs_grad(a))
        detail::record("abs", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g * sign(sa.unpack())};  // subgradient 0 at 0, as libtorch
        });
    TG_TRACE("abs", {a}, out);
    return out;
}

// Not recorded: its derivative is zero wherever it exists, so no gradient flows through.
Tensor sign(const Tensor& a) {
    detail::check_defined(a, "sign");
    Tensor out = detail::map_unary(a, "sign", [](auto x) { return (x > 0) - (x < 0); });
    TG_TRACE("sign", {a}, out);
    return out;
}

Tensor square(const Tensor& a) {
    detail::check_defined(a, "square");
    Tensor out = detail::map_unary(a, "square", [](auto x) { return x * x; });
    if (detail::needs_grad(a))
        detail::record("square", {a}, out, [sa = SavedTensor(a)](const Tensor& g) -> GradList {
            return {g * sa.unpack() * 2.0};
        });
    TG_TRACE("square", {a}, out);
    return out;
}

Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) {
    detail::check_defined(a, "clamp");
    TG_CHECK(min || max, "clamp", "at least one of min and max must be given (tensor of shape {})", a.sizes());
    TG_CHECK(!min || !max || *min <= *max, "clamp", "min {} is greater than max {}", *min, *max);
    // Fractional bounds on an integer tensor give float32, like the scalar operands of add.
    Tensor x = a.dtype() == kBool ? a.to(kInt64) : a;
    const auto fractional = [](std::optional<double> v) { return v && *v != std::floor(*v); };
    if (!x.is_floating_point() && (fractional(min) || fractional(max))) x = x.to(kFloat32);
    const double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
    Tensor out = detail::map_unary(x, "clamp", [lo, hi](auto v) {
        using T = decltype(v);
        if constexpr (std::is_floating_point_v<T>)
            if (std::isnan(v)) return v;
        return v < lo ? static_cast<T>(lo) : (v > hi ? static_cast<T>(hi) : v);
    });
    if (detail::needs_grad(a)) {
        // The gradient passes where lo <= a <= hi (bounds inclusive, as libtorch): save
        // that bool mask (1 byte per element) rather than the input.
        Tensor inside = make_tensor(x.sizes(), kBool);
        detail::visit_floating(x.dtype(), "clamp", [&](auto v) {
            using T = decltype(v);
            detail::unary_loop<bool, T>(x, inside, [lo, hi](T e) { return e >= lo && e <= hi; });
        });
        detail::record("clamp", {a}, out, [sm = SavedTensor(inside)](const Tensor& g) -> GradList {
            return {where(sm.unpack(), g, zero_like_scalar(g))};
        });
    }
    TG_TRACE("clamp", {a}, out, {{"min", min.value_or(-HUGE_VAL)}, {"max", max.value_or(HUGE_VAL)}});
    return out;
}

namespace {
// maximum and minimum: the gradient goes to the operand that was picked; on ties it is
// split half/half between a and b (as libtorch does), so the sum of both gradients is g.
template <bool IsMax>
Tensor max_or_min(const Tensor& a, const Tensor& b, std::string_view op) {
    check_operands(a, b, op);
    const Dtype d = arithmetic_dtype(a, b);
    Tensor out = detail::map_binary(a, b, d, d, op, [](auto x, auto y) { return pick<IsMax>(x, y); });
    if (detail::needs_grad(a, b))
        detail::record(op, {a, b}, out,
                       [ia = InputInfo(a), ib = InputInfo(b), sa = SavedTensor(a), sb = SavedTensor(b)](
                           const Tensor& g) -> GradList {
                           const Tensor av = sa.unpack(), bv = sb.unpack();
                           const Tensor zero = zero_like_scalar(g);
                           const Tensor half = where(av == bv, g * 0.5, zero);
                           const Tensor a_wins = IsMax ? av > bv : av < bv;
                           const Tensor b_wins = IsMax ? bv > av : bv < av;
                           return {ia.reduce(where(a_wins, g, half)), ib.reduce(where(b_wins, g, half))};
                       });
    TG_TRACE(op, {a, b}, out);
    return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return max_or_min<true>(a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return max_or_min<false>(a, b, "minimum"); }

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
