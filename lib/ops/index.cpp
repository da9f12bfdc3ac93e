// Indexing and joining: index_select, gather, masked_select/masked_fill, cat/stack, the
// splitting ops and one_hot. Every index is checked against the dim size before the element
// it points to is read, so a bad index throws tg::Error instead of reading out of bounds.
//
// The backward of each selecting op scatters (adds) the gradient back into the input's
// shape; that scatter is itself a recorded op whose backward is the selection again, so
// double backward works.
#include <algorithm>

#include <fmt/ranges.h>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
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

// What an indexing kernel does with the element an index points at: reads it into the dense
// result (Select), or writes the dense source into it (Add accumulates, Copy overwrites).
enum class Write { Select, Add, Copy };

// Select: out.select(d, j) = src.select(d, index[j]); Add/Copy: dst.select(d, index[j])
// (+)= src.select(d, j), for every j. Validates every index first.
void index_copy_kernel(const Tensor& src, const Tensor& dst, std::size_t d, const Tensor& index, Write mode,
                       std::string_view op) {
    const bool scatter = mode != Write::Select;
    // In the forward (Select) index picks src slices; in the scatters it picks dst slices.
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
                    if (mode == Write::Add) out = static_cast<T>(out + x);
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
    index_copy_kernel(g, out, d, index, Write::Add, "index_select");
    if (detail::needs_grad(g))
        detail::record("index_select_backward", {g}, out, [d, si = SavedTensor(index)](const Tensor& gg) -> GradList {
            return {index_select(gg, static_cast<std::int64_t>(d), si.unpack())};
        });
    return out;
}

// ---- gather and its scatter-add ------------------------------------------------------------

// Select (gather): dense[p] = indexed[p with p_d := index[p]]; Add/Copy (scatter):
// indexed[p with p_d := index[p]] (+)= dense[p]. Iterates over index's shape; `values` is the
// dense side for the scatters and the indexed side for gather, `other` the other one.
template <Write Mode>
void gather_kernel(const Tensor& values, const Tensor& other, std::size_t d, const Tensor& index,
                   std::string_view op) {
    constexpr bool kScatter = Mode != Write::Select;
    const Tensor& indexed = kScatter ? other : values;  // the tensor the index points into
    const Tensor& dense = kScatter ? values : other;    // the tensor read or written at index's positions
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
                                        if constexpr (Mode == Write::Add) x = static_cast<T>(x + y);
                                        else if constexpr (Mode == Write::Copy) x = y;
                                        else y = x;
                                    }
                                });
    });
}

// zeros(in_shape) with g scattered (added) at `index` along d: gather's backward.
Tensor gather_scatter_add(const Tensor& g, std::size_t d, const Tensor& index, const Shape& in_shape) {
    Tensor out = zeros(in_shape, g.dtype());
    gather_kernel<Write::Add>(g, out, d, index, "gather");
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
    index_copy_kernel(a, out, d, index, Write::Select, "index_select");
    if (detail::needs_grad(a))
        detail::record("index_select", {a}, out,
                       [d, si = SavedTensor(index), in_shape = a.sizes()](const Tensor& g) -> GradList {
                           return {index_scatter_add(g, d, si.unpack(), in_shape)};
                       });
    TG_TRACE("index_select", {a, index}, out, {{"dim", static_cast<std::int64_t>(d)}});
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
    gather_kernel<Write::Select>(a, out, d, index, "gather");
    if (detail::needs_grad(a))
        detail::record("gather", {a}, out, [d, si = SavedTensor(index), in_shape = a.sizes()](const Tensor& g) -> GradList {
            return {gather_scatter_add(g, d, si.unpack(), in_shape)};
        });
    TG_TRACE("gather", {a, index}, out, {{"dim", static_cast<std::int64_t>(d)}});
    return out;
}

// ---- scatter, scatter_add, index_add, index_copy, index_put: the writing forms ---------------
// Each returns a new tensor (self is never written); the in-place Tensor methods copy it back.
// Backward: self's gradient is g, with zeros where a copy overwrote self; the source's is
// the selection of g at the same indices. Both are recorded ops, so double backward works.

