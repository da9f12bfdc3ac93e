// The tape: nodes that know how to send gradients back to their inputs, grad mode, and
// the engine entry points (Tensor::backward, tg::autograd::grad).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// Recording on the tape is on by default; ops record only when an input requires grad.
struct GradMode {
    static bool is_enabled();
    static void set_enabled(bool enabled);
};

// Sets grad mode for a scope (libtorch's AutoGradMode); the previous mode comes back
// when it ends.
class AutoGradMode {
public:
    explicit AutoGradMode(bool enabled) : previous_(GradMode::is_enabled()) {
        GradMode::set_enabled(enabled);
    }
    ~AutoGradMode() { GradMode::set_enabled(previous_); }
    AutoGradMode(const AutoGradMode&) = delete;
    AutoGradMode& operator=(const AutoGradMode&) = delete;

private:
    bool previous_;
};

// Nothing is recorded while one lives (= libtorch's NoGradGuard; inference, updates).
struct NoGradGuard : AutoGradMode {
    NoGradGuard() : AutoGradMode(false) {}
};

// Where a node sends the gradient for one of its inputs: that input's producing node and
// which of its outputs the input was (or the leaf's gradient accumulator).
struct Edge {
    std::shared_ptr<Node> node;
    std::uint32_t input_nr = 0;
    bool valid() const { return node != nullptr; }
};

struct TensorMeta {
    Shape sizes;
    Dtype dtype = kFloat32;
};

// One recorded operation. apply() maps the gradients of its outputs to the gradients of
// its inputs (one per next_edges entry; undefined where an input needs none).
class Node : public std::enable_shared_from_this<Node> {
public:
    Node();
    virtual ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    virtual std::string_view name() const = 0;
    virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
    // Drops what apply() needs (saved tensors) once a backward without retain_graph ran.
    virtual void release() {}
    // Bytes of tensor data this node keeps alive for its backward (debugging aids).
    virtual std::size_t saved_bytes() const { return 0; }

    const std::vector<Edge>& next_edges() const { return next_edges_; }
    const std::vector<TensorMeta>& outputs() const { return outputs_; }
    std::uint64_t sequence_nr() const { return sequence_nr_; }
    bool released() const { return released_; }
    // Module / variable-scope path at the time the op ran ("encoder/conv1"), may be empty.
    const std::string& scope() const {
        static const std::string empty;
        return scope_ ? *scope_ : empty;
    }

    // Hooks run on this node's output gradients before apply (Tensor::register_hook).
    using GradHook = std::function<Tensor(const Tensor&)>;
    void add_output_hook(std::uint32_t output_nr, GradHook hook);

protected:
    friend struct NodeAccess;
    std::vector<Edge> next_edges_;
    std::vector<TensorMeta> outputs_;
    std::vector<std::pair<std::uint32_t, GradHook>> hooks_;
    std::uint64_t sequence_nr_;
    std::shared_ptr<const std::string> scope_;  // shared by every node of one scope
    bool released_ = false;
    // Bookkeeping of the backward pass running through this node (engine.cpp): how many
    // consumers have yet to send a gradient, and the gradients summed so far. Kept here
    // rather than in hash maps because per-op overhead is a product feature.
    int pending_consumers_ = 0;
    bool visited_ = false;
    std::vector<Tensor> input_buffer_;
};

namespace autograd {

// d(outputs)/d(inputs) weighted by grad_outputs (default: ones for one-element outputs),
// returned instead of accumulated into .grad() (= tf.gradients). With create_graph the
// backward pass itself is recorded, so the results can be differentiated again.
// An input the outputs do not depend on gets an undefined tensor, or an error unless
// allow_unused.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused);
// libtorch's positional form with its defaults: grad(outputs, inputs, grad_outputs = {},
// retain_graph = false, create_graph = false, allow_unused = false). A template only so that
// it loses the tie to the GradOptions form below: GCC 12 counts a designated-initializer list
// as convertible to std::vector, which would make grad(o, i, {.create_graph = true})
// ambiguous against a plain function.
template <class GradOutputs = std::vector<Tensor>>
    requires std::convertible_to<const GradOutputs&, const std::vector<Tensor>&>
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const GradOutputs& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false) {
    return grad(outputs, inputs, static_cast<const std::vector<Tensor>&>(grad_outputs), retain_graph,
                create_graph, allow_unused);
}

// The same with named options instead of positional booleans, for designated initializers:
//   auto g = tg::autograd::grad({loss}, {w}, {.create_graph = true});
//   auto g = tg::autograd::grad({y}, {x}, {.grad_outputs = {dy}, .retain_graph = true});
// (Fields are in the positional order, as C++20 requires designators to be.)
struct GradOptions {
    std::vector<Tensor> grad_outputs = {};
    bool retain_graph = false;
    bool create_graph = false;
    bool allow_unused = false;
};
inline std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                                const GradOptions& options) {
    return grad(outputs, inputs, options.grad_outputs, options.retain_graph, options.create_graph,
                options.allow_unused);
}

// Runs backward from `tensors` (the engine behind Tensor::backward).
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              bool retain_graph = false, bool create_graph = false);

// Runs `callback` once when the backward pass now running has finished its last node (just
// before backward() / grad() returns; not at all if the pass throws). For hooks that start
// work which must complete with the pass: DistributedDataParallel waits for its gradient
// allreduces here. Throws when no backward pass is running on this thread.
void queue_callback(std::function<void()> callback);

// Compares the analytic gradient of sum(fn(inputs) * r) (r random, fixed) with central
// finite differences, for every float64 input that requires grad. Returns true when all
// agree to atol + rtol * |numeric|; otherwise false, and `report` (if given) says where.
struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
};
bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
               const std::vector<Tensor>& inputs, const GradcheckOptions& options = {},
               std::string* report = nullptr);

}  // namespace autograd
}  // namespace tg

TG_PUBLIC_END
