// Reductions over all or some dims, with keepdim. Float sums accumulate in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {

// Which dims a reduction covers (empty list = all), validated and sorted.
std::vector<bool> reduced_dims(const Tensor& a, const Shape& dims, std::string_view op) {
    std::vector<bool> mask(a.sizes().size(), dims.empty());
    for (auto d : dims) {
        const auto w = static_cast<std::size_t>(detail::wrap_dim(d, a.sizes(), op));
        if (a.dim() == 0) continue;
        TG_CHECK(!mask[w], op, "dim {} is listed twice in {}", d, dims);
        mask[w] = true;
    }
    return mask;
}

Shape reduced_shape(const Shape& sizes, const std::vector<bool>& mask, bool keepdim) {
    Shape out;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
        if (!mask[d]) out.push_back(sizes[d]);
        else if (keepdim) out.push_back(1);
    }
    return out;
}

// po (accumulators, strides[0]; 0 on reduced dims) += pa (strides[1]) over `shape`.
template <class Acc, class T>
void sum_rows(const T* pa, Acc* po, const Shape& shape, const std::array<Shape, 2>& strides) {
    detail::for_each_row<2>(shape, strides, [&](const detail::StridedRow<2>& r) {
        Acc* o = po + r.offsets[0];
        const T* x = pa + r.offsets[1];
        if (r.strides[0] == 0) {
            Acc s = 0;
            for (std::int64_t i = 0; i < r.count; ++i) s += static_cast<Acc>(x[i * r.strides[1]]);
            *o += s;
        } else if (r.strides[0] == 1 && r.strides[1] == 1) {
            // Unit strides (a bias gradient: rows of a batch summed): a loop the compiler
            // vectorises; the strided one below is scalar. Same order per output: same bits.
            for (std::int64_t i = 0; i < r.count; ++i) o[i] += static_cast<Acc>(x[i]);
        } else {
            for (std::int64_t i = 0; i < r.count; ++i) o[i * r.strides[0]] += static_cast<Acc>(x[i * r.strides[1]]);
        }
    });
}

// out (keepdim shape, contiguous, zeroed accumulator of type Acc) += a over reduced dims.
// Large inputs are cut along one dim into fixed chunks (parallel.hpp): along the largest
// kept dim each chunk owns its outputs and adds in the serial order (same bits at any
// thread count); a full reduction sums each chunk apart and adds the partials in order.
template <class Acc, class T>
void sum_into(const Tensor& a, const Tensor& acc) {
    const T* pa = impl_of(a).data_as<T>();
    Acc* po = impl_of(acc).data_as<Acc>();
    const Shape& shape = a.sizes();
    const std::array<Shape, 2> strides{detail::broadcast_strides(acc.sizes(), acc.strides(), shape), a.strides()};
    std::size_t split = 0;
    bool kept = false;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        const bool d_kept = strides[0][d] != 0;
        if ((d_kept && !kept) || (d_kept == kept && shape[d] > shape[split])) split = d, kept = d_kept;
    }
    const std::int64_t chunks =
        shape.empty() ? 1 : std::min(detail::chunk_count(shape.numel(), detail::grain::reduction), shape[split]);
    if (chunks <= 1) {
        sum_rows(pa, po, shape, strides);
        return;
    }
    auto run_part = [&](std::int64_t c, Acc* out) {
        const std::int64_t b = detail::chunk_begin(shape[split], chunks, c, 1, 0);
        Shape part = shape;
        part[split] = detail::chunk_begin(shape[split], chunks, c + 1, 1, 0) - b;
        sum_rows(pa + b * strides[1][split], out + b * strides[0][split], part, strides);
    };
    if (kept) {
        detail::run_chunks(chunks, [&](std::int64_t c) { run_part(c, po); });
        return;
    }
    std::vector<Acc> partial(static_cast<std::size_t>(chunks), Acc{0});  // acc is one element
    detail::run_chunks(chunks, [&](std::int64_t c) { run_part(c, &partial[static_cast<std::size_t>(c)]); });
    for (Acc p : partial) *po += p;
}