namespace {

// self's values as a fresh tensor that is not on the tape (the op records its own node).
Tensor detached_copy(const Tensor& self) { return self.detach().clone(); }

// t (of a leading block of `shape`) zero-padded at the end of each dim to `shape`: the
// gradient of a src that is larger than the index reading it.
Tensor pad_to(const Tensor& t, const Shape& shape) {
    if (t.sizes() == shape) return t;
    Shape pads;
    for (std::size_t k = shape.size(); k-- > 0;) {
        pads.push_back(0);
        pads.push_back(shape[k] - t.sizes()[k]);
    }
    return nn::functional::pad(t, pads);
}

// libtorch's rule for scatter/scatter_add: index has self's rank and fits inside self in
// every dim but d, and inside src (when given) in every dim.
std::size_t check_scatter(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor* src,
                          std::string_view op) {
    detail::check_defined(self, op);
    check_index_tensor(index, op);
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, self.sizes(), op));
    TG_CHECK(index.dim() == self.dim(), op, "index of shape {} must have the rank of self of shape {}",
             index.sizes(), self.sizes());
    if (src) {
        detail::check_defined(*src, op);
        TG_CHECK(src->dim() == self.dim(), op, "src of shape {} must have the rank of self of shape {}", src->sizes(),
                 self.sizes());
        TG_CHECK(src->dtype() == self.dtype(), op, "src is {} but self is {} (shapes {} and {}); convert one with .to()",
                 dtype_name(src->dtype()), dtype_name(self.dtype()), src->sizes(), self.sizes());
    }
    for (std::size_t k = 0; k < index.sizes().size(); ++k) {
        TG_CHECK(k == d || index.sizes()[k] <= self.sizes()[k], op,
                 "index of shape {} is larger than self of shape {} in dim {} (only dim {} may be larger)",
                 index.sizes(), self.sizes(), k, d);
        TG_CHECK(!src || index.sizes()[k] <= src->sizes()[k], op, "index of shape {} is larger than src of shape {} in dim {}",
                 index.sizes(), src->sizes(), k);
    }
    return d;
}

// libtorch's rule for index_add/index_copy: a 1-D (or 0-D) index with one entry per slice of
// source along d; source has self's shape in every other dim.
std::size_t check_index_write(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source,
                              std::string_view op) {
    detail::check_defined(self, op);
    detail::check_defined(source, op);
    check_index_tensor(index, op);
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, self.sizes(), op));
    TG_CHECK(index.dim() <= 1, op, "index must be 1-D, got shape {} (self of shape {})", index.sizes(), self.sizes());
    TG_CHECK(source.dtype() == self.dtype(), op, "source is {} but self is {} (shapes {} and {}); convert one with .to()",
             dtype_name(source.dtype()), dtype_name(self.dtype()), source.sizes(), self.sizes());
    Shape expected = self.sizes();
    if (!expected.empty()) expected[d] = index.numel();
    TG_CHECK(source.sizes() == expected || (self.dim() == 0 && source.numel() == 1 && index.numel() == 1), op,
             "source of shape {} does not match self of shape {} with index of {} element(s) along dim {} (expected {})",
             source.sizes(), self.sizes(), index.numel(), d, expected);
    return d;
}

// scatter (Write::Copy) and scatter_add (Write::Add) of a src tensor: the same checks, kernel
// and backward, but for self's gradient (under Copy, overwritten cells get none).
template <Write W>
Tensor scatter_src(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src, const char* op) {
    const std::size_t d = check_scatter(self, dim, index, &src, op);
    if (self.dim() == 0)
        return reshape(scatter_src<W>(reshape(self, {1}), 0, reshape(index, {1}), reshape(src, {1}), op), {});
    Tensor out = detached_copy(self);
    gather_kernel<W>(src, out, d, index, op);
    if (detail::needs_grad(self, src))
        detail::record(op, {self, src}, out,
                       [d, si = SavedTensor(index), src_shape = src.sizes(), self_grad = self.requires_grad(),
                        src_grad = src.requires_grad()](const Tensor& g) -> GradList {
                           const Tensor idx = si.unpack();
                           const auto dim = static_cast<std::int64_t>(d);
                           Tensor dself;
                           if (self_grad) dself = W == Write::Copy ? scatter(g, dim, idx, 0.0) : g;
                           return {dself, src_grad ? pad_to(gather(g, dim, idx), src_shape) : Tensor()};
                       });
    return out;
}

}  // namespace

Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src) {
    return scatter_src<Write::Copy>(self, dim, index, src, "scatter");
}

Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, double value) {
    const std::size_t d = check_scatter(self, dim, index, nullptr, "scatter");
    if (self.dim() == 0) return reshape(scatter(reshape(self, {1}), 0, reshape(index, {1}), value), {});
    Tensor out = detached_copy(self);
    gather_kernel<Write::Copy>(full(index.sizes(), value, self.dtype()), out, d, index, "scatter");
    if (detail::needs_grad(self))
        detail::record("scatter", {self}, out, [d, si = SavedTensor(index)](const Tensor& g) -> GradList {
            return {scatter(g, static_cast<std::int64_t>(d), si.unpack(), 0.0)};
        });
    return out;
}

Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src) {
    return scatter_src<Write::Add>(self, dim, index, src, "scatter_add");
}

