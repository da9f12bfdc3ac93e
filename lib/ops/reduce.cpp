// Reductions over all or some dims, with keepdim. Float sums accumulate in double.
#include <algorithm>

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

}  // namespace tg
