#include "tensor/dnnl_support.hpp"

#ifdef TG_HAVE_DNNL

#include <memory>
#include <new>
#include <vector>

namespace tg::detail {

dnnl::engine& dnnl_cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::stream& dnnl_thread_stream() {
    thread_local dnnl::stream stream(dnnl_cpu_engine());
    return stream;
}

namespace {

struct AlignedFree {
    void operator()(std::byte* p) const { ::operator delete(p, std::align_val_t{64}); }
};
struct ScratchBuffer {
    std::unique_ptr<std::byte, AlignedFree> data;
    std::size_t capacity = 0;
};

}  // namespace

void* dnnl_scratch(std::size_t slot, std::size_t bytes) {
    thread_local std::vector<ScratchBuffer> buffers;
    if (slot >= buffers.size()) buffers.resize(slot + 1);
    ScratchBuffer& b = buffers[slot];
    if (bytes > b.capacity) {
        b.data.reset(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64})));
        b.capacity = bytes;
    }
    return b.data.get();
}

}  // namespace tg::detail

#endif
