// Indexing and joining: index_select, gather, masked_select/masked_fill, cat/stack and the
// splitting ops. Every index is checked against the dim size before the element it points
// to is read, so a bad index throws tg::Error instead of reading out of bounds.
//
// The backward of each selecting op scatters (adds) the gradient back into the input's
// shape; that scatter is itself a recorded op whose backward is the selection again, so
// double backward works.
#include <algorithm>

#include <fmt/ranges.h>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {

// Throws "op: index i is out of range for dim d of size n" unless 0 <= i < n.
inline void check_index(std::int64_t i, std::int64_t n, std::size_t d, const Shape& shape, std::string_view op) {
    TG_CHECK(i >= 0 && i < n, op, "index {} is out of range for dim {} of size {} (shape {})", i, d, n, shape);
}

void check_index_tensor(const Tensor& index, std::string_view op) {
    detail::check_defined(index, op);
    TG_CHECK(index.dtype() == kInt64, op, "index must be an int64 tensor, got {} of shape {}",
             dtype_name(index.dtype()), index.sizes());
}

// `shape` without dim d (and `strides` likewise): the slice that one index picks.
Shape drop_dim(const Shape& shape, std::size_t d) {
    Shape out = shape;
    out.erase(d);
    return out;
}

// ---- index_select and its scatter-add ------------------------------------------------------

// out.select(d, j) (+)= a.select(d, index[j]) for every j; `accumulate` adds into out
// (the backward's scatter), otherwise copies. Validates every index first.
void index_copy_kernel(const Tensor& src, const Tensor& dst, std::size_t d, const Tensor& index, bool scatter,
                       std::string_view op) {
    // In the forward (scatter=false) index picks src slices; in the scatter it picks dst slices.
    const Tensor& indexed = scatter ? dst : src;
    const std::int64_t n = indexed.sizes()[d];
    const Tensor idx = index.contiguous();
    const std::int64_t* pi = impl_of(idx).data_as<std::int64_t>();
    const std::int64_t k = idx.numel();
    for (std::int64_t j = 0; j < k; ++j) check_index(pi[j], n, d, indexed.sizes(), op);
    const Shape slice = drop_dim(src.sizes(), d);
    const Shape src_strides = drop_dim(src.strides(), d);
    const Shape dst_strides = drop_dim(dst.strides(), d);
    detail::visit_dtype(src.dtype(), [&](auto v) {
        using T = decltype(v);
        const T* ps = impl_of(src).data_as<T>();
        T* pd = impl_of(dst).data_as<T>();
        for (std::int64_t j = 0; j < k; ++j) {
            const std::int64_t sj = scatter ? j : pi[j], dj = scatter ? pi[j] : j;
            const T* s = ps + sj * src.strides()[d];
            T* o = pd + dj * dst.strides()[d];
            detail::for_each_row<2>(slice, {dst_strides, src_strides}, [&](const detail::StridedRow<2>& r) {
                for (std::int64_t i = 0; i < r.count; ++i) {
                    T& out = o[r.offsets[0] + i * r.strides[0]];
                    const T x = s[r.offsets[1] + i * r.strides[1]];
                    if (scatter) out = static_cast<T>(out + x);
                    else out = x;
                }
            });
        }
    });
}

// zeros(in_shape) with g's slices added at `index` along d (repeated indices sum): the
// backward of index_select; its own backward is index_select again.
Tensor index_scatter_add(const Tensor& g, std::size_t d, const Tensor& index, const Shape& in_shape) {
    Tensor out = zeros(in_shape, g.dtype());
    index_copy_kernel(g, out, d, index, true, "index_select");
    if (detail::needs_grad(g))
        detail::record("index_select_backward", {g}, out, [d, si = SavedTensor(index)](const Tensor& gg) -> GradList {
            return {index_select(gg, static_cast<std::int64_t>(d), si.unpack())};
        });
    return out;
}

// ---- gather and its scatter-add ------------------------------------------------------------

