// The drivers of the compact maps (elementwise.hpp): one copy of the contiguity test, the
// broadcast strides and the parallel row walk for every bool/int64 map and bool result.
#include "tensor/elementwise.hpp"

namespace tg::detail {

void run_unary_rows(const Tensor& a, const Tensor& out, std::int64_t grain, UnaryRow row, const void* f) {
    const void* pa = impl_of(a).data();
    void* po = impl_of(out).data();
    if (a.is_contiguous() && out.is_contiguous()) {
        parallel_for(a.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
            row(f, po, pa, StridedRow<2>{{begin, begin}, {1, 1}, end - begin});
        });
        return;
    }
    parallel_for_each_row<2>(out.sizes(), {out.strides(), broadcast_strides(a.sizes(), a.strides(), out.sizes())},
                             grain, [&](const StridedRow<2>& r) { row(f, po, pa, r); });
}

void run_binary_rows(const Tensor& a, const Tensor& b, const Tensor& out, std::int64_t grain, BinaryRow row,
                     const void* f) {
    const void* pa = impl_of(a).data();
    const void* pb = impl_of(b).data();
    void* po = impl_of(out).data();
    const Shape& shape = out.sizes();
    if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous() && a.sizes() == shape && b.sizes() == shape) {
        parallel_for(out.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
            row(f, po, pa, pb, StridedRow<3>{{begin, begin, begin}, {1, 1, 1}, end - begin});
        });
        return;
    }
    parallel_for_each_row<3>(shape,
                             {out.strides(), broadcast_strides(a.sizes(), a.strides(), shape),
                              broadcast_strides(b.sizes(), b.strides(), shape)},
                             grain, [&](const StridedRow<3>& r) { row(f, po, pa, pb, r); });
}

}  // namespace tg::detail
