// Stopping a long computation from outside: Ctrl-C in a REPL or a notebook.
//
// A host (tapegrad-repl, the Jupyter kernel, or your own program) runs user code inside an
// InterruptibleScope and calls request_interrupt() from its SIGINT handler. The next tensor
// that code creates on that thread throws tg::Interrupted, which unwinds the computation
// like any tg::Error: earlier state (models, optimizers, tensors) stays usable.
//
//   std::signal(SIGINT, [](int) { tg::request_interrupt(); });
//   try {
//       tg::InterruptibleScope scope;
//       for (;;) train_one_step();            // Ctrl-C: throws at the next op
//   } catch (const tg::Interrupted&) { ... }
//
// Only the thread inside the scope is stopped: other threads (a DataLoader's workers, a
// second model training elsewhere) never see the request. Pure C++ loops that create no
// tensors are not interrupted. tg::train::fit handles Ctrl-C itself (stops after the
// current step, keeps the history).
#pragma once

#include "tapegrad/error.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// What an interrupted computation throws.
class Interrupted : public Error {
public:
    Interrupted() : Error("interrupted (Ctrl-C)") {}
};

// Asks the code running inside an InterruptibleScope to stop. Async-signal-safe.
void request_interrupt() noexcept;

// Makes the calling thread interruptible for its lifetime and clears any earlier request
// (a Ctrl-C pressed at the prompt does not stop the next input). Scopes nest.
class InterruptibleScope {
public:
    InterruptibleScope() noexcept;
    ~InterruptibleScope();
    InterruptibleScope(const InterruptibleScope&) = delete;
    InterruptibleScope& operator=(const InterruptibleScope&) = delete;

private:
    bool was_interruptible_;
};

}  // namespace tg

TG_PUBLIC_END
