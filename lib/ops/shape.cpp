// Views and shape changes. Views share storage (no copy) and differ in sizes, strides
// and offset; their backward routes the gradient back into the input's shape.
#include <algorithm>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
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
    Tensor out = make_view(a, sizes, strides, a.storage_offset());
    TG_TRACE("view", {a}, out, {{"shape", sizes}});
    return record_view(a, out, "view",
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
    const auto s = static_cast<std::size_t>(detail::wrap_dim(start_dim, a.sizes(), "flatten"));
    const auto e = static_cast<std::size_t>(detail::wrap_dim(end_dim, a.sizes(), "flatten"));
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
        const auto d = static_cast<std::size_t>(detail::wrap_dim(dims[i], a.sizes(), "permute"));
        TG_CHECK(inverse[d] < 0, "permute", "dim {} repeats in {}", d, dims);
        inverse[d] = static_cast<std::int64_t>(i);
        sizes[i] = a.sizes()[d];
        strides[i] = a.strides()[d];
    }
    Tensor out = make_view(a, sizes, strides, a.storage_offset());
    TG_TRACE("permute", {a}, out, {{"dims", dims}});
    return record_view(a, out, "permute",
                       [inverse](const Tensor& g) -> GradList { return {permute(g, inverse)}; });
}

Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1) {
    detail::check_defined(a, "transpose");
    if (a.dim() == 0) return a;
    Shape dims(static_cast<std::size_t>(a.dim()));
    for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<std::int64_t>(i);
    std::swap(dims[static_cast<std::size_t>(detail::wrap_dim(dim0, a.sizes(), "transpose"))],
              dims[static_cast<std::size_t>(detail::wrap_dim(dim1, a.sizes(), "transpose"))]);
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
    Tensor out = make_view(a, target, detail::broadcast_strides(a.sizes(), a.strides(), target), a.storage_offset());
    TG_TRACE("expand", {a}, out, {{"sizes", target}});
    return record_view(a, out, "expand", [in_shape = a.sizes()](const Tensor& g) -> GradList {
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
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "squeeze"));
    if (a.sizes()[d] != 1) return a;  // like libtorch: a no-op on dims that are not 1
    Shape shape = a.sizes();
    shape.erase(d);
    return reshape(a, shape);
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim) {
    detail::check_defined(a, "unsqueeze");
    const auto d = static_cast<std::size_t>(detail::wrap_new_dim(dim, a.sizes(), "unsqueeze"));
    Shape shape = a.sizes();
    shape.insert(d, 1);
    return reshape(a, shape);
}

Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length) {
    detail::check_defined(a, "narrow");
    TG_CHECK(a.dim() > 0, "narrow", "cannot narrow a 0-dim tensor");
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "narrow"));
    const std::int64_t n = a.sizes()[d];
    if (start < 0) start += n;
    TG_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow",
             "range [{}, {}) is out of bounds for dim {} of size {} (shape {})", start, start + length, d, n, a.sizes());
    Shape sizes = a.sizes();
    sizes[d] = length;
    Tensor out = make_view(a, sizes, a.strides(), a.storage_offset() + start * a.strides()[d]);
    TG_TRACE("narrow", {a}, out, {{"dim", static_cast<std::int64_t>(d)}, {"start", start}, {"length", length}});
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
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "select"));
    const std::int64_t n = a.sizes()[d];
    TG_CHECK(index >= -n && index < n, "select", "index {} is out of range for dim {} of size {} (shape {})", index, d,
             n, a.sizes());
    if (index < 0) index += n;
    return squeeze(narrow(a, static_cast<std::int64_t>(d), index, 1), static_cast<std::int64_t>(d));
}


// ---- flip, roll, repeat/tile: copies of a's elements in another order ----------------------
// Each forward is one strided copy out of a (no autograd) view of a; each backward is the
// same kind of op on the gradient (flip, roll back, sum over the copies), so it records.

namespace {

// dst = src elementwise (same shape, any strides); no autograd.
void copy_elements(const Tensor& src, const Tensor& dst) {
    detail::visit_dtype(src.dtype(), [&](auto v) {
        using T = decltype(v);
        detail::unary_loop<T, T>(src, dst, [](T x) { return x; });
    });
}

// A (no autograd) view of t's elements [start, start + length) along d.
Tensor slice_of(const Tensor& t, std::size_t d, std::int64_t start, std::int64_t length) {
    Shape sizes = t.sizes();
    sizes[d] = length;
    return make_view(t, sizes, t.strides(), t.storage_offset() + start * t.strides()[d]);
}

}  // namespace

Tensor flip(const Tensor& a, const Shape& dims) {
    detail::check_defined(a, "flip");
    std::vector<bool> flipped(static_cast<std::size_t>(std::max<std::int64_t>(a.dim(), 1)), false);
    for (const std::int64_t dim : dims) {
        const std::size_t d = static_cast<std::size_t>(detail::wrap_dim(dim, a.sizes(), "flip"));
        TG_CHECK(!flipped[d], "flip", "dim {} appears more than once in dims {} (shape {})", d, dims, a.sizes());
        flipped[d] = true;
    }
    // Read a through a view with negated strides on the flipped dims (starting at their last
    // element); the view never leaves this function.
    Shape strides = a.strides();
    std::int64_t offset = a.storage_offset();
    for (std::size_t d = 0; d < strides.size(); ++d) {
        if (!flipped[d] || a.sizes()[d] == 0) continue;
        offset += (a.sizes()[d] - 1) * strides[d];
        strides[d] = -strides[d];
    }
    Tensor out = make_tensor(a.sizes(), a.dtype());
    copy_elements(make_view(a, a.sizes(), strides, offset), out);
    if (detail::needs_grad(a))
        detail::record("flip", {a}, out, [dims](const Tensor& g) -> GradList { return {flip(g, dims)}; });
    TG_TRACE("flip", {a}, out, {{"dims", dims}});
    return out;
}