// The gradient of a reduction with keepdim=false, reshaped so it broadcasts over the input.
Tensor unsqueeze_reduced(const Tensor& g, const Shape& keep_shape) {
    return g.sizes() == keep_shape ? g : reshape(g, keep_shape);
}

}  // namespace

Tensor sum(const Tensor& a, const Shape& dims, bool keepdim) {
    detail::check_defined(a, "sum");
    const auto mask = reduced_dims(a, dims, "sum");
    const Shape keep_shape = reduced_shape(a.sizes(), mask, true);
    const Dtype out_dtype = a.dtype() == kBool ? kInt64 : a.dtype();
    Tensor out;
    detail::visit_dtype(a.dtype(), [&](auto v) {
        using T = decltype(v);
        if constexpr (std::is_floating_point_v<T>) {
            Tensor acc = zeros(keep_shape, kFloat64);
            sum_into<double, T>(a, acc);
            out = acc.to(out_dtype);
        } else {
            Tensor acc = zeros(keep_shape, kInt64);
            sum_into<std::int64_t, T>(a, acc);
            out = acc;
        }
    });
    if (!keepdim) out = make_view(out, reduced_shape(a.sizes(), mask, false),
                                  contiguous_strides(reduced_shape(a.sizes(), mask, false)), 0);
    if (detail::needs_grad(a))
        detail::record("sum", {a}, out, [in_shape = a.sizes(), keep_shape](const Tensor& g) -> GradList {
            return {expand(unsqueeze_reduced(g, keep_shape), in_shape)};
        });
    TG_TRACE("sum", {a}, out, {{"dims", dims}, {"keepdim", keepdim}});
    return out;
}

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor mean(const Tensor& a, const Shape& dims, bool keepdim) {
    detail::check_floating(a, "mean");
    const auto mask = reduced_dims(a, dims, "mean");
    std::int64_t count = 1;
    for (std::size_t d = 0; d < mask.size(); ++d)
        if (mask[d]) count *= a.sizes()[d];
    Tensor out = sum(a, dims, keepdim) / static_cast<double>(count);
    // One node, not sum and a division by the traced count: a graph with a dynamic batch
    // must divide by the batch it is run with.
    TG_TRACE("mean", {a}, out, {{"dims", dims}, {"keepdim", keepdim}});
    return out;
}

Tensor mean(const Tensor& a) { return mean(a, {}, false); }

// ---- max / min / argmax / argmin -------------------------------------------------------------
// The arg-reductions are the kernels; max/min select the value at the arg index with
// gather/index_select, whose backward scatters the gradient to that one element. With
// ties the gradient goes to the first extreme element (the one argmax returns). libtorch
// does the same for max(dim); for the all-element max() it splits the gradient evenly
// among ties instead (both are valid subgradients). NaN counts as the extreme value, so
// it propagates like in libtorch.

namespace {

// True when x should replace best as the running extreme (first occurrence wins).
template <bool Largest, class T>
bool better(T x, T best) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(best)) return false;
        if (std::isnan(x)) return true;
    }
    return Largest ? x > best : x < best;
}

// Index of the extreme element along `dim` of every slice: int64 of a's shape with dim
// set to 1 (keepdim shape).
template <bool Largest>
Tensor arg_extreme(const Tensor& a, std::int64_t dim, std::string_view op) {
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), op));
    if (a.dim() == 0) return zeros({}, kInt64);
    const std::int64_t n = a.sizes()[d];
    TG_CHECK(n > 0, op, "cannot reduce over dim {} of size 0 (shape {}): there is no {}", d, a.sizes(),
             Largest ? "maximum" : "minimum");
    Shape keep = a.sizes();
    keep[d] = 1;
    Tensor out = make_tensor(keep, kInt64);
    const std::int64_t step = a.strides()[d];
    detail::visit_numeric(a.dtype(), op, [&](auto v) {
        using T = decltype(v);
        const T* pa = impl_of(a).data_as<T>();
        std::int64_t* po = impl_of(out).data_as<std::int64_t>();
        detail::for_each_row<2>(keep, {out.strides(), a.strides()}, [&](const detail::StridedRow<2>& r) {
            for (std::int64_t i = 0; i < r.count; ++i) {
                const T* x = pa + r.offsets[1] + i * r.strides[1];
                std::int64_t best = 0;
                for (std::int64_t j = 1; j < n; ++j)
                    if (better<Largest>(x[j * step], x[best * step])) best = j;
                po[r.offsets[0] + i * r.strides[0]] = best;
            }
        });
    });
    TG_TRACE(Largest ? "argmax" : "argmin", {a}, out, {{"dim", static_cast<std::int64_t>(d)}});
    return out;
}

