// Embedding lookup: rows of a (V, D) table picked by int64 indices of any shape.
// The lookup (a gather of rows) and its backward (a scatter-add of rows, so repeated
// indices sum their gradients) are adjoint, recorded ops: double backward works.
#include <algorithm>
#include <cstring>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::nn::functional {

using detail::GradList;

namespace {

Tensor embedding_scatter(const Tensor& grad, const Tensor& indices, std::int64_t rows);

// out[i, :] = weight[indices[i], :] (indices already validated and contiguous).
Tensor embedding_gather(const Tensor& indices, const Tensor& weight) {
    const Tensor cw = weight.detach().contiguous();
    const std::int64_t d = weight.sizes()[1], n = indices.numel();
    Shape out_shape = indices.sizes();
    out_shape.push_back(d);
    Tensor out = make_tensor(out_shape, weight.dtype());
    detail::visit_floating(weight.dtype(), "embedding", [&](auto v) {
        using T = decltype(v);
        const auto* pi = impl_of(indices).data_as<std::int64_t>();
        const T* pw = impl_of(cw).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        const std::int64_t row_bytes = d * static_cast<std::int64_t>(sizeof(T));
        detail::parallel_for(n, std::max<std::int64_t>(1, detail::grain::copy_bytes / std::max<std::int64_t>(1, row_bytes)),
                             [&](std::int64_t begin, std::int64_t end) {
                                 for (std::int64_t i = begin; i < end; ++i)
                                     std::memcpy(po + i * d, pw + pi[i] * d, static_cast<std::size_t>(row_bytes));
                             });
    });
    if (detail::needs_grad(weight))
        detail::record("embedding", {weight}, out, [indices, rows = weight.sizes()[0]](const Tensor& g) -> GradList {
            return {embedding_scatter(g, indices, rows)};
        });
    return out;
}

// dweight[indices[i], :] += grad[i, :]
Tensor embedding_scatter(const Tensor& grad, const Tensor& indices, std::int64_t rows) {
    const Tensor cg = grad.detach().contiguous();
    const std::int64_t d = grad.size(-1), n = indices.numel();
    Tensor dw = zeros({rows, d}, grad.dtype());
    detail::visit_floating(grad.dtype(), "embedding", [&](auto v) {
        using T = decltype(v);
        const auto* pi = impl_of(indices).data_as<std::int64_t>();
        const T* pg = impl_of(cg).data_as<T>();
        T* pd = impl_of(dw).data_as<T>();
        // indices repeat, so threads split the columns: each column still adds its rows in
        // index order, the same bits at any thread count
        detail::parallel_for(d, std::max<std::int64_t>(1, detail::grain::cheap / std::max<std::int64_t>(1, n)),
                             [&](std::int64_t j_begin, std::int64_t j_end) {
                                 for (std::int64_t i = 0; i < n; ++i) {
                                     T* row = pd + pi[i] * d;
                                     const T* src = pg + i * d;
                                     for (std::int64_t j = j_begin; j < j_end; ++j) row[j] += src[j];
                                 }
                             });
    });
    if (detail::needs_grad(grad))
        detail::record("embedding_backward", {grad}, dw, [indices](const Tensor& h) -> GradList {
            return {embedding_gather(indices, h)};
        });
    return dw;
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight) {
    detail::check_defined(indices, "embedding");
    detail::check_defined(weight, "embedding");
    TG_CHECK(indices.dtype() == kInt64, "embedding", "indices must be int64, got {} (shape {})",
             dtype_name(indices.dtype()), indices.sizes());
    TG_CHECK(weight.dim() == 2, "embedding", "weight must be 2-D (num_embeddings, embedding_dim), got shape {}",
             weight.sizes());
    detail::check_floating(weight, "embedding");
    const Tensor idx = indices.detach().contiguous();
    const std::int64_t rows = weight.sizes()[0];
    const auto* pi = impl_of(idx).data_as<std::int64_t>();
    for (std::int64_t i = 0; i < idx.numel(); ++i)
        TG_CHECK(pi[i] >= 0 && pi[i] < rows, "embedding",
                 "index {} is out of range for a weight of {} rows (shape {}); expected 0 <= index < {}", pi[i], rows,
                 weight.sizes(), rows);
    Tensor out = embedding_gather(idx, weight);
    TG_TRACE("embedding", {indices, weight}, out);
    return out;
}

}  // namespace tg::nn::functional
