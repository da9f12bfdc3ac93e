// Raw 64-byte aligned memory outside the tensor allocator: the kernels' scratch and
// oneDNN's packed weights. 64 bytes is a cache line and an AVX-512 vector, what oneDNN's
// blocked layouts and our SIMD loops want.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace tg::detail {

inline constexpr std::size_t kBufferAlignment = 64;

struct AlignedDelete {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{kBufferAlignment}); }
};

// `bytes` of aligned memory, freed with the last copy of the pointer (shared by the packed
// weights of concurrent runs).
inline std::shared_ptr<void> shared_aligned_buffer(std::size_t bytes) {
    return {::operator new(bytes, std::align_val_t{kBufferAlignment}), AlignedDelete{}};
}

// A buffer that grows to the largest size asked of it and keeps it: per-thread scratch.
// A fresh multi-megabyte buffer per call is an mmap whose pages fault in on first touch
// (and the kernel zeroes them); in a training loop that was most of a convolution's time.
class ScratchBuffer {
public:
    // At least `bytes` (at least 1), valid until the next larger request.
    void* get(std::size_t bytes) {
        if (bytes > capacity_ || !data_) {
            data_.reset(::operator new(bytes > 0 ? bytes : 1, std::align_val_t{kBufferAlignment}));
            capacity_ = bytes;
        }
        return data_.get();
    }

private:
    std::unique_ptr<void, AlignedDelete> data_;
    std::size_t capacity_ = 0;
};

}  // namespace tg::detail