Tensor index_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
    const std::size_t d = check_index_write(self, dim, index, source, "index_add");
    if (self.dim() == 0)
        return reshape(index_add(reshape(self, {1}), 0, reshape(index, {1}), reshape(source, {1}), alpha), {});
    Tensor out = detached_copy(self);
    {
        NoGradGuard no_grad;
        index_copy_kernel(alpha == 1.0 ? source : source * alpha, out, d, index, Write::Add, "index_add");
    }
    if (detail::needs_grad(self, source))
        detail::record("index_add", {self, source}, out,
                       [d, alpha, si = SavedTensor(index), self_grad = self.requires_grad(),
                        source_grad = source.requires_grad()](const Tensor& g) -> GradList {
                           const Tensor picked = source_grad ? index_select(g, static_cast<std::int64_t>(d), si.unpack())
                                                             : Tensor();
                           return {self_grad ? g : Tensor(), !source_grad ? Tensor() : alpha == 1.0 ? picked : picked * alpha};
                       });
    return out;
}

Tensor index_copy(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source) {
    const std::size_t d = check_index_write(self, dim, index, source, "index_copy");
    if (self.dim() == 0) return reshape(index_copy(reshape(self, {1}), 0, reshape(index, {1}), reshape(source, {1})), {});
    Tensor out = detached_copy(self);
    index_copy_kernel(source, out, d, index, Write::Copy, "index_copy");
    if (detail::needs_grad(self, source))
        detail::record("index_copy", {self, source}, out,
                       [d, si = SavedTensor(index), source_shape = source.sizes(), self_grad = self.requires_grad(),
                        source_grad = source.requires_grad()](const Tensor& g) -> GradList {
                           const Tensor idx = si.unpack();
                           const auto dim = static_cast<std::int64_t>(d);
                           return {self_grad ? index_copy(g, dim, idx, zeros(source_shape, g.dtype())) : Tensor(),
                                   source_grad ? index_select(g, dim, idx) : Tensor()};
                       });
    return out;
}

namespace {

// The coordinates of a bool mask's true elements: mask.dim() int64 tensors (libtorch reads a
// k-D mask in an index list as the k index tensors of its nonzero positions).
std::vector<Tensor> mask_coordinates(const Tensor& mask) {
    const Tensor m = mask.contiguous();
    const bool* pm = impl_of(m).data_as<bool>();
    const std::size_t rank = mask.sizes().size();
    std::vector<std::vector<std::int64_t>> coords(rank);
    Shape at(rank, 0);
    for (std::int64_t e = 0; e < m.numel(); ++e) {
        if (pm[e])
            for (std::size_t k = 0; k < rank; ++k) coords[k].push_back(at[k]);
        for (std::size_t k = rank; k-- > 0;) {  // row-major increment of the coordinate
            if (++at[k] < mask.sizes()[k]) break;
            at[k] = 0;
        }
    }
    std::vector<Tensor> out;
    for (const auto& c : coords) out.push_back(from_vector(c, {static_cast<std::int64_t>(c.size())}));
    return out;
}

}  // namespace

