#include "tensor/tensor_impl.hpp"

#include "tensor/allocator.hpp"

#include <cstdlib>
#include <new>

#include "tapegrad/error.hpp"
#include "tensor/trace.hpp"
#include "tensor/check.hpp"
#include "tensor/interrupt.hpp"
#include "tensor/shape_check.hpp"
#include "tensor/small_objects.hpp"

namespace tg {

Storage::Storage(std::size_t bytes) : nbytes(bytes) {
    data = bytes <= kInlineBytes ? static_cast<void*>(inline_data) : detail::acquire_block(bytes, &capacity);
}

Storage::~Storage() {
    if (data != inline_data) detail::release_block(data, capacity);
}

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides,
                       std::int64_t offset, Dtype dtype)
    : storage_(std::move(storage)),
      sizes_(std::move(sizes)),
      strides_(std::move(strides)),
      offset_(offset),
      numel_(sizes_.numel()),
      dtype_(dtype) {
    finish_construction();
}

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage, const Shape& sizes, Dtype dtype)
    : storage_(std::move(storage)), sizes_(sizes), strides_(sizes), offset_(0), numel_(sizes_.numel()),
      dtype_(dtype) {
    std::int64_t stride = 1;  // as contiguous_strides
    for (std::size_t d = sizes_.size(); d-- > 0;) {
        strides_[d] = stride;
        stride *= sizes_[d] > 0 ? sizes_[d] : 1;
    }
    finish_construction();
}

void TensorImpl::finish_construction() {
    if (auto* tracer = detail::active_tracer()) tracer->created(this);
    // Contiguous = row-major with no gaps; dims of size 1 may have any stride.
    contiguous_ = true;
    std::int64_t expected = 1;
    for (std::size_t d = sizes_.size(); d-- > 0;) {
        if (sizes_[d] == 1) continue;
        // A view's sizes need not fit int64 strides (expand); overflow means not contiguous.
        if (strides_[d] != expected || __builtin_mul_overflow(expected, sizes_[d], &expected)) {
            contiguous_ = false;
            break;
        }
    }
}

AutogradMeta& TensorImpl::ensure_autograd() {
    if (!autograd_) autograd_ = std::make_unique<AutogradMeta>();
    return *autograd_;
}

Shape contiguous_strides(const Shape& sizes) {
    Shape strides(sizes.size(), 1);
    std::int64_t stride = 1;
    for (std::size_t d = sizes.size(); d-- > 0;) {
        strides[d] = stride;
        stride *= sizes[d] > 0 ? sizes[d] : 1;
    }
    return strides;
}

Tensor make_tensor(const Shape& sizes, Dtype dtype) {
    // Every new tensor passes here: after this check no size, stride or byte count of it
    // can overflow, whatever the shape came from (a user, a file).
    if (!detail::shape_fits(sizes, dtype)) detail::fail("empty", detail::shape_problem(sizes, dtype));
    detail::check_interrupt();  // Ctrl-C in a REPL: stop at the next op (tapegrad/interrupt.hpp)
    const std::size_t bytes = static_cast<std::size_t>(sizes.numel()) * element_size(dtype);
    std::shared_ptr<Storage> storage;
    try {
        storage = detail::make_pooled<Storage>(bytes);
    } catch (const std::bad_alloc&) {
        detail::fail("empty", fmt::format("cannot allocate {} bytes for a {} tensor of shape {}", bytes,
                                          dtype_name(dtype), sizes));
    }
    return Tensor(detail::make_pooled<TensorImpl>(std::move(storage), sizes, dtype));
}

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, std::int64_t offset) {
    const auto& b = impl_of(base);
    return Tensor(detail::make_pooled<TensorImpl>(b.storage(), sizes, strides, offset, b.dtype()));
}

}  // namespace tg