template <bool Largest>
Tensor arg_extreme_dim(const Tensor& a, std::int64_t dim, bool keepdim, std::string_view op) {
    detail::check_defined(a, op);
    Tensor idx = arg_extreme<Largest>(a, dim, op);
    if (keepdim || a.dim() == 0) return idx;
    return squeeze(idx, dim);
}

// Index into the flattened tensor (0-dim int64).
template <bool Largest>
Tensor arg_extreme_all(const Tensor& a, std::string_view op) {
    detail::check_defined(a, op);
    TG_CHECK(a.numel() > 0, op, "cannot reduce an empty tensor of shape {}: there is no {}", a.sizes(),
             Largest ? "maximum" : "minimum");
    Tensor flat;
    {
        NoGradGuard no_grad;  // only the data is read
        flat = reshape(a, {-1});
    }
    return reshape(arg_extreme<Largest>(flat, 0, op), {});
}

template <bool Largest>
Tensor extreme_dim(const Tensor& a, std::int64_t dim, bool keepdim, std::string_view op) {
    detail::check_defined(a, op);
    if (a.dim() == 0) {
        detail::wrap_dim(dim, a.sizes(), op);
        return extreme_dim<Largest>(reshape(a, {1}), 0, false, op).reshape({});
    }
    const Tensor idx = arg_extreme<Largest>(a, dim, op);
    Tensor out = gather(a, dim, idx);
    return keepdim ? out : squeeze(out, dim);
}

template <bool Largest>
Tensor extreme_all(const Tensor& a, std::string_view op) {
    const Tensor idx = arg_extreme_all<Largest>(a, op);
    return reshape(index_select(reshape(a, {-1}), 0, reshape(idx, {1})), {});
}

}  // namespace

Tensor max(const Tensor& a) { return extreme_all<true>(a, "max"); }
Tensor min(const Tensor& a) { return extreme_all<false>(a, "min"); }
Tensor max(const Tensor& a, std::int64_t dim, bool keepdim) { return extreme_dim<true>(a, dim, keepdim, "max"); }
Tensor min(const Tensor& a, std::int64_t dim, bool keepdim) { return extreme_dim<false>(a, dim, keepdim, "min"); }
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim) { return arg_extreme_dim<true>(a, dim, keepdim, "argmax"); }
Tensor argmin(const Tensor& a, std::int64_t dim, bool keepdim) { return arg_extreme_dim<false>(a, dim, keepdim, "argmin"); }
Tensor argmax(const Tensor& a) { return arg_extreme_all<true>(a, "argmax"); }
Tensor argmin(const Tensor& a) { return arg_extreme_all<false>(a, "argmin"); }

// ---- var / std -------------------------------------------------------------------------------
// var = sum((a - mean)^2) / (N - unbiased), from existing ops: the tape then gives the exact
// gradient 2 (a - mean) / (N - unbiased). With N - unbiased == 0 (one element, unbiased)
// the result and its gradient are NaN, as in libtorch.

namespace {
std::int64_t reduced_count(const Tensor& a, const std::vector<bool>& mask) {
    std::int64_t count = 1;
    for (std::size_t d = 0; d < mask.size(); ++d)
        if (mask[d]) count *= a.sizes()[d];
    return count;
}
}  // namespace

Tensor var(const Tensor& a, const Shape& dims, bool unbiased, bool keepdim) {
    detail::check_floating(a, "var");
    const auto mask = reduced_dims(a, dims, "var");
    const std::int64_t count = reduced_count(a, mask);
    const Tensor centered = a - mean(a, dims, true);
    Tensor out = sum(centered * centered, dims, keepdim) / static_cast<double>(count - (unbiased ? 1 : 0));
    TG_TRACE("var", {a}, out, {{"dims", dims}, {"unbiased", unbiased}, {"keepdim", keepdim}});  // as mean's
    return out;
}

