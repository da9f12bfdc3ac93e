// Views and shape changes. Views share storage (no copy) and differ in sizes, strides
// and offset; their backward routes the gradient back into the input's shape.
#include <algorithm>

#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;

namespace {

// Resolves one -1 in `shape` so the element count matches `numel`.
Shape infer_shape(const Shape& shape, std::int64_t numel, const Shape& from, std::string_view op) {
    Shape out = shape;
    std::int64_t known = 1;
    int infer = -1;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
            TG_CHECK(infer < 0, op, "only one dim can be -1, got {}", shape);
            infer = static_cast<int>(i);
        } else {
            TG_CHECK(out[i] >= 0, op, "invalid size {} in shape {}", out[i], shape);
            known *= out[i];
        }
    }
    if (infer >= 0) {
        TG_CHECK(known != 0 && numel % known == 0, op, "shape {} is invalid for input of shape {} ({} elements)",
                 shape, from, numel);
        out[static_cast<std::size_t>(infer)] = numel / known;
    }
    TG_CHECK(out.numel() == numel, op, "shape {} is invalid for input of shape {} ({} elements)", shape, from, numel);
    return out;
}

// Strides that view `a` with `shape` without copying, if such exist.
bool view_strides(const Tensor& a, const Shape& shape, Shape& strides) {
    if (a.is_contiguous()) {
        strides = contiguous_strides(shape);
        return true;
    }
    // General case: each group of old dims that merges into new dims must be contiguous
    // within itself (the rule libtorch's view follows).
    const Shape& old_sizes = a.sizes();
    const Shape& old_strides = a.strides();
    strides = Shape(shape.size(), 0);
    std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
    std::int64_t chunk_base_stride = old_strides.size() ? old_strides.back() : 1;
    std::int64_t tensor_numel = 1, view_numel = 1;
    for (std::int64_t d = static_cast<std::int64_t>(old_sizes.size()) - 1; d >= 0; --d) {
        tensor_numel *= old_sizes[static_cast<std::size_t>(d)];
        if (d == 0 || (old_sizes[static_cast<std::size_t>(d - 1)] != 1 &&
                       old_strides[static_cast<std::size_t>(d - 1)] != tensor_numel * chunk_base_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[static_cast<std::size_t>(view_d)] == 1)) {
                strides[static_cast<std::size_t>(view_d)] = view_numel * chunk_base_stride;
                view_numel *= shape[static_cast<std::size_t>(view_d)];
                --view_d;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base_stride = old_strides[static_cast<std::size_t>(d - 1)];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

// A view op's result: a new view of a's storage recorded with backward `bw`.
template <class Backward>
Tensor record_view(const Tensor& a, Tensor out, std::string_view name, Backward&& bw) {
    if (detail::needs_grad(a)) detail::record(name, {a}, out, std::forward<Backward>(bw));
    return out;
}

}  // namespace

Tensor view(const Tensor& a, const Shape& shape) {
    detail::check_defined(a, "view");
    const Shape sizes = infer_shape(shape, a.numel(), a.sizes(), "view");
    Shape strides;
    TG_CHECK(view_strides(a, sizes, strides), "view",
             "cannot view a tensor of shape {} and strides {} as {} without copying; use reshape()",
             a.sizes(), a.strides(), sizes);
    return record_view(a, make_view(a, sizes, strides, a.storage_offset()), "view",
                       [in_shape = a.sizes()](const Tensor& g) -> GradList { return {reshape(g, in_shape)}; });
}

Tensor reshape(const Tensor& a, const Shape& shape) {
    detail::check_defined(a, "reshape");
    const Shape sizes = infer_shape(shape, a.numel(), a.sizes(), "reshape");
    Shape strides;
    if (view_strides(a, sizes, strides)) return view(a, sizes);
    return view(a.contiguous(), sizes);
}

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
    detail::check_defined(a, "flatten");
    if (a.dim() == 0) return reshape(a, {1});
    const auto s = static_cast<std::size_t>(detail::wrap_dim(start_dim, a.dim(), "flatten"));
    const auto e = static_cast<std::size_t>(detail::wrap_dim(end_dim, a.dim(), "flatten"));
    TG_CHECK(s <= e, "flatten", "start_dim {} comes after end_dim {} for shape {}", start_dim, end_dim, a.sizes());
    Shape shape;
    for (std::size_t d = 0; d < s; ++d) shape.push_back(a.sizes()[d]);
    std::int64_t merged = 1;
    for (std::size_t d = s; d <= e; ++d) merged *= a.sizes()[d];
    shape.push_back(merged);
    for (std::size_t d = e + 1; d < a.sizes().size(); ++d) shape.push_back(a.sizes()[d]);
    return reshape(a, shape);
}

Tensor permute(const Tensor& a, const Shape& dims) {
    detail::check_defined(a, "permute");
    TG_CHECK(static_cast<std::int64_t>(dims.size()) == a.dim(), "permute",
             "got {} dims {} for a tensor of shape {}", dims.size(), dims, a.sizes());
    Shape sizes(dims.size()), strides(dims.size()), inverse(dims.size(), -1);
    for (std::size_t i = 0; i < dims.size(); ++i) {
        const auto d = static_cast<std::size_t>(detail::wrap_dim(dims[i], a.dim(), "permute"));
        TG_CHECK(inverse[d] < 0, "permute", "dim {} repeats in {}", d, dims);
        inverse[d] = static_cast<std::int64_t>(i);
        sizes[i] = a.sizes()[d];
        strides[i] = a.strides()[d];
    }
    return record_view(a, make_view(a, sizes, strides, a.storage_offset()), "permute",
                       [inverse](const Tensor& g) -> GradList { return {permute(g, inverse)}; });
}

Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1) {
    detail::check_defined(a, "transpose");
    if (a.dim() == 0) return a;
    Shape dims(static_cast<std::size_t>(a.dim()));
    for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<std::int64_t>(i);
    std::swap(dims[static_cast<std::size_t>(detail::wrap_dim(dim0, a.dim(), "transpose"))],
              dims[static_cast<std::size_t>(detail::wrap_dim(dim1, a.dim(), "transpose"))]);
    return permute(a, dims);
}