// gather: out[p] = a[p with p_d := index[p]]; scatter: out[p with p_d := index[p]] += src[p].
// Iterates over index's shape; `other` is a for gather, out for scatter.
template <bool Scatter>
void gather_kernel(const Tensor& values, const Tensor& other, std::size_t d, const Tensor& index) {
    constexpr std::string_view op = "gather";
    const Tensor& indexed = Scatter ? other : values;  // the tensor the index points into
    const Tensor& dense = Scatter ? values : other;    // the tensor of index's shape
    const std::int64_t n = indexed.sizes()[d];
    const std::int64_t step = indexed.strides()[d];
    Shape indexed_strides = indexed.strides();
    indexed_strides[d] = 0;  // dim d is addressed by the index value, not the counter
    const std::int64_t* pi = impl_of(index).data_as<std::int64_t>();
    detail::visit_dtype(values.dtype(), [&](auto v) {
        using T = decltype(v);
        T* px = impl_of(indexed).data_as<T>();
        T* pd = impl_of(dense).data_as<T>();
        detail::for_each_row<3>(index.sizes(), {dense.strides(), index.strides(), indexed_strides},
                                [&](const detail::StridedRow<3>& r) {
                                    for (std::int64_t i = 0; i < r.count; ++i) {
                                        const std::int64_t j = pi[r.offsets[1] + i * r.strides[1]];
                                        check_index(j, n, d, indexed.sizes(), op);
                                        T& x = px[r.offsets[2] + i * r.strides[2] + j * step];
                                        T& y = pd[r.offsets[0] + i * r.strides[0]];
                                        if constexpr (Scatter) x = static_cast<T>(x + y);
                                        else y = x;
                                    }
                                });
    });
}

// zeros(in_shape) with g scattered (added) at `index` along d: gather's backward.
Tensor gather_scatter_add(const Tensor& g, std::size_t d, const Tensor& index, const Shape& in_shape) {
    Tensor out = zeros(in_shape, g.dtype());
    gather_kernel<true>(g, out, d, index);
    if (detail::needs_grad(g))
        detail::record("gather_backward", {g}, out, [d, si = SavedTensor(index)](const Tensor& gg) -> GradList {
            return {gather(gg, static_cast<std::int64_t>(d), si.unpack())};
        });
    return out;
}

// ---- masked_select's scatter ----------------------------------------------------------------

// A tensor of mask's shape holding g's elements (in order) where mask is true, 0 elsewhere.
Tensor masked_scatter(const Tensor& g, const Tensor& mask) {
    Tensor out = zeros(mask.sizes(), g.dtype());
    const Tensor gc = g.contiguous();
    const bool* pm = impl_of(mask).data_as<bool>();
    detail::visit_dtype(g.dtype(), [&](auto v) {
        using T = decltype(v);
        const T* pg = impl_of(gc).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        std::int64_t k = 0;
        detail::for_each_row<2>(mask.sizes(), {out.strides(), mask.strides()}, [&](const detail::StridedRow<2>& r) {
            for (std::int64_t i = 0; i < r.count; ++i)
                if (pm[r.offsets[1] + i * r.strides[1]]) po[r.offsets[0] + i * r.strides[0]] = pg[k++];
        });
    });
    if (detail::needs_grad(g))
        detail::record("masked_select_backward", {g}, out, [sm = SavedTensor(mask)](const Tensor& gg) -> GradList {
            return {masked_select(gg, sm.unpack())};
        });
    return out;
}

