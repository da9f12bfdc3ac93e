#include "tensor/trace.hpp"

namespace tg::detail {

namespace {
thread_local Tracer* tracer_on_thread = nullptr;
}

Tracer* active_tracer() { return tracer_on_thread; }

Tracer* exchange_tracer(Tracer* tracer) {
    Tracer* previous = tracer_on_thread;
    tracer_on_thread = tracer;
    return previous;
}

}  // namespace tg::detail
