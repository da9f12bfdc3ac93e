// The seam between the ops and a tracer (lib/jit): an op reports what it computed with
// one line next to where it records its tape node,
//
//   TG_TRACE("leaky_relu", {a}, out, {{"negative_slope", negative_slope}});
//
// and nothing else changes. With no tracer active the macro is one thread_local load.
// lib/jit installs a Tracer while tracing; layers below never see lib/jit.
//
// Why the tracer also hears about tensor creation (every TensorImpl, factory constants,
// item()): an op without a TG_TRACE line must make trace() fail, not leave a silently
// frozen value in the graph. A tensor made while tracing that reaches a traced op without
// having been reported (by an op or a factory) came from an op with no hook, and the
// tracer says so.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tapegrad/shape.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {
class TensorImpl;
}

namespace tg::detail {

// An op attribute: an integer (bools and enums included), a real, a list of integers
// (strides, axes, shapes) or a string.
struct TraceAttr {
    using Value = std::variant<std::int64_t, double, std::vector<std::int64_t>, std::string>;
    TraceAttr(std::int64_t v) : value(v) {}  // NOLINT: implicit, so attrs read as {{"dim", dim}}
    TraceAttr(int v) : value(std::int64_t{v}) {}
    TraceAttr(bool v) : value(std::int64_t{v}) {}
    TraceAttr(double v) : value(v) {}
    TraceAttr(const Shape& v) : value(std::vector<std::int64_t>(v.begin(), v.end())) {}
    TraceAttr(std::vector<std::int64_t> v) : value(std::move(v)) {}
    TraceAttr(std::string_view v) : value(std::string(v)) {}
    TraceAttr(const char* v) : value(std::string(v)) {}
    Value value;
};
using TraceAttrs = std::vector<std::pair<std::string, TraceAttr>>;

class Tracer {
public:
    virtual ~Tracer() = default;
    // An op `kind` read `inputs` (undefined = an absent optional input) and made `outputs`.
    virtual void op(std::string_view kind, std::vector<Tensor> inputs, std::vector<Tensor> outputs,
                    TraceAttrs attrs) = 0;
    // A factory made `t` from its arguments alone (zeros, full, arange, from_vector, ...).
    virtual void constant(const Tensor& t) = 0;
    // A tensor was made (any TensorImpl, while this tracer is active).
    virtual void created(const TensorImpl* impl) = 0;
    // Something that cannot be recorded faithfully happened (item() on a traced value).
    virtual void untraceable(std::string_view what, const Tensor& t) = 0;
    // An in-place write made `target` hold `value` (the write's out-of-place form, traced):
    // later reads of target read value. Other views of target's storage stay stale, so a
    // read of them is still refused.
    virtual void assigned(const Tensor& target, const Tensor& value) = 0;
};

// How many threads have a tracer installed. While none has, active_tracer() answers from
// this one shared load: a thread_local read in a shared library is a call into the dynamic
// linker (__tls_get_addr, ~13 instructions), and every new tensor and op asks (a dozen
// times per scalar op; issue 15, per-op overhead). A thread that installs a tracer counts
// itself first, so it always reads its own count as non-zero.
extern std::atomic<int> threads_tracing;
Tracer* thread_tracer();

// The tracer active on this thread (null when not tracing).
inline Tracer* active_tracer() {
    return threads_tracing.load(std::memory_order_relaxed) == 0 ? nullptr : thread_tracer();
}
Tracer* exchange_tracer(Tracer* tracer);

inline void trace_op(Tracer& tracer, std::string_view kind, std::vector<Tensor> inputs, const Tensor& output,
                     TraceAttrs attrs = {}) {
    tracer.op(kind, std::move(inputs), {output}, std::move(attrs));
}
inline void trace_op(Tracer& tracer, std::string_view kind, std::vector<Tensor> inputs,
                     std::vector<Tensor> outputs, TraceAttrs attrs = {}) {
    tracer.op(kind, std::move(inputs), std::move(outputs), std::move(attrs));
}

// Ops whose own node covers a side effect (batch norm's running statistics, written in
// place while the node's kernel writes them again at run time) make that write inside an
// UntracedScope, so the tracer does not rebind the statistics to the write's value.
struct UntracedScope {
    UntracedScope() : previous(exchange_tracer(nullptr)) {}
    ~UntracedScope() { exchange_tracer(previous); }
    UntracedScope(const UntracedScope&) = delete;
    UntracedScope& operator=(const UntracedScope&) = delete;
    Tracer* previous;
};

// A factory's result: reported as a constant when tracing, returned unchanged.
inline Tensor traced_constant(Tensor t) {
    if (Tracer* tracer = active_tracer()) tracer->constant(t);
    return t;
}

}  // namespace tg::detail

#define TG_TRACE(kind, ...)                                                        \
    do {                                                                           \
        if (::tg::detail::Tracer* tg_tracer_ = ::tg::detail::active_tracer())      \
            ::tg::detail::trace_op(*tg_tracer_, kind, __VA_ARGS__);                \
    } while (0)
