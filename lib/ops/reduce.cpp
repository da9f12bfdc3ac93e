// Reductions over all or some dims, with keepdim. Float sums accumulate in double.
#include <algorithm>
#include <cmath>

#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
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
        const auto w = static_cast<std::size_t>(detail::wrap_dim(d, a.dim(), op));
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

// out (keepdim shape, contiguous, zeroed accumulator of type Acc) += a over reduced dims.
template <class Acc, class T>
void sum_into(const Tensor& a, const Tensor& acc) {
    const T* pa = impl_of(a).data_as<T>();
    Acc* po = impl_of(acc).data_as<Acc>();
    detail::for_each_row<2>(a.sizes(), {detail::broadcast_strides(acc.sizes(), acc.strides(), a.sizes()), a.strides()},
                            [&](const detail::StridedRow<2>& r) {
                                Acc* o = po + r.offsets[0];
                                const T* x = pa + r.offsets[1];
                                if (r.strides[0] == 0) {
                                    Acc s = 0;
                                    for (std::int64_t i = 0; i < r.count; ++i) s += static_cast<Acc>(x[i * r.strides[1]]);
                                    *o += s;
                                } else {
                                    for (std::int64_t i = 0; i < r.count; ++i)
                                        o[i * r.strides[0]] += static_cast<Acc>(x[i * r.strides[1]]);
                                }
                            });
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
    return out;
}

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor mean(const Tensor& a, const Shape& dims, bool keepdim) {
    detail::check_floating(a, "mean");
    const auto mask = reduced_dims(a, dims, "mean");
    std::int64_t count = 1;
    for (std::size_t d = 0; d < mask.size(); ++d)
        if (mask[d]) count *= a.sizes()[d];
    return sum(a, dims, keepdim) / static_cast<double>(count);
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
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim(), op));
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
        detail::wrap_dim(dim, 0, op);
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
    return sum(centered * centered, dims, keepdim) / static_cast<double>(count - (unbiased ? 1 : 0));
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
    return out;
}

}  // namespace tg
