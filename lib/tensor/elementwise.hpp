// Kernels shared by every elementwise op: one strided/broadcast loop (iterate.hpp) with
// a contiguous fast path. `vectorized` variants send contiguous float data through
// xtensor expressions, which xsimd vectorises (exp, log, tanh, ... gain most).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "tensor/broadcast.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/iterate.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

// out[i] = f(a[i]) with a's elements read as In, written as Out; out has a's shape.
template <class Out, class In, class F>
void unary_loop(const Tensor& a, const Tensor& out, F&& f) {
    const In* pa = impl_of(a).data_as<In>();
    Out* po = impl_of(out).data_as<Out>();
    if (a.is_contiguous() && out.is_contiguous()) {
        const std::int64_t n = a.numel();
        for (std::int64_t i = 0; i < n; ++i) po[i] = f(pa[i]);
        return;
    }
    for_each_row<2>(out.sizes(), {out.strides(), broadcast_strides(a.sizes(), a.strides(), out.sizes())},
                    [&](const StridedRow<2>& r) {
                        Out* o = po + r.offsets[0];
                        const In* x = pa + r.offsets[1];
                        for (std::int64_t i = 0; i < r.count; ++i) o[i * r.strides[0]] = f(x[i * r.strides[1]]);
                    });
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <class Out, class A, class B, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F&& f) {
    const A* pa = impl_of(a).data_as<A>();
    const B* pb = impl_of(b).data_as<B>();
    Out* po = impl_of(out).data_as<Out>();
    const Shape& shape = out.sizes();
    if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous() && a.sizes() == shape &&
        b.sizes() == shape) {
        const std::int64_t n = out.numel();
        for (std::int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
        return;
    }
    for_each_row<3>(shape,
                    {out.strides(), broadcast_strides(a.sizes(), a.strides(), shape),
                     broadcast_strides(b.sizes(), b.strides(), shape)},
                    [&](const StridedRow<3>& r) {
                        Out* o = po + r.offsets[0];
                        const A* x = pa + r.offsets[1];
                        const B* y = pb + r.offsets[2];
                        const auto so = r.strides[0], sa = r.strides[1], sb = r.strides[2];
                        if (so == 1 && sa == 1 && sb == 1) {
                            for (std::int64_t i = 0; i < r.count; ++i) o[i] = f(x[i], y[i]);
                        } else if (so == 1 && sa == 1 && sb == 0) {
                            const B yv = *y;
                            for (std::int64_t i = 0; i < r.count; ++i) o[i] = f(x[i], yv);
                        } else if (so == 1 && sa == 0 && sb == 1) {
                            const A xv = *x;
                            for (std::int64_t i = 0; i < r.count; ++i) o[i] = f(xv, y[i]);
                        } else {
                            for (std::int64_t i = 0; i < r.count; ++i) o[i * so] = f(x[i * sa], y[i * sb]);
                        }
                    });
}

// A new tensor f(a) of a's shape and dtype (numeric dtypes).
template <class F>
Tensor map_unary(const Tensor& a, std::string_view op, F&& f) {
    Tensor out = make_tensor(a.sizes(), a.dtype());
    visit_numeric(a.dtype(), op, [&](auto v) {
        using T = decltype(v);
        unary_loop<T, T>(a, out, [&](T x) { return static_cast<T>(f(x)); });
    });
    return out;
}

// Float-only unary map; contiguous inputs go through the xtensor expression
// `vectorized(xt_array)` (xsimd-vectorised), the rest through the scalar `f`.
template <class F, class V>
Tensor map_floating(const Tensor& a, std::string_view op, F&& f, V&& vectorized) {
    Tensor out = make_tensor(a.sizes(), a.dtype());
    visit_floating(a.dtype(), op, [&](auto v) {
        using T = decltype(v);
        if (a.is_contiguous()) {
            const auto n = static_cast<std::size_t>(a.numel());
            std::array<std::size_t, 1> shape{n};
            auto x = xt::adapt(impl_of(a).data_as<T>(), n, xt::no_ownership(), shape);
            auto y = xt::adapt(impl_of(out).data_as<T>(), n, xt::no_ownership(), shape);
            xt::noalias(y) = vectorized(x);
        } else {
            unary_loop<T, T>(a, out, [&](T x) { return static_cast<T>(f(x)); });
        }
    });
    return out;
}

// A new tensor f(a, b) over the broadcast shape, computed in dtype `compute` and stored
// as `result` (bool for comparisons). a and b are converted to `compute` first if needed.
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, Dtype compute, Dtype result, std::string_view op, F&& f) {
    const Shape shape = broadcast_shape(a.sizes(), b.sizes(), op);
    const Tensor ca = a.dtype() == compute ? a : a.to(compute);
    const Tensor cb = b.dtype() == compute ? b : b.to(compute);
    Tensor out = make_tensor(shape, result);
    visit_dtype(compute, [&](auto v) {
        using T = decltype(v);
        visit_dtype(result, [&](auto r) {
            using R = decltype(r);
            binary_loop<R, T, T>(ca, cb, out, [&](T x, T y) { return static_cast<R>(f(x, y)); });
        });
    });
    return out;
}

}  // namespace tg::detail