Tensor roll(const Tensor& a, const Shape& shifts, const Shape& dims) {
    detail::check_defined(a, "roll");
    if (dims.empty()) {  // libtorch: roll the flattened tensor, keep the shape
        TG_CHECK(shifts.size() == 1, "roll", "without dims, expected exactly one shift, got shifts {} (shape {})",
                 shifts, a.sizes());
        return reshape(roll(reshape(a, {-1}), shifts, {0}), a.sizes());
    }
    TG_CHECK(shifts.size() == dims.size(), "roll",
             "shifts {} and dims {} must have the same length (shape {})", shifts, dims, a.sizes());
    // Net shift per dim in [0, n): a dim named twice rolls by the sum of its shifts.
    Shape net(static_cast<std::size_t>(std::max<std::int64_t>(a.dim(), 1)), 0);
    for (std::size_t i = 0; i < dims.size(); ++i) {
        const std::size_t d = static_cast<std::size_t>(detail::wrap_dim(dims[i], a.sizes(), "roll"));
        net[d] += shifts[i];
    }
    Tensor cur = a.detach();
    for (std::size_t d = 0; d < static_cast<std::size_t>(a.dim()); ++d) {
        const std::int64_t n = a.sizes()[d];
        if (n == 0) continue;
        const std::int64_t s = ((net[d] % n) + n) % n;
        if (s == 0) continue;
        // out[(i + s) mod n] = cur[i]: two block copies.
        Tensor next = make_tensor(a.sizes(), a.dtype());
        copy_elements(slice_of(cur, d, 0, n - s), slice_of(next, d, s, n - s));
        copy_elements(slice_of(cur, d, n - s, s), slice_of(next, d, 0, s));
        cur = next;
    }
    Tensor out = cur.shares_storage(a) ? a.detach().clone() : cur;
    if (detail::needs_grad(a)) {
        Shape back = shifts;
        for (auto& s : back) s = -s;
        detail::record("roll", {a}, out, [back, dims](const Tensor& g) -> GradList { return {roll(g, back, dims)}; });
    }
    TG_TRACE("roll", {a}, out, {{"shifts", shifts}, {"dims", dims}});
    return out;
}

Tensor repeat(const Tensor& a, const Shape& repeats) {
    detail::check_defined(a, "repeat");
    TG_CHECK(static_cast<std::int64_t>(repeats.size()) >= a.dim(), "repeat",
             "got {} repeats {} for a tensor of shape {}: need at least one per dim", repeats.size(), repeats,
             a.sizes());
    for (const std::int64_t r : repeats)
        TG_CHECK(r >= 0, "repeat", "repeats must be non-negative, got {} (shape {})", repeats, a.sizes());
    // a with leading 1-dims to repeats' rank, seen as [r0, s0, r1, s1, ...] with stride 0 on
    // each r_i (an expand), then copied: the copy is [r0 * s0, r1 * s1, ...] in row-major order.
    const std::size_t lead = repeats.size() - static_cast<std::size_t>(a.dim());
    Shape pairs, pair_strides, out_sizes, sum_dims;
    for (std::size_t i = 0; i < repeats.size(); ++i) {
        const std::int64_t size = i < lead ? 1 : a.sizes()[i - lead];
        const std::int64_t stride = i < lead ? 0 : a.strides()[i - lead];
        sum_dims.push_back(static_cast<std::int64_t>(pairs.size()));
        pairs.push_back(repeats[i]);
        pair_strides.push_back(0);
        pairs.push_back(size);
        pair_strides.push_back(stride);
        out_sizes.push_back(repeats[i] * size);
    }
    Tensor copied = make_tensor(pairs, a.dtype());
    copy_elements(make_view(a, pairs, pair_strides, a.storage_offset()), copied);
    Tensor out = make_view(copied, out_sizes, contiguous_strides(out_sizes), 0);
    if (detail::needs_grad(a))
        detail::record("repeat", {a}, out, [pairs, sum_dims, in_shape = a.sizes()](const Tensor& g) -> GradList {
            // Each input element received the sum of the gradients of its copies.
            if (sum_dims.empty()) return {g};
            return {reshape(sum(reshape(g, pairs), sum_dims), in_shape)};
        });
    TG_TRACE("repeat", {a}, out, {{"repeats", repeats}});
    return out;
}

Tensor tile(const Tensor& a, const Shape& reps) {
    detail::check_defined(a, "tile");
    for (const std::int64_t r : reps)
        TG_CHECK(r >= 0, "tile", "reps must be non-negative, got {} (shape {})", reps, a.sizes());
    Shape padded = reps;
    while (static_cast<std::int64_t>(padded.size()) < a.dim()) padded.insert(0, 1);
    return repeat(a, padded);
}

}  // namespace tg