// std = sqrt(var). Its gradient g / (2 std) is infinite where std == 0 (all elements of a
// slice equal); like libtorch (since 1.8) we send 0 there instead, a valid subgradient, so
// a constant slice yields a zero gradient rather than NaN.
Tensor std(const Tensor& a, const Shape& dims, bool unbiased, bool keepdim) {
    detail::check_floating(a, "std");
    (void)reduced_dims(a, dims, "std");  // so a bad dim is reported as std's, not var's
    const Tensor v = var(a, dims, unbiased, keepdim);
    Tensor out = detail::map_floating(v, "std", [](auto x) { return std::sqrt(x); },
                                      [](const auto& x) { return xt::sqrt(x); });
    if (detail::needs_grad(v))
        detail::record("std", {v}, out, [so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor s = so.unpack();
            Tensor is_zero = make_tensor(s.sizes(), kBool);
            detail::visit_floating(s.dtype(), "std", [&](auto t) {
                using T = decltype(t);
                detail::unary_loop<bool, T>(s, is_zero, [](T x) { return x == T(0); });
            });
            return {masked_fill(g / (s * 2.0), is_zero, 0.0)};
        });
    TG_TRACE("std", {a}, out, {{"dims", dims}, {"unbiased", unbiased}, {"keepdim", keepdim}});
    return out;
}

// ---- prod / cumsum / cumprod ---------------------------------------------------------------
// The kernels walk a contiguous tensor as [outer, n, inner] around `dim`. No gradient here
// divides by the input: prod's is the product of the elements before and after each one
// (exclusive running products), cumprod's comes from a linear recurrence (linear_scan), so
// both are exact with any number of zeros, and written with ops, so they differentiate again.

