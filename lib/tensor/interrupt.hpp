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
inline void check_interrupt() {
    if (thread_interruptible && interrupt_requested.load(std::memory_order_relaxed)) throw_interrupted();
}

}  // namespace tg::detail
