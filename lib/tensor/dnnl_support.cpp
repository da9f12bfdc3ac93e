#include "tensor/dnnl_support.hpp"

#ifdef TG_HAVE_DNNL

#include <vector>

#include "tensor/aligned_buffer.hpp"

namespace tg::detail {

dnnl::engine& dnnl_cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::stream& dnnl_thread_stream() {
    thread_local dnnl::stream stream(dnnl_cpu_engine());
    return stream;
}

void* dnnl_scratch(std::size_t slot, std::size_t bytes) {
    thread_local std::vector<ScratchBuffer> buffers;
    if (slot >= buffers.size()) buffers.resize(slot + 1);
    return buffers[slot].get(bytes);
}

}  // namespace tg::detail

#endif
