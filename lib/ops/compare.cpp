// Comparisons, logical ops and where. Comparisons promote both operands (promote_types)
// and give bool tensors; they are not recorded (their derivative is zero). where is the
// exception: differentiable in its two value operands.
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"
#include "tensor/trace.hpp"

namespace tg {

using detail::GradList;
using detail::InputInfo;
using detail::SavedTensor;

namespace {

template <class F>
Tensor compare(const Tensor& a, const Tensor& b, std::string_view op, F&& f) {
    detail::check_defined(a, op);
    detail::check_defined(b, op);
    Tensor out = detail::map_binary(a, b, promote_types(a.dtype(), b.dtype()), kBool, op, f);
    TG_TRACE(op, {a, b}, out);
    return out;
}

// A scalar compared with a tensor: in the tensor's dtype when that is exact (a float
// tensor, or an integral value), else in float64 (int64 tensor < 1.5 compares as reals).
// Keeping a float32 tensor's dtype makes `t == 0.1` true where t holds 0.1f, as libtorch.
Tensor comparison_scalar(const Tensor& t, double value) {
    if (t.is_floating_point()) return scalar_tensor(value, t.dtype());
    return scalar_tensor(value, value == std::floor(value) ? kInt64 : kFloat64);
}

template <class T>
bool truthy(T x) {
    return x != T(0);
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", [](auto x, auto y) { return x >= y; }); }

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { detail::check_defined(a, "eq"); return eq(a, comparison_scalar(a, b)); }
Tensor operator!=(const Tensor& a, double b) { detail::check_defined(a, "ne"); return ne(a, comparison_scalar(a, b)); }
Tensor operator<(const Tensor& a, double b) { detail::check_defined(a, "lt"); return lt(a, comparison_scalar(a, b)); }
Tensor operator<=(const Tensor& a, double b) { detail::check_defined(a, "le"); return le(a, comparison_scalar(a, b)); }
Tensor operator>(const Tensor& a, double b) { detail::check_defined(a, "gt"); return gt(a, comparison_scalar(a, b)); }
Tensor operator>=(const Tensor& a, double b) { detail::check_defined(a, "ge"); return ge(a, comparison_scalar(a, b)); }

// ---- logical ops: any dtype, nonzero counts as true --------------------------------------

Tensor logical_not(const Tensor& a) {
    detail::check_defined(a, "logical_not");
    Tensor out = make_tensor(a.sizes(), kBool);
    detail::visit_dtype(a.dtype(), [&](auto v) {
        using T = decltype(v);
        detail::unary_loop<bool, T>(a, out, [](T x) { return !truthy(x); });
    });
    TG_TRACE("logical_not", {a}, out);
    return out;
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
    return compare(a, b, "logical_and", [](auto x, auto y) { return truthy(x) && truthy(y); });
}

Tensor logical_or(const Tensor& a, const Tensor& b) {
    return compare(a, b, "logical_or", [](auto x, auto y) { return truthy(x) || truthy(y); });
}

// ---- NaN / Inf tests ------------------------------------------------------------------------

namespace {
// pred(x) for each element of a float tensor; `integral_answer` for integer and bool ones.
template <class Pred>
Tensor float_predicate(const Tensor& a, std::string_view op, bool integral_answer, Pred&& pred) {
    detail::check_defined(a, op);
    Tensor out = make_tensor(a.sizes(), kBool);
    detail::visit_dtype(a.dtype(), [&](auto v) {
        using T = decltype(v);
        detail::unary_loop<bool, T>(a, out, [&](T x) {
            if constexpr (std::is_floating_point_v<T>) return pred(x);
            else return integral_answer;
        });
    });
    TG_TRACE(op, {a}, out);
    return out;
}
}  // namespace

Tensor isnan(const Tensor& a) { return float_predicate(a, "isnan", false, [](auto x) { return std::isnan(x); }); }
Tensor isinf(const Tensor& a) { return float_predicate(a, "isinf", false, [](auto x) { return std::isinf(x); }); }
Tensor isfinite(const Tensor& a) { return float_predicate(a, "isfinite", true, [](auto x) { return std::isfinite(x); }); }

// ---- logical reductions: any counts the nonzero elements; all is "not any zero" ---------------

Tensor any(const Tensor& a) {
    detail::check_defined(a, "any");
    return sum((a != 0.0).to(kInt64)) > 0.0;
}

Tensor any(const Tensor& a, std::int64_t dim, bool keepdim) {
    detail::check_defined(a, "any");
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "any");
    return sum((a != 0.0).to(kInt64), {d}, keepdim) > 0.0;
}

Tensor all(const Tensor& a) {
    detail::check_defined(a, "all");
    return logical_not(any(logical_not(a)));
}

Tensor all(const Tensor& a, std::int64_t dim, bool keepdim) {
    detail::check_defined(a, "all");
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "all");
    return logical_not(any(logical_not(a), d, keepdim));
}

// Written with where, so the gradient (and its own gradient) comes from where's backward:
// it reaches the input only where the input was finite.
Tensor nan_to_num(const Tensor& a, double nan, std::optional<double> posinf, std::optional<double> neginf) {
    detail::check_defined(a, "nan_to_num");
    if (!a.is_floating_point()) return a.clone();
    const bool single = a.dtype() == kFloat32;
    const double largest = single ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
    const Tensor replacement = where(isnan(a), scalar_tensor(nan, a.dtype()),
                                     where(a > 0.0, scalar_tensor(posinf.value_or(largest), a.dtype()),
                                           scalar_tensor(neginf.value_or(-largest), a.dtype())));
    return where(isfinite(a), a, replacement);
}

// ---- where ----------------------------------------------------------------------------------

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
    detail::check_defined(condition, "where");
    detail::check_defined(a, "where");
    detail::check_defined(b, "where");
    TG_CHECK(condition.dtype() == kBool, "where", "expected a bool condition, got {} of shape {} (compare first, e.g. x > 0)",
             dtype_name(condition.dtype()), condition.sizes());
    const Shape shape = detail::broadcast_shape(detail::broadcast_shape(condition.sizes(), a.sizes(), "where"),
                                                b.sizes(), "where");
    const Dtype d = promote_types(a.dtype(), b.dtype());
    Tensor ca = a, cb = b;
    {
        NoGradGuard no_grad;  // data conversions only: the node below links the originals
        if (ca.dtype() != d) ca = ca.to(d);
        if (cb.dtype() != d) cb = cb.to(d);
    }
    Tensor out = make_tensor(shape, d);
    const bool* pc = impl_of(condition).data_as<bool>();
    detail::visit_dtype(d, [&](auto v) {
        using T = decltype(v);
        const T* pa = impl_of(ca).data_as<T>();
        const T* pb = impl_of(cb).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        detail::for_each_row<4>(shape,
                                {out.strides(), detail::broadcast_strides(condition.sizes(), condition.strides(), shape),
                                 detail::broadcast_strides(ca.sizes(), ca.strides(), shape),
                                 detail::broadcast_strides(cb.sizes(), cb.strides(), shape)},
                                [&](const detail::StridedRow<4>& r) {
                                    T* o = po + r.offsets[0];
                                    const bool* c = pc + r.offsets[1];
                                    const T* x = pa + r.offsets[2];
                                    const T* y = pb + r.offsets[3];
                                    for (std::int64_t i = 0; i < r.count; ++i)
                                        o[i * r.strides[0]] = c[i * r.strides[1]] ? x[i * r.strides[2]] : y[i * r.strides[3]];
                                });
    });
    if (detail::needs_grad(a, b))
        detail::record("where", {a, b}, out,
                       [ia = InputInfo(a), ib = InputInfo(b), sc = SavedTensor(condition)](const Tensor& g) -> GradList {
                           const Tensor c = sc.unpack();
                           const Tensor zero = scalar_tensor(0.0, g.dtype());
                           return {ia.requires_grad ? ia.reduce(where(c, g, zero)) : Tensor(),
                                   ib.requires_grad ? ib.reduce(where(c, zero, g)) : Tensor()};
                       });
    TG_TRACE("where", {condition, a, b}, out);
    return out;
}

