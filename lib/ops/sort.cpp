// sort, argsort, topk. The kernel here only orders indices; the values are then a gather at
// those indices (lib/ops/index.cpp), whose backward scatter-adds the gradient to where each
// value came from, and whose double backward is a gather again. No gradient reaches the
// indices (they are int64).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

namespace {

// x before y in ascending order, with NaN larger than every number (libtorch's order).
template <class T>
bool ascending_less(T x, T y) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(x)) return false;
        if (std::isnan(y)) return true;
    }
    return x < y;
}

// For every slice of a along d: the positions of its first k elements in the order
// (descending ? largest first : smallest first), ties broken by position, so the order is
// stable. `in_input_order` then lists those k positions ascending instead.
// Returns int64 of a's shape with dim d of size k.
Tensor order_indices(const Tensor& a, std::size_t d, std::int64_t k, bool descending, bool in_input_order) {
    const std::int64_t n = a.sizes()[d];
    Shape out_sizes = a.sizes(), rows = a.sizes();
    out_sizes[d] = k;
    rows[d] = 1;  // one visit per slice
    Tensor out = make_tensor(out_sizes, kInt64);
    // sort, argsort and topk are this node (their values are a traced gather by it).
    TG_TRACE("topk", {a}, out,
             {{"k", k}, {"dim", static_cast<std::int64_t>(d)}, {"largest", descending}, {"sorted", !in_input_order}});
    if (out.numel() == 0) return out;
    const std::int64_t step = a.strides()[d];
    const std::int64_t out_step = out.strides()[d];
    detail::visit_dtype(a.dtype(), [&](auto v) {  // every dtype, bool too (false < true)
        using T = decltype(v);
        const T* pa = impl_of(a).data_as<T>();
        std::int64_t* po = impl_of(out).data_as<std::int64_t>();
        std::vector<std::int64_t> order(static_cast<std::size_t>(n));
        detail::for_each_row<2>(rows, {a.strides(), out.strides()}, [&](const detail::StridedRow<2>& r) {
            for (std::int64_t s = 0; s < r.count; ++s) {
                const T* x = pa + r.offsets[0] + s * r.strides[0];
                std::int64_t* o = po + r.offsets[1] + s * r.strides[1];
                auto before = [&](std::int64_t i, std::int64_t j) {
                    const T xi = x[i * step], xj = x[j * step];
                    if (descending ? ascending_less(xj, xi) : ascending_less(xi, xj)) return true;
                    if (descending ? ascending_less(xi, xj) : ascending_less(xj, xi)) return false;
                    return i < j;  // equal keys (NaN equals NaN here): input order
                };
                std::iota(order.begin(), order.end(), std::int64_t{0});
                if (k == n) std::sort(order.begin(), order.end(), before);
                else std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
                if (in_input_order) std::sort(order.begin(), order.begin() + k);
                for (std::int64_t j = 0; j < k; ++j) o[j * out_step] = order[static_cast<std::size_t>(j)];
            }
        });
    });
    return out;
}

}  // namespace

std::tuple<Tensor, Tensor> sort(const Tensor& a, std::int64_t dim, bool descending) {
    detail::check_defined(a, "sort");
    const std::size_t d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "sort"));
    if (a.dim() == 0) return {gather(a, 0, zeros({}, kInt64)), zeros({}, kInt64)};
    Tensor indices = order_indices(a, d, a.sizes()[d], descending, false);
    return {gather(a, static_cast<std::int64_t>(d), indices), indices};
}

Tensor argsort(const Tensor& a, std::int64_t dim, bool descending) {
    detail::check_defined(a, "argsort");
    const std::size_t d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "argsort"));
    if (a.dim() == 0) return zeros({}, kInt64);
    return order_indices(a, d, a.sizes()[d], descending, false);
}

std::tuple<Tensor, Tensor> topk(const Tensor& a, std::int64_t k, std::int64_t dim, bool largest, bool sorted) {
    detail::check_defined(a, "topk");
    const std::size_t d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "topk"));
    const std::int64_t n = a.dim() == 0 ? 1 : a.sizes()[d];
    TG_CHECK(k >= 0 && k <= n, "topk", "k = {} is out of range for dim {} of size {} (shape {})", k, d, n,
             a.sizes());
    if (a.dim() == 0) return {gather(a, 0, zeros({}, kInt64)), zeros({}, kInt64)};
    Tensor indices = order_indices(a, d, k, largest, !sorted);
    return {gather(a, static_cast<std::int64_t>(d), indices), indices};
}

}  // namespace tg
