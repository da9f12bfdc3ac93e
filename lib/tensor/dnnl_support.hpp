// What the oneDNN callers share (direct_conv.cpp, packed_linear.cpp): one CPU engine, a
// stream per thread, and per-thread scratch kept between calls. Only compiled with oneDNN.
#pragma once

#ifdef TG_HAVE_DNNL

#include <cstddef>

#include <oneapi/dnnl/dnnl.hpp>

namespace tg::detail {

dnnl::engine& dnnl_cpu_engine();
// The calling thread's stream on that engine (CPU streams are in order and cheap, but
// making one per call costs more than a batch-1 product takes).
dnnl::stream& dnnl_thread_stream();
// The calling thread's scratch buffer number `slot`, at least `bytes` long and 64-byte
// aligned, kept until a larger request for the same slot: a fresh multi-megabyte buffer
// per call would fault its pages in every step. Valid until the thread's next request for
// that slot, so a caller uses it within one call.
void* dnnl_scratch(std::size_t slot, std::size_t bytes);

}  // namespace tg::detail

#endif