void check_mask(const Tensor& mask, std::string_view op) {
    detail::check_defined(mask, op);
    TG_CHECK(mask.dtype() == kBool, op, "mask must be a bool tensor, got {} of shape {}", dtype_name(mask.dtype()),
             mask.sizes());
}

}  // namespace

Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index) {
    detail::check_defined(a, "index_select");
    check_index_tensor(index, "index_select");
    TG_CHECK(index.dim() <= 1, "index_select", "index must be 1-D, got shape {}", index.sizes());
    if (a.dim() == 0) {  // a scalar as a 1-element vector, like libtorch
        detail::wrap_dim(dim, a.sizes(), "index_select");
        return reshape(index_select(reshape(a, {1}), 0, index), index.dim() == 0 ? Shape{} : Shape{index.numel()});
    }
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "index_select"));
    Shape sizes = a.sizes();
    sizes[d] = index.numel();
    Tensor out = make_tensor(sizes, a.dtype());
    index_copy_kernel(a, out, d, index, false, "index_select");
    if (detail::needs_grad(a))
        detail::record("index_select", {a}, out,
                       [d, si = SavedTensor(index), in_shape = a.sizes()](const Tensor& g) -> GradList {
                           return {index_scatter_add(g, d, si.unpack(), in_shape)};
                       });
    return out;
}

Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index) {
    detail::check_defined(a, "gather");
    check_index_tensor(index, "gather");
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "gather"));
    TG_CHECK(index.dim() == a.dim(), "gather", "index of shape {} must have the rank of the input of shape {}",
             index.sizes(), a.sizes());
    for (std::size_t k = 0; k < a.sizes().size(); ++k)
        TG_CHECK(k == d || index.sizes()[k] <= a.sizes()[k], "gather",
                 "index of shape {} is larger than the input of shape {} in dim {} (only dim {} may differ)",
                 index.sizes(), a.sizes(), k, d);
    if (a.dim() == 0) return reshape(gather(reshape(a, {1}), 0, reshape(index, {1})), {});
    Tensor out = make_tensor(index.sizes(), a.dtype());
    gather_kernel<false>(a, out, d, index);
    if (detail::needs_grad(a))
        detail::record("gather", {a}, out, [d, si = SavedTensor(index), in_shape = a.sizes()](const Tensor& g) -> GradList {
            return {gather_scatter_add(g, d, si.unpack(), in_shape)};
        });
    return out;
}

// a and mask broadcast to one shape (like libtorch); the selected elements in row-major order.
Tensor masked_select(const Tensor& a, const Tensor& mask) {
    detail::check_defined(a, "masked_select");
    check_mask(mask, "masked_select");
    const Shape shape = detail::broadcast_shape(a.sizes(), mask.sizes(), "masked_select");
    const Tensor ax = expand(a, shape);  // a view; its backward sums over broadcast dims
    const Tensor mx = expand(mask, shape);
    const bool* pm = impl_of(mx).data_as<bool>();
    std::int64_t count = 0;
    detail::for_each_row<1>(shape, {mx.strides()}, [&](const detail::StridedRow<1>& r) {
        for (std::int64_t i = 0; i < r.count; ++i) count += pm[r.offsets[0] + i * r.strides[0]] ? 1 : 0;
    });
    Tensor out = make_tensor({count}, a.dtype());
    detail::visit_dtype(a.dtype(), [&](auto v) {
        using T = decltype(v);
        const T* pa = impl_of(ax).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        std::int64_t k = 0;
        detail::for_each_row<2>(shape, {ax.strides(), mx.strides()}, [&](const detail::StridedRow<2>& r) {
            for (std::int64_t i = 0; i < r.count; ++i)
                if (pm[r.offsets[1] + i * r.strides[1]]) po[k++] = pa[r.offsets[0] + i * r.strides[0]];
        });
    });
    if (detail::needs_grad(ax))
        detail::record("masked_select", {ax}, out, [sm = SavedTensor(mx)](const Tensor& g) -> GradList {
            return {masked_scatter(g, sm.unpack())};
        });
    return out;
}

