// softmax, log_softmax and logsumexp along one dim. All three share the log-sum-exp
// trick: with m = max(x), log(sum(exp(x))) = m + log(sum(exp(x - m))), where every
// exp(x - m) <= 1, so logits of +-1000 neither overflow nor lose the largest term.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {

enum class Mode { Softmax, LogSoftmax, LogSumExp };

using detail::DimLayout;

// The shift that keeps exp() in range. An infinite max (a row of -inf, or a +inf logit)
// is not subtracted, so logsumexp gives -inf / +inf there instead of NaN.
template <class T>
T shift_of(T max) {
    return std::isfinite(max) ? max : T(0);
}

// One contiguous row of `size` elements (the common case: dim is the last dim). y holds
// softmax or log_softmax of x; for LogSumExp only the returned value is used.
template <class T>
T row_kernel(const T* x, T* y, std::int64_t size, Mode mode) {
    T max = -std::numeric_limits<T>::infinity();
    for (std::int64_t i = 0; i < size; ++i) max = x[i] > max ? x[i] : max;
    const T shift = shift_of(max);
    double total = 0;  // float rows accumulate in double
    if (mode == Mode::Softmax) {
#ifdef __AVX2__
        const auto n = static_cast<std::size_t>(size);
        std::array<std::size_t, 1> shape{n};
        auto xv = xt::adapt(const_cast<T*>(x), n, xt::no_ownership(), shape);
        auto yv = xt::adapt(y, n, xt::no_ownership(), shape);
        xt::noalias(yv) = xt::exp(xv - shift);  // vectorised by xsimd
#else  // a baseline build: exp from the kernel compiled for this CPU's vector level
        for (std::int64_t i = 0; i < size; ++i) y[i] = x[i] - shift;
        detail::simd_unary(detail::SimdUnary::Exp, y, y, size);
#endif
        for (std::int64_t i = 0; i < size; ++i) total += y[i];
        const T scale = static_cast<T>(1.0 / total);
        for (std::int64_t i = 0; i < size; ++i) y[i] *= scale;
    } else {
        for (std::int64_t i = 0; i < size; ++i) total += std::exp(x[i] - shift);
    }
    const T lse = shift + static_cast<T>(std::log(total));
    if (mode == Mode::LogSoftmax)
        for (std::int64_t i = 0; i < size; ++i) y[i] = x[i] - lse;
    return lse;
}

// The same over a strided dim (inner > 1): each of the `inner` columns is one row of
// stride `inner`; the loops run along the contiguous inner index so memory is read in order.
template <class T>
void column_kernel(const T* x, T* y, T* lse_out, const DimLayout& l, Mode mode) {
    std::vector<T> max(static_cast<std::size_t>(l.inner));
    std::vector<double> total(static_cast<std::size_t>(l.inner));
    for (std::int64_t o = 0; o < l.outer; ++o) {
        const T* xo = x + o * l.size * l.inner;
        T* yo = y ? y + o * l.size * l.inner : nullptr;
        std::fill(max.begin(), max.end(), -std::numeric_limits<T>::infinity());
        std::fill(total.begin(), total.end(), 0.0);
        for (std::int64_t d = 0; d < l.size; ++d)
            for (std::int64_t j = 0; j < l.inner; ++j) max[j] = std::max(max[j], xo[d * l.inner + j]);
        for (std::int64_t j = 0; j < l.inner; ++j) max[j] = shift_of(max[j]);
        for (std::int64_t d = 0; d < l.size; ++d)
            for (std::int64_t j = 0; j < l.inner; ++j) {
                const T e = std::exp(xo[d * l.inner + j] - max[j]);
                total[j] += e;
                if (mode == Mode::Softmax) yo[d * l.inner + j] = e;
            }
        for (std::int64_t j = 0; j < l.inner; ++j) {
            const T lse = max[j] + static_cast<T>(std::log(total[j]));
            if (mode == Mode::LogSumExp) lse_out[o * l.inner + j] = lse;
            max[j] = mode == Mode::Softmax ? static_cast<T>(1.0 / total[j]) : lse;  // reuse as the row constant
        }
        if (mode == Mode::Softmax)
            for (std::int64_t d = 0; d < l.size; ++d)
                for (std::int64_t j = 0; j < l.inner; ++j) yo[d * l.inner + j] *= max[j];
        else if (mode == Mode::LogSoftmax)
            for (std::int64_t d = 0; d < l.size; ++d)
                for (std::int64_t j = 0; j < l.inner; ++j) yo[d * l.inner + j] = xo[d * l.inner + j] - max[j];
    }
}