// Advanced-index assignment: the index tensors (int64, broadcast together; bool masks stand
// for their true positions) address self's leading dims, and that is flattened into one
// row index of self viewed as (prod(leading dims), rest...). Then it is index_copy (or
// index_add with accumulate) along dim 0, whose gradients already exist.
Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
    constexpr std::string_view op = "index_put";
    detail::check_defined(self, op);
    detail::check_defined(values, op);
    TG_CHECK(!indices.empty(), op, "expected at least one index tensor (self of shape {})", self.sizes());
    std::vector<Tensor> idx;
    for (const Tensor& t : indices) {
        detail::check_defined(t, op);
        if (t.dtype() == kBool) {
            const std::size_t at = idx.size();
            TG_CHECK(at + t.sizes().size() <= self.sizes().size(), op, "a mask of shape {} at dim {} does not fit self of shape {}",
                     t.sizes(), at, self.sizes());
            for (std::size_t k = 0; k < t.sizes().size(); ++k)
                TG_CHECK(t.sizes()[k] == self.sizes()[at + k], op,
                         "the mask of shape {} does not match self of shape {} at dim {} (size {} vs {})", t.sizes(),
                         self.sizes(), at + k, t.sizes()[k], self.sizes()[at + k]);
            for (const Tensor& c : mask_coordinates(t)) idx.push_back(c);
        } else {
            TG_CHECK(t.dtype() == kInt64, op, "index tensors must be int64 or bool, got {} of shape {} (self of shape {})",
                     dtype_name(t.dtype()), t.sizes(), self.sizes());
            idx.push_back(t);
        }
    }
    TG_CHECK(idx.size() <= self.sizes().size(), op, "{} index tensors for self of shape {} (at most one per dim)",
             idx.size(), self.sizes());
    TG_CHECK(values.dtype() == self.dtype(), op, "values are {} but self is {} (shapes {} and {}); convert one with .to()",
             dtype_name(values.dtype()), dtype_name(self.dtype()), values.sizes(), self.sizes());
    Shape index_shape = idx[0].sizes();
    for (const Tensor& t : idx) index_shape = detail::broadcast_shape(index_shape, t.sizes(), op);
    // Row-major position over the indexed dims; negative indices count from the end.
    std::vector<std::int64_t> row(static_cast<std::size_t>(index_shape.numel()), 0);
    std::int64_t rows = 1;
    for (std::size_t k = 0; k < idx.size(); ++k) {
        const std::int64_t n = self.sizes()[k];
        rows *= n;
        const Tensor e = broadcast_to(idx[k], index_shape).contiguous();
        const std::int64_t* pe = impl_of(e).data_as<std::int64_t>();
        for (std::size_t i = 0; i < row.size(); ++i) {
            const std::int64_t v = pe[i];
            TG_CHECK(v >= -n && v < n, op, "index {} is out of range for dim {} of size {} (self of shape {})", v, k, n,
                     self.sizes());
            row[i] = row[i] * n + (v < 0 ? v + n : v);
        }
    }
    Shape flat_shape{rows}, value_shape = index_shape, flat_values{index_shape.numel()};
    for (std::size_t k = idx.size(); k < self.sizes().size(); ++k) {
        flat_shape.push_back(self.sizes()[k]);
        value_shape.push_back(self.sizes()[k]);
        flat_values.push_back(self.sizes()[k]);
    }
    TG_CHECK(detail::broadcast_shape(values.sizes(), value_shape, op) == value_shape, op,
             "values of shape {} cannot be broadcast to the indexed shape {} (self of shape {})", values.sizes(),
             value_shape, self.sizes());
    const Tensor rows_index = from_vector(row, {static_cast<std::int64_t>(row.size())});
    const Tensor v = reshape(broadcast_to(values, value_shape), flat_values);
    const Tensor base = reshape(self, flat_shape);
    return reshape(accumulate ? index_add(base, 0, rows_index, v) : index_copy(base, 0, rows_index, v), self.sizes());
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
    TG_TRACE("masked_fill", {a, mask}, out, {{"value", value}});
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
    TG_TRACE("split_with_sizes", {a}, parts,
             {{"dim", static_cast<std::int64_t>(d)}, {"split_sizes", std::vector<std::int64_t>(split_sizes)}});
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

// Class indices to one-hot rows: an index op with no gradient (its input is integer).
Tensor one_hot(const Tensor& indices, std::int64_t num_classes, Dtype dtype) {
    detail::check_defined(indices, "one_hot");
    TG_CHECK(indices.dtype() == kInt64, "one_hot", "expected int64 class indices, got {} of shape {}",
             dtype_name(indices.dtype()), indices.sizes());
    TG_CHECK(num_classes > 0, "one_hot", "num_classes must be positive, got {}", num_classes);
    Shape shape = indices.sizes();
    shape.push_back(num_classes);
    Tensor out = zeros(shape, dtype);
    const Tensor idx = indices.contiguous();
    const std::int64_t* pi = impl_of(idx).data_as<std::int64_t>();
    detail::visit_dtype(dtype, [&](auto v) {
        using T = decltype(v);
        T* po = impl_of(out).data_as<T>();
        for (std::int64_t i = 0; i < idx.numel(); ++i) {
            TG_CHECK(pi[i] >= 0 && pi[i] < num_classes, "one_hot",
                     "index {} is out of range [0, {}) (num_classes {}, indices of shape {})", pi[i], num_classes,
                     num_classes, indices.sizes());
            po[i * num_classes + pi[i]] = T(1);
        }
    });
    return out;
}

}  // namespace tg
