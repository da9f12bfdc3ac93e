#include "tensor/trace.hpp"

namespace tg::detail {

namespace {
thread_local Tracer* tracer_on_thread = nullptr;
}

std::atomic<int> threads_tracing{0};

Tracer* thread_tracer() { return tracer_on_thread; }

Tracer* exchange_tracer(Tracer* tracer) {
    Tracer* previous = tracer_on_thread;
    if (!previous && tracer) threads_tracing.fetch_add(1, std::memory_order_relaxed);
    tracer_on_thread = tracer;
    if (previous && !tracer) threads_tracing.fetch_sub(1, std::memory_order_relaxed);
    return previous;
}

}  // namespace tg::detail
