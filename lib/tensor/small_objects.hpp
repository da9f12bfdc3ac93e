// Per-thread free lists for the small objects every op allocates and frees again within
// microseconds: TensorImpl, Storage, AutogradMeta, tape nodes and their shared_ptr control
// blocks. On a per-example graph (`c = a * b + a; c.backward()` on scalars) these are
// ~20 allocations per iteration, and glibc's malloc + free cost ~140 instructions a pair
// there (callgrind, issue 15); a free-list push or pop is ~10.
//
// A block freed on another thread joins that thread's lists (blocks are plain
// ::operator new memory, so any thread may reuse or release them); each list keeps at most
// kMaxCached blocks and a thread's lists are released when it exits. Builds with
// AddressSanitizer bypass the lists, so use-after-free stays detectable.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace tg::detail {

void* small_object_alloc(std::size_t bytes);
void small_object_free(void* block, std::size_t bytes) noexcept;

// A std allocator over the lists, for std::allocate_shared (object and control block in one
// pooled block).
template <class T>
struct SmallObjectAllocator {
    using value_type = T;
    SmallObjectAllocator() = default;
    template <class U>
    SmallObjectAllocator(const SmallObjectAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
    T* allocate(std::size_t n) { return static_cast<T*>(small_object_alloc(n * sizeof(T))); }
    void deallocate(T* block, std::size_t n) noexcept { small_object_free(block, n * sizeof(T)); }
    template <class U>
    bool operator==(const SmallObjectAllocator<U>&) const noexcept { return true; }
};

// std::make_shared with the control block and the object in one pooled block.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
    return std::allocate_shared<T>(SmallObjectAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace tg::detail
