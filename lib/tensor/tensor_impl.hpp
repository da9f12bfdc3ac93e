// What a Tensor handle points to: storage + view + (optional) autograd metadata.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/tensor.hpp"
#include "tensor/small_objects.hpp"

namespace tg {

// A buffer shared by all views of it (64-byte aligned, 16 for small inline ones). `version`
// counts in-place writes.
struct Storage {
    explicit Storage(std::size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data = nullptr;
    std::size_t nbytes = 0;
    std::size_t capacity = 0;  // what the allocator gave (tensor/allocator.hpp)
    std::uint64_t version = 0;
    // Up to kInlineBytes (scalars, small vectors) live here, inside the Storage's own
    // allocation: one allocation fewer per small tensor, which is most of an op's cost on
    // per-example graphs (issue 15, per-op overhead). 16-byte aligned, not 64: an
    // over-aligned Storage would make make_shared call memalign (callgrind: ~500
    // instructions against malloc's ~100), and no kernel needs more for 64 bytes.
    static constexpr std::size_t kInlineBytes = 64;
    alignas(16) unsigned char inline_data[kInlineBytes];
};

// Allocated only for tensors that take part in autograd (or carry a name).
struct AutogradMeta {
    // From the small-object lists (tensor/small_objects.hpp): every recorded op's output has one.
    static void* operator new(std::size_t bytes) { return detail::small_object_alloc(bytes); }
    static void operator delete(void* block, std::size_t bytes) noexcept { detail::small_object_free(block, bytes); }

    bool requires_grad = false;
    bool retains_grad = false;
    Tensor grad;
    std::shared_ptr<Node> grad_fn;  // null for leaves
    std::uint32_t output_nr = 0;    // which output of grad_fn this tensor is
    // Leaves: the node every use of the leaf sends its gradient to. Held strongly (it holds
    // the leaf weakly and has no edges, so it keeps neither the leaf nor a tape alive): a
    // weak handle made each iteration of a per-example loop build and free it again.
    std::shared_ptr<Node> grad_accumulator;
    std::vector<Node::GradHook> leaf_hooks;
    std::string name;
};

class TensorImpl {
public:
    TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides, std::int64_t offset,
               Dtype dtype);
    // A new contiguous tensor over all of `storage` (make_tensor): sizes copied once and
    // strides written in place, where the general form above took both by value and moved
    // them in again (three 6-dim copies per new tensor; per-op overhead, issue 15).
    TensorImpl(std::shared_ptr<Storage> storage, const Shape& sizes, Dtype dtype);

    const std::shared_ptr<Storage>& storage() const { return storage_; }
    const Shape& sizes() const { return sizes_; }
    const Shape& strides() const { return strides_; }
    std::int64_t offset() const { return offset_; }
    Dtype dtype() const { return dtype_; }
    std::int64_t numel() const { return numel_; }
    bool is_contiguous() const { return contiguous_; }

    // First element of the view.
    void* data() const {
        return static_cast<char*>(storage_->data) + offset_ * static_cast<std::int64_t>(element_size(dtype_));
    }
    template <class T> T* data_as() const { return static_cast<T*>(data()); }

    AutogradMeta* autograd() const { return autograd_.get(); }
    AutogradMeta& ensure_autograd();
    bool requires_grad() const { return autograd_ && autograd_->requires_grad; }

private:
    void finish_construction();  // tracer report, contiguity

    std::shared_ptr<Storage> storage_;
    Shape sizes_;
    Shape strides_;
    std::int64_t offset_;
    std::int64_t numel_;
    Dtype dtype_;
    bool contiguous_;
    std::unique_ptr<AutogradMeta> autograd_;
};

Shape contiguous_strides(const Shape& sizes);

// A new contiguous, uninitialised tensor.
Tensor make_tensor(const Shape& sizes, Dtype dtype);
// A view of `base`'s storage with other sizes/strides/offset (no autograd metadata).
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, std::int64_t offset);

inline TensorImpl& impl_of(const Tensor& t) { return *t.unsafe_impl(); }

}  // namespace tg