// ---- whole-tensor predicates ------------------------------------------------------------------

// |a - b| <= atol + rtol * |b| elementwise (b is the reference, as in libtorch), with a
// and b broadcast; NaN never compares close. Computed in float64.
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
    detail::check_defined(a, "allclose");
    detail::check_defined(b, "allclose");
    TG_CHECK(rtol >= 0 && atol >= 0, "allclose", "rtol and atol must be non-negative, got rtol {} atol {}", rtol, atol);
    const Tensor close = detail::map_binary(a, b, kFloat64, kBool, "allclose", [rtol, atol](auto x, auto y) {
        if (x == y) return true;  // also equal infinities
        return std::abs(x - y) <= atol + rtol * std::abs(y);
    });
    const bool* p = impl_of(close).data_as<bool>();
    for (std::int64_t i = 0; i < close.numel(); ++i)
        if (!p[i]) return false;
    return true;
}

bool equal(const Tensor& a, const Tensor& b) {
    detail::check_defined(a, "equal");
    detail::check_defined(b, "equal");
    if (a.sizes() != b.sizes()) return false;
    const Tensor same = eq(a, b);
    const bool* p = impl_of(same).data_as<bool>();
    for (std::int64_t i = 0; i < same.numel(); ++i)
        if (!p[i]) return false;
    return true;
}

}  // namespace tg