namespace {

using detail::DimLayout;
using detail::layout_around;

// The one scan loop: along dim, out[.., 0, ..] = first(i) and out[.., k, ..] =
// step(out[.., k-1, ..], i), with i the flat index of the element being written.
template <class T, class First, class Step>
void scan_along(const Shape& sizes, std::size_t dim, T* po, First first, Step step) {
    const DimLayout l = layout_around(sizes, dim);
    for (std::int64_t o = 0; o < l.outer; ++o) {
        const std::int64_t base = o * l.size * l.inner;
        for (std::int64_t i = 0; i < l.inner && l.size > 0; ++i) po[base + i] = first(base + i);
        for (std::int64_t k = 1; k < l.size; ++k) {
            const std::int64_t row = base + k * l.inner;
            for (std::int64_t i = 0; i < l.inner; ++i) po[row + i] = step(po[row - l.inner + i], row + i);
        }
    }
}

// out[.., k, ..] = combine(out[.., k-1, ..], x[.., k, ..]) along dim, out[.., 0, ..] = x[.., 0, ..].
template <class T, class Combine>
void scan_kernel(const Tensor& x, const Tensor& out, std::size_t dim, Combine combine) {
    const T* px = impl_of(x).data_as<T>();
    scan_along<T>(x.sizes(), dim, impl_of(out).data_as<T>(), [px](std::int64_t i) { return px[i]; },
                  [&](T prev, std::int64_t i) { return combine(prev, px[i]); });
}

// Integer scans and products of bool count as int64 (libtorch's rule).
Tensor numeric_operand(const Tensor& a) { return (a.dtype() == kBool ? a.to(kInt64) : a).contiguous(); }

// cumsum's and cumprod's forward: the running combine(prev, cur) of a (bool as int64) along d.
template <class Combine>
Tensor numeric_scan(const Tensor& a, std::int64_t d, const char* op, Combine combine) {
    const Tensor x = numeric_operand(a);
    Tensor out = make_tensor(x.sizes(), x.dtype());
    detail::visit_numeric(x.dtype(), op, [&](auto v) {
        using T = decltype(v);
        scan_kernel<T>(x, out, static_cast<std::size_t>(d), [&](T prev, T cur) { return static_cast<T>(combine(prev, cur)); });
    });
    return out;
}

// a shifted one step along dim: fill first, a's last element dropped.
Tensor shifted(const Tensor& a, std::int64_t dim, double fill) {
    Shape first = a.sizes();
    first[static_cast<std::size_t>(dim)] = 1;
    const Tensor head = full(first, fill, a.dtype());
    const std::int64_t n = a.size(dim);
    return n == 1 ? head : cat({head, narrow(a, dim, 0, n - 1)}, dim);
}

// z[k] = u[k] + a[k] * z[k-1] along dim (z[-1] = 0), u and a of one shape and floating dtype.
// z is linear in u; its vector-Jacobian product is the same recurrence run backwards:
//   r[k] = g[k] + a[k+1] r[k+1],  grad_u = r,  grad_a[k] = r[k] z[k-1],
// so the backward is this op again (on reversed inputs) and differentiates to any order.
Tensor linear_scan(const Tensor& u, const Tensor& a, std::int64_t dim) {
    const auto d = static_cast<std::size_t>(dim);
    const Tensor cu = u.contiguous(), ca = (a.dtype() == u.dtype() ? a : a.to(u.dtype())).contiguous();
    Tensor out = make_tensor(u.sizes(), u.dtype());
    detail::visit_floating(u.dtype(), "cumprod", [&](auto v) {
        using T = decltype(v);
        const T* pu = impl_of(cu).data_as<T>();
        const T* pa = impl_of(ca).data_as<T>();
        scan_along<T>(u.sizes(), d, impl_of(out).data_as<T>(), [pu](std::int64_t i) { return pu[i]; },
                      [pu, pa](T prev, std::int64_t i) { return pu[i] + pa[i] * prev; });
    });
    if (detail::needs_grad(u, a))
        detail::record("linear_scan", {u, a}, out,
                       [dim, sa = SavedTensor(a), so = SavedTensor(a.requires_grad() ? out : Tensor(), true),
                        u_grad = u.requires_grad(), a_grad = a.requires_grad()](const Tensor& g) -> GradList {
                           const Tensor av = sa.unpack();
                           const Tensor r = flip(linear_scan(flip(g, {dim}), shifted(flip(av, {dim}), dim, 0.0), dim), {dim});
                           return {u_grad ? r : Tensor(), a_grad ? r * shifted(so.unpack(), dim, 0.0) : Tensor()};
                       });
    return out;
}

// A 0-dim tensor scans and reduces as one element (libtorch accepts dim 0 and -1).
template <class Op>
Tensor as_vector_if_scalar(const Tensor& a, std::int64_t dim, std::string_view op, Op&& f) {
    detail::wrap_dim(dim, a.sizes(), op);
    return reshape(f(reshape(a, {1}), 0), {});
}

}  // namespace

Tensor cumsum(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "cumsum");
    if (a.dim() == 0) return as_vector_if_scalar(a, dim, "cumsum", [](const Tensor& v, std::int64_t d) { return cumsum(v, d); });
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "cumsum");
    Tensor out = numeric_scan(a, d, "cumsum", [](auto prev, auto cur) { return prev + cur; });
    // d out[k] / d a[i] = 1 for k >= i: the gradient is the reversed running sum of g.
    if (detail::needs_grad(a))
        detail::record("cumsum", {a}, out, [d](const Tensor& g) -> GradList {
            return {flip(cumsum(flip(g, {d}), d), {d})};
        });
    TG_TRACE("cumsum", {a}, out, {{"dim", d}});
    return out;
}

Tensor cumprod(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "cumprod");
    if (a.dim() == 0) return as_vector_if_scalar(a, dim, "cumprod", [](const Tensor& v, std::int64_t d) { return cumprod(v, d); });
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "cumprod");
    Tensor out = numeric_scan(a, d, "cumprod", [](auto prev, auto cur) { return prev * cur; });
    // grad a[i] = sum_{k >= i} g[k] prod_{j <= k, j != i} a[j] = out[i-1] * r[i] with
    // r[i] = g[i] + a[i+1] r[i+1]: a running product before i times a backward recurrence.
    if (detail::needs_grad(a))
        detail::record("cumprod", {a}, out, [d, sa = SavedTensor(a), so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            const Tensor r = flip(linear_scan(flip(g, {d}), shifted(flip(x, {d}), d, 0.0), d), {d});
            return {shifted(so.unpack(), d, 1.0) * r};
        });
    TG_TRACE("cumprod", {a}, out, {{"dim", d}});
    return out;
}