// a with `value` where mask (broadcast to a's shape) is true; no gradient flows there.
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
    detail::check_defined(a, "masked_fill");
    check_mask(mask, "masked_fill");
    const Shape shape = detail::broadcast_shape(a.sizes(), mask.sizes(), "masked_fill");
    TG_CHECK(shape == a.sizes(), "masked_fill", "mask of shape {} does not broadcast to the input's shape {}",
             mask.sizes(), a.sizes());
    Tensor out = make_tensor(a.sizes(), a.dtype());
    detail::visit_dtype(a.dtype(), [&](auto v) {
        using T = decltype(v);
        const T fill = static_cast<T>(value);
        detail::binary_loop<T, T, bool>(a, mask, out, [fill](T x, bool m) { return m ? fill : x; });
    });
    if (detail::needs_grad(a))
        detail::record("masked_fill", {a}, out, [sm = SavedTensor(mask)](const Tensor& g) -> GradList {
            return {masked_fill(g, sm.unpack(), 0.0)};
        });
    return out;
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
    TG_CHECK(!tensors.empty(), "cat", "expected a non-empty list of tensors");
    for (const auto& t : tensors) detail::check_defined(t, "cat");
    const Tensor& first = tensors.front();
    TG_CHECK(first.dim() > 0, "cat", "cannot concatenate 0-dim tensors (shape {}); use stack", first.sizes());
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, first.sizes(), "cat"));
    Shape sizes = first.sizes();
    sizes[d] = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        TG_CHECK(t.dtype() == first.dtype(), "cat", "tensor {} has dtype {} but tensor 0 has {}", i,
                 dtype_name(t.dtype()), dtype_name(first.dtype()));
        TG_CHECK(t.dim() == first.dim(), "cat", "tensor {} of shape {} has rank {} but tensor 0 of shape {} has rank {}",
                 i, t.sizes(), t.dim(), first.sizes(), first.dim());
        for (std::size_t k = 0; k < sizes.size(); ++k)
            TG_CHECK(k == d || t.sizes()[k] == first.sizes()[k], "cat",
                     "sizes must match except in dim {}: tensor {} has shape {} but tensor 0 has shape {} (dim {}: {} vs {})",
                     d, i, t.sizes(), first.sizes(), k, t.sizes()[k], first.sizes()[k]);
        sizes[d] += t.sizes()[d];
    }
    Tensor out = make_tensor(sizes, first.dtype());
    std::vector<std::int64_t> starts;
    std::int64_t start = 0;
    for (const auto& t : tensors) {
        starts.push_back(start);
        start += t.sizes()[d];
    }
    // Many small pieces (a DataLoader batch being collated) are copied by several threads,
    // each piece by one: every element is written once, the same bits at any thread count.
    const std::int64_t piece_bytes = std::max<std::int64_t>(1, first.numel() * static_cast<std::int64_t>(element_size(first.dtype())));
    detail::parallel_for(static_cast<std::int64_t>(tensors.size()),
                         std::max<std::int64_t>(1, detail::grain::copy_bytes / piece_bytes),
                         [&](std::int64_t begin, std::int64_t end) {
        for (auto i = static_cast<std::size_t>(begin); i < static_cast<std::size_t>(end); ++i) {
            const Tensor& t = tensors[i];
            const Tensor dst = make_view(out, t.sizes(), out.strides(), starts[i] * out.strides()[d]);
            detail::visit_dtype(t.dtype(), [&](auto v) {
                using T = decltype(v);
                detail::unary_loop<T, T>(t, dst, [](T x) { return x; });
            });
        }
    });
    if (detail::needs_grad(tensors)) {
        std::vector<std::int64_t> lengths;
        std::vector<bool> wanted;
        for (const auto& t : tensors) {
            lengths.push_back(t.sizes()[d]);
            wanted.push_back(t.requires_grad());
        }
        detail::record("cat", tensors, out, [d, starts, lengths, wanted](const Tensor& g) -> GradList {
            GradList grads;
            for (std::size_t i = 0; i < starts.size(); ++i)
                grads.push_back(wanted[i] ? narrow(g, static_cast<std::int64_t>(d), starts[i], lengths[i]) : Tensor());
            return grads;
        });
    }
    TG_TRACE("cat", tensors, out, {{"dim", dim}});
    return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
    TG_CHECK(!tensors.empty(), "stack", "expected a non-empty list of tensors");
    for (const auto& t : tensors) detail::check_defined(t, "stack");
    const Tensor& first = tensors.front();
    const auto d = detail::wrap_new_dim(dim, first.sizes(), "stack");
    std::vector<Tensor> parts;
    parts.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        TG_CHECK(tensors[i].sizes() == first.sizes(), "stack",
                 "all tensors must have the same shape: tensor {} has shape {} but tensor 0 has shape {}", i,
                 tensors[i].sizes(), first.sizes());
        parts.push_back(unsqueeze(tensors[i], d));
    }
    return cat(parts, d);
}

