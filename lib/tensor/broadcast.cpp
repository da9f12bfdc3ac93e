#include "tensor/broadcast.hpp"

#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

Shape broadcast_shape(const Shape& a, const Shape& b, std::string_view op) {
    if (a == b) return a;
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank, 1);
    for (std::size_t i = 0; i < rank; ++i) {
        // align from the right, as NumPy does
        const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        TG_CHECK(da == db || da == 1 || db == 1, op, "shapes {} and {} cannot broadcast (dim {}: {} vs {})",
                 a, b, i, da, db);
        out[i] = da == 1 ? db : da;
    }
    return out;
}

Shape broadcast_strides(const Shape& sizes, const Shape& strides, const Shape& target) {
    Shape out(target.size(), 0);
    const std::size_t lead = target.size() - sizes.size();
    for (std::size_t i = 0; i < sizes.size(); ++i)
        out[lead + i] = sizes[i] == target[lead + i] ? strides[i] : 0;
    return out;
}

Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
    if (grad.sizes() == shape) return grad;
    const std::size_t lead = grad.sizes().size() - shape.size();
    Shape dims;
    for (std::size_t i = 0; i < grad.sizes().size(); ++i)
        if (i < lead || (shape[i - lead] == 1 && grad.sizes()[i] != 1)) dims.push_back(static_cast<std::int64_t>(i));
    Tensor reduced = dims.empty() ? grad : tg::sum(grad, dims, /*keepdim=*/true);
    return lead == 0 ? reduced : tg::reshape(reduced, shape);
}

}  // namespace tg::detail

namespace tg::detail {

// sizes() checks that t is defined; the rest is read through TensorImpl, inline.
InputInfo::InputInfo(const Tensor& t)
    : sizes(t.sizes()), dtype(impl_of(t).dtype()), requires_grad(impl_of(t).requires_grad()) {}

Tensor InputInfo::reduce(const Tensor& grad) const {
    if (!requires_grad) return {};
    Tensor g = sum_to_shape(grad, sizes);  // defined: sum_to_shape checked grad
    return impl_of(g).dtype() == dtype ? g : g.to(dtype);
}

}  // namespace tg::detail
