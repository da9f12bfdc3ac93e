// The check behind tg::request_interrupt (include/tapegrad/interrupt.hpp): make_tensor,
// which every op that produces a new tensor passes, calls it.
#pragma once

#include <atomic>

namespace tg::detail {

extern std::atomic<bool> interrupt_requested;
extern thread_local bool thread_interruptible;

// Throws tg::Interrupted when this thread is interruptible and a request is pending (the
// request is consumed: one Ctrl-C, one exception).
void throw_interrupted();
// The shared flag first: it is one load, the thread_local a call into the dynamic linker
// (every new tensor passes here; issue 15, per-op overhead).
inline void check_interrupt() {
    if (interrupt_requested.load(std::memory_order_relaxed) && thread_interruptible) throw_interrupted();
}

}  // namespace tg::detail