// The one splitting op: views of consecutive pieces along `dim`, recorded as ONE tape node
// whose backward concatenates the piece gradients (zeros for pieces that got none). Per-piece
// narrow nodes would each pad their gradient to a's full size: O(pieces x size) for unbind.
std::vector<Tensor> split_with_sizes(const Tensor& a, const std::vector<std::int64_t>& split_sizes, std::int64_t dim) {
    detail::check_defined(a, "split_with_sizes");
    TG_CHECK(a.dim() > 0, "split_with_sizes", "cannot split a 0-dim tensor");
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "split_with_sizes"));
    TG_CHECK(!split_sizes.empty(), "split_with_sizes", "expected at least one piece size (shape {})", a.sizes());
    std::int64_t total = 0;
    for (const std::int64_t size : split_sizes) {
        TG_CHECK(size >= 0, "split_with_sizes", "piece sizes must be non-negative, got [{}] (shape {})",
                 fmt::join(split_sizes, ", "), a.sizes());
        total += size;
    }
    TG_CHECK(total == a.sizes()[d], "split_with_sizes",
             "piece sizes [{}] add up to {} but dim {} of shape {} has size {}", fmt::join(split_sizes, ", "), total, d,
             a.sizes(), a.sizes()[d]);
    std::vector<Tensor> parts;
    parts.reserve(split_sizes.size());
    const Tensor base = a.detach();
    std::int64_t start = 0;
    for (const std::int64_t size : split_sizes) {
        Shape sizes = a.sizes();
        sizes[d] = size;
        parts.push_back(make_view(base, sizes, a.strides(), a.storage_offset() + start * a.strides()[d]));
        start += size;
    }
    if (detail::needs_grad(a)) {
        std::vector<Tensor*> outs;
        for (auto& p : parts) outs.push_back(&p);
        detail::record_node("split_with_sizes", &a, 1, outs, [d](std::vector<Tensor>& grads) -> GradList {
            return {grads.size() == 1 ? grads[0] : cat(grads, static_cast<std::int64_t>(d))};
        });
    }
    return parts;
}

std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim) {
    detail::check_defined(a, "split");
    TG_CHECK(a.dim() > 0, "split", "cannot split a 0-dim tensor");
    const auto d = detail::wrap_dim(dim, a.sizes(), "split");
    const std::int64_t n = a.size(d);
    TG_CHECK(split_size > 0 || (split_size == 0 && n == 0), "split",
             "split_size must be positive, got {} for dim {} of size {} (shape {})", split_size, d, n, a.sizes());
    std::vector<std::int64_t> sizes;
    for (std::int64_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
    if (sizes.empty()) sizes.push_back(0);
    return split_with_sizes(a, sizes, d);
}

// Like libtorch: pieces of ceil(n / chunks), so fewer than `chunks` may come back.
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim) {
    detail::check_defined(a, "chunk");
    TG_CHECK(chunks > 0, "chunk", "chunks must be positive, got {} (shape {})", chunks, a.sizes());
    TG_CHECK(a.dim() > 0, "chunk", "cannot chunk a 0-dim tensor");
    const std::int64_t n = a.size(detail::wrap_dim(dim, a.sizes(), "chunk"));
    return split(a, (n + chunks - 1) / chunks, dim);
}

std::vector<Tensor> unbind(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "unbind");
    TG_CHECK(a.dim() > 0, "unbind", "cannot unbind a 0-dim tensor");
    const auto d = detail::wrap_dim(dim, a.sizes(), "unbind");
    if (a.size(d) == 0) return {};
    std::vector<Tensor> parts = split_with_sizes(a, std::vector<std::int64_t>(static_cast<std::size_t>(a.size(d)), 1), d);
    for (Tensor& p : parts) p = squeeze(p, d);
    return parts;
}

}  // namespace tg
