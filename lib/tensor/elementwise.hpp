// Kernels shared by every elementwise op: one strided/broadcast loop (iterate.hpp) with
// a contiguous fast path. `vectorized` variants send contiguous float data through
// xtensor expressions, which xsimd vectorises (exp, log, tanh, ... gain most).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "tensor/broadcast.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/iterate.hpp"
#include "tensor/parallel.hpp"
#include "tensor/simd_kernels.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

// Bool and int64 operands and bool results (comparisons, masks, predicates, conversions
// to or from them) are off the training path: their maps run one general strided loop
// over rows (unary_row/binary_row), driven by the non-template run_unary_rows/
// run_binary_rows (elementwise.cpp) for contiguous and strided tensors alike. Float maps
// keep their loops inline, one per stride pattern plus the contiguous one: four dtypes
// of those in every op were a fifth of the library (issue 15, size).
template <class Out, class In>
inline constexpr bool compact_map = std::is_same_v<Out, bool> || std::is_integral_v<In>;

// A row of a compact map: `r` holds element offsets and strides from the operands' base
// pointers; `f` points to the map's function object.
using UnaryRow = void (*)(const void* f, void* out, const void* a, const StridedRow<2>& r);
using BinaryRow = void (*)(const void* f, void* out, const void* a, const void* b, const StridedRow<3>& r);

template <class Out, class In, class F>
void unary_row(const void* f, void* out, const void* a, const StridedRow<2>& r) {
    const F& fn = *static_cast<const F*>(f);
    Out* o = static_cast<Out*>(out) + r.offsets[0];
    const In* x = static_cast<const In*>(a) + r.offsets[1];
    for (std::int64_t i = 0; i < r.count; ++i) o[i * r.strides[0]] = fn(x[i * r.strides[1]]);
}

template <class Out, class A, class B, class F>
void binary_row(const void* f, void* out, const void* a, const void* b, const StridedRow<3>& r) {
    const F& fn = *static_cast<const F*>(f);
    Out* o = static_cast<Out*>(out) + r.offsets[0];
    const A* x = static_cast<const A*>(a) + r.offsets[1];
    const B* y = static_cast<const B*>(b) + r.offsets[2];
    for (std::int64_t i = 0; i < r.count; ++i) o[i * r.strides[0]] = fn(x[i * r.strides[1]], y[i * r.strides[2]]);
}

// Runs `row` over all of out (a, b broadcast to its shape), the rows shared among threads
// from `grain` elements on; a contiguous map is cut into plain unit-stride rows.
void run_unary_rows(const Tensor& a, const Tensor& out, std::int64_t grain, UnaryRow row, const void* f);
void run_binary_rows(const Tensor& a, const Tensor& b, const Tensor& out, std::int64_t grain, BinaryRow row,
                     const void* f);

// In-place rows, o[i] = f(o[i]) and o[i] = f(o[i], y[i]): restrict tells the compiler o
// and y never overlap (callers check), so it vectorises them without run-time checks.
// Not inlined: inlined into parallel_for's one-chunk path, GCC left the copy scalar.
template <class T, class F>
[[gnu::noinline]] void in_place_row(T* __restrict o, std::int64_t n, const F& f) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(o[i]);
}
template <class T, class B, class F>
[[gnu::noinline]] void in_place_row(T* __restrict o, const B* __restrict y, std::int64_t n, const F& f) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(o[i], y[i]);
}
template <class T, class B>
bool disjoint(const T* a, std::int64_t na, const B* b, std::int64_t nb) {
    const auto a0 = reinterpret_cast<std::uintptr_t>(a), b0 = reinterpret_cast<std::uintptr_t>(b);
    return a0 + std::uintptr_t(na) * sizeof(T) <= b0 || b0 + std::uintptr_t(nb) * sizeof(B) <= a0;
}