Tensor expand(const Tensor& a, const Shape& sizes) {
    detail::check_defined(a, "expand");
    TG_CHECK(sizes.size() >= a.sizes().size(), "expand", "cannot expand shape {} to fewer dims {}", a.sizes(), sizes);
    Shape target = sizes;
    const std::size_t lead = sizes.size() - a.sizes().size();
    for (std::size_t i = 0; i < a.sizes().size(); ++i) {
        if (target[lead + i] == -1) target[lead + i] = a.sizes()[i];
        TG_CHECK(a.sizes()[i] == target[lead + i] || a.sizes()[i] == 1, "expand",
                 "cannot expand shape {} to {} (dim {}: {} vs {})", a.sizes(), sizes, lead + i, a.sizes()[i],
                 target[lead + i]);
    }
    if (target == a.sizes()) return a;
    return record_view(a, make_view(a, target, detail::broadcast_strides(a.sizes(), a.strides(), target), a.storage_offset()),
                       "expand", [in_shape = a.sizes()](const Tensor& g) -> GradList {
                           return {detail::sum_to_shape(g, in_shape)};
                       });
}

Tensor broadcast_to(const Tensor& a, const Shape& sizes) {
    detail::check_defined(a, "broadcast_to");
    // Checked here so the message names broadcast_to, not the expand it is made of.
    bool ok = sizes.size() >= a.sizes().size();
    const std::size_t lead = ok ? sizes.size() - a.sizes().size() : 0;
    for (std::size_t i = 0; ok && i < a.sizes().size(); ++i)
        ok = a.sizes()[i] == sizes[lead + i] || a.sizes()[i] == 1 || sizes[lead + i] == -1;
    TG_CHECK(ok, "broadcast_to", "cannot broadcast shape {} to {}", a.sizes(), sizes);
    return expand(a, sizes);
}

Tensor squeeze(const Tensor& a) {
    detail::check_defined(a, "squeeze");
    Shape shape;
    for (auto s : a.sizes())
        if (s != 1) shape.push_back(s);
    return reshape(a, shape);
}

Tensor squeeze(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "squeeze");
    if (a.dim() == 0) return a;
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim(), "squeeze"));
    if (a.sizes()[d] != 1) return a;  // like libtorch: a no-op on dims that are not 1
    Shape shape = a.sizes();
    shape.erase(d);
    return reshape(a, shape);
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "unsqueeze");
    TG_CHECK(dim >= -(a.dim() + 1) && dim <= a.dim(), "unsqueeze",
             "dim {} is out of range for shape {} (the new dim can go at {} to {})", dim, a.sizes(),
             -(a.dim() + 1), a.dim());
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim() + 1, "unsqueeze"));
    Shape shape = a.sizes();
    shape.insert(d, 1);
    return reshape(a, shape);
}

Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length) {
    detail::check_defined(a, "narrow");
    TG_CHECK(a.dim() > 0, "narrow", "cannot narrow a 0-dim tensor");
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim(), "narrow"));
    const std::int64_t n = a.sizes()[d];
    if (start < 0) start += n;
    TG_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow",
             "range [{}, {}) is out of bounds for dim {} of size {} (shape {})", start, start + length, d, n, a.sizes());
    Shape sizes = a.sizes();
    sizes[d] = length;
    Tensor out = make_view(a, sizes, a.strides(), a.storage_offset() + start * a.strides()[d]);
    return record_view(a, out, "narrow", [in = detail::InputInfo(a), d, start](const Tensor& g) -> GradList {
        // Pad the gradient with zeros back to the input's extent along d.
        std::vector<Tensor> parts;
        const std::int64_t after = in.sizes[d] - start - g.sizes()[d];
        Shape before_shape = in.sizes, after_shape = in.sizes;
        before_shape[d] = start;
        after_shape[d] = after;
        if (start > 0) parts.push_back(zeros(before_shape, g.dtype()));
        parts.push_back(g);
        if (after > 0) parts.push_back(zeros(after_shape, g.dtype()));
        return {parts.size() == 1 ? g : cat(parts, static_cast<std::int64_t>(d))};
    });
}

Tensor select(const Tensor& a, std::int64_t dim, std::int64_t index) {
    detail::check_defined(a, "select");
    TG_CHECK(a.dim() > 0, "select", "cannot select from a 0-dim tensor");
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim(), "select"));
    const std::int64_t n = a.sizes()[d];
    TG_CHECK(index >= -n && index < n, "select", "index {} is out of range for dim {} of size {} (shape {})", index, d,
             n, a.sizes());
    if (index < 0) index += n;
    return squeeze(narrow(a, static_cast<std::int64_t>(d), index, 1), static_cast<std::int64_t>(d));
}

}  // namespace tg