// Forward of all three ops. Returns softmax/log_softmax of a's shape, or logsumexp with
// the reduced dim kept as size 1.
Tensor forward(const Tensor& a, std::size_t dim, Mode mode, std::string_view op) {
    const Tensor x = a.detach().contiguous();  // data only: the op records its own node
    const DimLayout l = detail::layout_around(x.sizes(), dim);
    Shape out_shape = x.sizes();
    if (mode == Mode::LogSumExp && !out_shape.empty()) out_shape[dim] = 1;
    Tensor out = make_tensor(out_shape, x.dtype());
    if (l.size == 0) {  // empty reduction: logsumexp of nothing is -inf
        out.fill_(mode == Mode::LogSumExp ? -std::numeric_limits<double>::infinity() : 0.0);
        return out;
    }
    detail::visit_floating(x.dtype(), op, [&](auto v) {
        using T = decltype(v);
        const T* px = impl_of(x).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        // rows (or outer slices) are independent: shared among threads, same bits at any count
        const std::int64_t rows_per_grain = std::max<std::int64_t>(1, detail::grain::row_elements / (l.size * l.inner));
        detail::parallel_for(l.outer, rows_per_grain, [&](std::int64_t first, std::int64_t last) {
            if (l.inner == 1) {
                for (std::int64_t o = first; o < last; ++o) {
                    const T lse = row_kernel(px + o * l.size, mode == Mode::LogSumExp ? nullptr : po + o * l.size,
                                             l.size, mode);
                    if (mode == Mode::LogSumExp) po[o] = lse;
                }
            } else {
                DimLayout part = l;
                part.outer = last - first;
                const std::int64_t offset = first * l.size * l.inner;
                column_kernel(px + offset, mode == Mode::LogSumExp ? nullptr : po + offset,
                              mode == Mode::LogSumExp ? po + first * l.inner : nullptr, part, mode);
            }
        });
    });
    return out;
}

std::size_t checked_dim(const Tensor& a, std::int64_t dim, std::string_view op) {
    detail::check_floating(a, op);
    const std::int64_t d = detail::wrap_dim(dim, a.sizes(), op);
    return a.dim() == 0 ? 0 : static_cast<std::size_t>(d);
}

// softmax and log_softmax: the forward along dim, and a backward from the saved output y
// alone (zero for a 0-d input, whose softmax is the constant 1).
template <class Backward>
Tensor softmax_op(const Tensor& a, std::int64_t dim, Mode mode, const char* op, Backward backward) {
    const std::size_t d = checked_dim(a, dim, op);
    Tensor out = forward(a, d, mode, op);
    if (detail::needs_grad(a))
        detail::record(op, {a}, out, [sy = SavedTensor(out, true), d, backward](const Tensor& g) -> GradList {
            const Tensor y = sy.unpack();
            if (y.dim() == 0) return {g * 0.0};
            return {backward(g, y, static_cast<std::int64_t>(d))};
        });
    TG_TRACE(op, {a}, out, {{"dim", dim}});
    return out;
}

}  // namespace

Tensor softmax(const Tensor& a, std::int64_t dim) {
    // dx = y * (g - sum(g * y)) along dim.
    return softmax_op(a, dim, Mode::Softmax, "softmax", [](const Tensor& g, const Tensor& y, std::int64_t d) {
        return y * (g - sum(g * y, {d}, true));
    });
}

Tensor log_softmax(const Tensor& a, std::int64_t dim) {
    // dx = g - softmax * sum(g) along dim, with softmax = exp(y).
    return softmax_op(a, dim, Mode::LogSoftmax, "log_softmax", [](const Tensor& g, const Tensor& y, std::int64_t d) {
        return g - exp(y) * sum(g, {d}, true);
    });
}

Tensor logsumexp(const Tensor& a, std::int64_t dim, bool keepdim) {
    const std::size_t d = checked_dim(a, dim, "logsumexp");
    Tensor out = forward(a, d, Mode::LogSumExp, "logsumexp");  // reduced dim kept as 1
    const Shape keep_shape = out.sizes();
    if (!keepdim && a.dim() > 0) out = reshape(out, [&] {
        Shape s = keep_shape;
        s.erase(d);
        return s;
    }());
    // dx = g * exp(x - logsumexp(x)) = g * softmax(x).
    if (detail::needs_grad(a))
        detail::record("logsumexp", {a}, out,
                       [sx = SavedTensor(a), sl = SavedTensor(out, true), keep_shape](const Tensor& g) -> GradList {
                           const Tensor lse = reshape(sl.unpack(), keep_shape);
                           return {reshape(g, keep_shape) * exp(sx.unpack() - lse)};
                       });
    TG_TRACE("logsumexp", {a}, out, {{"dim", dim}, {"keepdim", keepdim}});
    return out;
}

}  // namespace tg