// log(cumsum(exp(a))) without overflow: each step is a log-add-exp of the running value and
// the next element, max + log1p(exp(-|difference|)). The gradient
//   grad a[j] = sum_{k >= j} g[k] exp(a[j] - out[k]) = exp(a[j] - out[j]) * r[j],
//   r[j] = g[j] + exp(out[j] - out[j+1]) r[j+1],
// is a backward linear recurrence whose factors are all <= 1 (out never decreases), so no
// exp overflows at any magnitude; it is linear_scan again, so it differentiates further.
Tensor logcumsumexp(const Tensor& a, std::int64_t dim) {
    detail::check_floating(a, "logcumsumexp");
    if (a.dim() == 0)
        return as_vector_if_scalar(a, dim, "logcumsumexp", [](const Tensor& v, std::int64_t d) { return logcumsumexp(v, d); });
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "logcumsumexp");
    const Tensor x = a.contiguous();
    Tensor out = make_tensor(x.sizes(), x.dtype());
    detail::visit_floating(x.dtype(), "logcumsumexp", [&](auto v) {
        using T = decltype(v);
        scan_kernel<T>(x, out, static_cast<std::size_t>(d), [](T prev, T cur) {
            const T hi = std::max(prev, cur), lo = std::min(prev, cur);
            if (std::isnan(prev) || std::isnan(cur)) return prev + cur;  // NaN propagates
            if (lo == -std::numeric_limits<T>::infinity() || hi == std::numeric_limits<T>::infinity()) return hi;
            return hi + std::log1p(std::exp(lo - hi));
        });
    });
    if (detail::needs_grad(a))
        detail::record("logcumsumexp", {a}, out, [d, sa = SavedTensor(a), so = SavedTensor(out, true)](const Tensor& g) -> GradList {
            const Tensor y = so.unpack();
            // decay[k] = exp(out[k-1] - out[k]) (k >= 1) multiplies r[k] into r[k-1]
            const Tensor decay = exp(shifted(y, d, -std::numeric_limits<double>::infinity()) - y);
            const Tensor r = flip(linear_scan(flip(g, {d}), shifted(flip(decay, {d}), d, 0.0), d), {d});
            return {exp(sa.unpack() - y) * r};
        });
    TG_TRACE("logcumsumexp", {a}, out, {{"dim", d}});
    return out;
}

Tensor prod(const Tensor& a, std::int64_t dim, bool keepdim) {
    detail::check_defined(a, "prod");
    if (a.dim() == 0) {
        detail::wrap_dim(dim, a.sizes(), "prod");
        return a.dtype() == kBool ? a.to(kInt64) : a * 1.0;  // a copy, recorded like prod of one element
    }
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), "prod");
    const Tensor x = numeric_operand(a);
    Shape keep = x.sizes();
    keep[static_cast<std::size_t>(d)] = 1;
    Tensor out = make_tensor(keep, x.dtype());
    detail::visit_numeric(x.dtype(), "prod", [&](auto v) {
        using T = decltype(v);
        const DimLayout l = layout_around(x.sizes(), static_cast<std::size_t>(d));
        const T* px = impl_of(x).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        for (std::int64_t o = 0; o < l.outer; ++o) {
            T* row_out = po + o * l.inner;
            for (std::int64_t i = 0; i < l.inner; ++i) row_out[i] = T(1);
            for (std::int64_t k = 0; k < l.size; ++k) {
                const T* row = px + (o * l.size + k) * l.inner;
                for (std::int64_t i = 0; i < l.inner; ++i) row_out[i] *= row[i];
            }
        }
    });
    if (!keepdim) out = squeeze(out, d);
    // grad a[i] = g * prod_{j < i} a[j] * prod_{j > i} a[j]: exclusive running products from
    // both ends, so zeros (one or several) need no special case.
    if (detail::needs_grad(a))
        detail::record("prod", {a}, out, [d, keep, sa = SavedTensor(a)](const Tensor& g) -> GradList {
            const Tensor x = sa.unpack();
            const Tensor before = shifted(cumprod(x, d), d, 1.0);
            const Tensor after = flip(shifted(cumprod(flip(x, {d}), d), d, 1.0), {d});
            return {reshape(g, keep) * before * after};
        });
    TG_TRACE("prod", {a}, out, {{"dim", d}, {"keepdim", keepdim}});
    return out;
}

