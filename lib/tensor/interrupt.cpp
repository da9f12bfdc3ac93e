#include "tensor/interrupt.hpp"

#include "tapegrad/interrupt.hpp"

namespace tg {
namespace detail {

// A lock-free atomic<bool> is safe to store from a signal handler.
std::atomic<bool> interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);
thread_local bool thread_interruptible = false;

void throw_interrupted() {
    interrupt_requested.store(false, std::memory_order_relaxed);
    throw Interrupted();
}

}  // namespace detail

void request_interrupt() noexcept { detail::interrupt_requested.store(true, std::memory_order_relaxed); }

InterruptibleScope::InterruptibleScope() noexcept : was_interruptible_(detail::thread_interruptible) {
    if (!was_interruptible_) detail::interrupt_requested.store(false, std::memory_order_relaxed);
    detail::thread_interruptible = true;
}

InterruptibleScope::~InterruptibleScope() { detail::thread_interruptible = was_interruptible_; }

}  // namespace tg