// out[i] = f(a[i]) with a's elements read as In, written as Out; out has a's shape.
// Shared among threads from `grain` elements on (parallel.hpp): pass grain::costly for
// an f that costs more than a few instructions.
// The loops read their operands (defined tensors) through TensorImpl, inline: the Tensor
// accessors are calls into the library, a dozen per scalar op (issue 15, per-op overhead).
template <class Out, class In, class F>
void unary_loop(const Tensor& a, const Tensor& out, F&& f, std::int64_t grain = grain::cheap) {
    if constexpr (compact_map<Out, In>) {
        run_unary_rows(a, out, grain, &unary_row<Out, In, std::remove_cvref_t<F>>, std::addressof(f));
    } else {
        const TensorImpl& ia = impl_of(a);
        const TensorImpl& io = impl_of(out);
        const In* pa = ia.data_as<In>();
        Out* po = io.data_as<Out>();
        if (ia.is_contiguous() && io.is_contiguous()) {
            if constexpr (std::is_same_v<Out, In>) {
                if (po == pa) {  // in place: a restrict-qualified row (see binary_loop)
                    parallel_for_aligned(po, ia.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
                        in_place_row(po + begin, end - begin, f);
                    });
                    return;
                }
            }
            parallel_for_aligned(po, ia.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) po[i] = f(pa[i]);
            });
            return;
        }
        parallel_for_each_row<2>(io.sizes(), {io.strides(), broadcast_strides(ia.sizes(), ia.strides(), io.sizes())},
                                 grain, [&](const StridedRow<2>& r) {
                                     Out* o = po + r.offsets[0];
                                     const In* x = pa + r.offsets[1];
                                     for (std::int64_t i = 0; i < r.count; ++i)
                                         o[i * r.strides[0]] = f(x[i * r.strides[1]]);
                                 });
    }
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <class Out, class A, class B, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F&& f, std::int64_t grain = grain::cheap) {
    if constexpr (compact_map<Out, A>) {
        run_binary_rows(a, b, out, grain, &binary_row<Out, A, B, std::remove_cvref_t<F>>, std::addressof(f));
    } else {
        const TensorImpl& ia = impl_of(a);
        const TensorImpl& ib = impl_of(b);
        const TensorImpl& io = impl_of(out);
        const A* pa = ia.data_as<A>();
        const B* pb = ib.data_as<B>();
        Out* po = io.data_as<Out>();
        const Shape& shape = io.sizes();
        if (ia.is_contiguous() && ib.is_contiguous() && io.is_contiguous() && ia.sizes() == shape &&
            ib.sizes() == shape) {
            // In place (a += b, a gradient accumulated): through restrict-qualified rows, which
            // GCC vectorises outright. The general loop below ran scalar here (perf: movss/
            // addss accumulating LSTM weight gradients, a tenth of the step; add_ took 2.5x
            // the time of a + b).
            if constexpr (std::is_same_v<Out, A>) {
                const std::int64_t n = io.numel();
                if (po == pa && disjoint(po, n, pb, n)) {
                    parallel_for_aligned(po, n, grain, [&](std::int64_t begin, std::int64_t end) {
                        in_place_row(po + begin, pb + begin, end - begin, f);
                    });
                    return;
                }
            }
            parallel_for_aligned(po, io.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
            });
            return;
        }
        parallel_for_each_row<3>(shape,
                                 {io.strides(), broadcast_strides(ia.sizes(), ia.strides(), shape),
                                  broadcast_strides(ib.sizes(), ib.strides(), shape)},
                                 grain, [&](const StridedRow<3>& r) {
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
                                         for (std::int64_t i = 0; i < r.count; ++i)
                                             o[i * so] = f(x[i * sa], y[i * sb]);
                                     }
                                 });
    }
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
// `dispatched`, when given, names the same map in simd_kernels.hpp, compiled for each
// vector level and picked at run time: the portable build's contiguous path uses it.
template <class F, class V>
Tensor map_floating(const Tensor& a, std::string_view op, F&& f, V&& vectorized,
                    std::optional<SimdUnary> dispatched = std::nullopt) {
    Tensor out = make_tensor(a.sizes(), a.dtype());
    visit_floating(a.dtype(), op, [&](auto v) {
        using T = decltype(v);
        if (a.is_contiguous()) {
            const T* pa = impl_of(a).data_as<T>();
            T* po = impl_of(out).data_as<T>();
            parallel_for_aligned(po, a.numel(), grain::costly, [&](std::int64_t begin, std::int64_t end) {
#ifndef __AVX2__  // a baseline build: the dispatched kernel has the wider vectors
                if (dispatched) {
                    simd_unary(*dispatched, pa + begin, po + begin, end - begin);
                    return;
                }
#endif
                const auto n = static_cast<std::size_t>(end - begin);
                std::array<std::size_t, 1> shape{n};
                auto x = xt::adapt(pa + begin, n, xt::no_ownership(), shape);
                auto y = xt::adapt(po + begin, n, xt::no_ownership(), shape);
                xt::noalias(y) = vectorized(x);
            });
        } else {
            unary_loop<T, T>(a, out, [&](T x) { return static_cast<T>(f(x)); }, grain::costly);
        }
    });
    return out;
}

// A new tensor f(a, b) over the broadcast shape, computed in dtype `compute` and stored
// as `result`: bool where f returns bool (comparisons, logical ops), else `compute`
// itself. a and b are converted to `compute` first if needed.
// The stored type follows from f's return type rather than from a second dtype switch:
// a switch inside the switch compiled every (compute, result) pair, 16 loops per op of
// which 4 ran, and made binary loops a quarter of the library's code (issue 15, size).
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, Dtype compute, Dtype result, std::string_view op, F&& f) {
    const Shape shape = broadcast_shape(a.sizes(), b.sizes(), op);  // checked: a and b are defined
    const Tensor ca = impl_of(a).dtype() == compute ? a : a.to(compute);
    const Tensor cb = impl_of(b).dtype() == compute ? b : b.to(compute);
    Tensor out = make_tensor(shape, result);
    visit_dtype(compute, [&](auto v) {
        using T = decltype(v);
        using R = std::conditional_t<std::is_same_v<decltype(f(T{}, T{})), bool>, bool, T>;
        TG_CHECK(result == dtype_of<R>::value, op, "internal: a {} result of a {} map", dtype_name(result),
                 dtype_name(compute));
        binary_loop<R, T, T>(ca, cb, out, [&](T x, T y) { return static_cast<R>(f(x, y)); });
    });
    return out;
}

}  // namespace tg::detail