Tensor prod(const Tensor& a) {
    detail::check_defined(a, "prod");
    return prod(reshape(a, {-1}), 0, false);
}

// ---- norm --------------------------------------------------------------------------------------
// One tape node: the forward runs existing ops without recording; the backward is
//   p = 1:   g sign(a)
//   p = 2:   g a / norm                     (0 where the norm is 0, like libtorch)
//   p = inf: g sign(a) on the elements where |a| == norm, split evenly among ties
//   other p: g sign(a) |a|^(p-1) / norm^(p-1)   (0 where the norm is 0, and for p < 1 where a is 0)

Tensor norm(const Tensor& a, double p, const Shape& dims, bool keepdim) {
    detail::check_floating(a, "norm");
    TG_CHECK(p > 0, "norm", "p must be positive (or INFINITY), got {} (tensor of shape {})", p, a.sizes());
    const auto mask = reduced_dims(a, dims, "norm");
    const Shape keep_shape = reduced_shape(a.sizes(), mask, true);
    const bool inf = std::isinf(p);
    Tensor out;
    {
        NoGradGuard no_grad;
        const Tensor m = abs(a);
        if (inf) {
            // max |a| over several dims: flatten the reduced dims to the end, then max over them.
            Shape order, kept;
            for (std::size_t d = 0; d < mask.size(); ++d)
                if (!mask[d]) order.push_back(static_cast<std::int64_t>(d)), kept.push_back(a.sizes()[d]);
            for (std::size_t d = 0; d < mask.size(); ++d)
                if (mask[d]) order.push_back(static_cast<std::int64_t>(d));
            kept.push_back(-1);
            out = a.dim() == 0 ? m : reshape(max(reshape(permute(m, order), kept), -1), keep_shape);
        } else if (p == 1.0) {
            out = sum(m, dims, true);
        } else if (p == 2.0) {
            out = sqrt(sum(a * a, dims, true));
        } else {
            out = pow(sum(pow(m, p), dims, true), 1.0 / p);
        }
        if (!keepdim) out = reshape(out, reduced_shape(a.sizes(), mask, false));
    }
    if (detail::needs_grad(a))
        detail::record("norm", {a}, out,
                       [p, inf, dims, keep_shape, sa = SavedTensor(a), so = SavedTensor(out, true)](const Tensor& g) -> GradList {
                           const Tensor x = sa.unpack();
                           const Tensor gk = reshape(g, keep_shape), nk = reshape(so.unpack(), keep_shape);
                           const Tensor zero = scalar_tensor(0.0, x.dtype());
                           if (p == 1.0) return {gk * sign(x)};
                           if (inf) {
                               const Tensor is_max = (abs(x) == nk).to(x.dtype());
                               return {gk * sign(x) * is_max / sum(is_max, dims, true)};
                           }
                           const Tensor safe = where(nk == 0.0, scalar_tensor(1.0, x.dtype()), nk);
                           if (p == 2.0) return {where(nk == 0.0, zero, x * (gk / safe))};
                           const Tensor ratio = abs(x) / safe;  // |a| / norm, in [0, 1]
                           // For p < 1 the derivative at a == 0 is infinite: send 0 there (a
                           // subgradient choice) rather than 0 * inf = NaN.
                           const Tensor dead = p < 1.0 ? logical_or(nk == 0.0, x == 0.0) : nk == 0.0;
                           return {where(dead, zero, gk * sign(x) * pow(ratio, p - 1.0))};
                       });
    return out;
}

namespace nn::functional {

Tensor normalize(const Tensor& input, double p, std::int64_t dim, double eps) {
    detail::check_floating(input, "normalize");
    TG_CHECK(p > 0, "normalize", "p must be positive (or INFINITY), got {} (tensor of shape {})", p, input.sizes());
    detail::wrap_dim(dim, input.sizes(), "normalize");
    return input / clamp(norm(input, p, {dim}, true), eps, std::nullopt);
}

}  // namespace nn::functional

}  // namespace tg
