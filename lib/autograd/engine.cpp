// The engine: runs the tape backwards from some outputs. An iterative walk counts, for
// every node, how many consumers will send it a gradient; nodes then run in reverse
// creation order once all their gradients have arrived (summed in their input buffer).
// Without retain_graph each node frees its saved tensors as soon as it has run.
#include "autograd/engine.hpp"

#include <queue>

#include "autograd/anomaly.hpp"
#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

// True when no other tensor, view or saved copy can see t's buffer, so the engine may add
// into it instead of allocating a sum.
bool exclusively_owned(const Tensor& t) {
    return t.is_contiguous() && t.unsafe_impl_ptr().use_count() == 1 &&
           t.unsafe_impl()->storage().use_count() == 1 && !t.requires_grad();
}

// The sink of a leaf's gradients: adds them into the leaf's .grad(). Holds the leaf
// weakly so the tape does not keep variables alive.
class AccumulateGrad final : public Node {
public:
    explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {
        NodeAccess::outputs(*this).push_back({leaf->sizes(), leaf->dtype()});
    }
    std::string_view name() const override { return "AccumulateGrad"; }

    // Runs the leaf's hooks; returns the gradient that will be accumulated.
    Tensor run_leaf_hooks(Tensor grad) const {
        auto leaf = leaf_.lock();
        if (!leaf || !leaf->autograd()) return grad;
        for (const auto& hook : leaf->autograd()->leaf_hooks) {
            Tensor replaced = hook(grad);
            if (replaced.defined()) grad = replaced;
        }
        return grad;
    }

    std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
        auto leaf = leaf_.lock();
        if (!leaf || !grads[0].defined()) return {};
        Tensor incoming = std::move(grads[0]);
        Tensor& grad = leaf->ensure_autograd().grad;
        if (GradMode::is_enabled()) {  // create_graph: keep the gradient differentiable
            grad = grad.defined() ? grad + incoming : incoming;
            return {};
        }
        if (grad.defined()) {
            grad.add_(incoming);
        } else if (exclusively_owned(incoming)) {
            grad = std::move(incoming);  // nobody else sees this buffer: take it
        } else {
            grad = incoming.detach().clone();
        }
        return {};
    }

private:
    std::weak_ptr<TensorImpl> leaf_;
};

Tensor apply_hooks(Node& node, std::uint32_t output_nr, Tensor grad) {
    for (auto& [nr, hook] : NodeAccess::hooks(node)) {
        if (nr != output_nr || !grad.defined()) continue;
        Tensor replaced = hook(grad);
        if (replaced.defined()) grad = replaced;
    }
    return grad;
}

// Callbacks queued (autograd::queue_callback) during the innermost running backward pass.
thread_local std::vector<std::function<void()>>* queued_callbacks = nullptr;

struct Capture {
    Node* node;
    std::uint32_t output_nr;
    Tensor grad;
};

// One backward pass. `captures` (for autograd::grad) receive the gradient arriving at
// their edge; with `accumulate` false, leaves' .grad() are left alone.
void run_backward(const std::vector<Edge>& roots, std::vector<Tensor> root_grads, bool keep_graph,
                  bool create_graph, bool accumulate, std::vector<Capture>& captures) {
    // 1. Count each node's consumers with an explicit stack (no recursion: tapes can be
    //    100k nodes deep). `alive` keeps every node of the pass alive and lets us reset
    //    the per-node bookkeeping at the end, even when an exception leaves early.
    std::vector<std::shared_ptr<Node>> alive;
    struct ResetBookkeeping {
        std::vector<std::shared_ptr<Node>>& nodes;
        ~ResetBookkeeping() {
            for (auto& n : nodes) {
                NodeAccess::pending_consumers(*n) = 0;
                NodeAccess::visited(*n) = false;
                NodeAccess::input_buffer(*n).clear();
            }
        }
    } reset{alive};
    std::vector<Node*> stack;
    auto visit = [&](const std::shared_ptr<Node>& node) {
        if (NodeAccess::visited(*node)) return;
        NodeAccess::visited(*node) = true;
        alive.push_back(node);
        stack.push_back(node.get());
    };
    for (const auto& root : roots) visit(root.node);
    while (!stack.empty()) {
        Node* node = stack.back();
        stack.pop_back();
        for (const auto& edge : node->next_edges()) {
            if (!edge.node) continue;
            ++NodeAccess::pending_consumers(*edge.node);
            visit(edge.node);
        }
    }

    // 2. Seed the input buffers with the root gradients.
    auto add_to_buffer = [&](Node* node, std::uint32_t nr, Tensor grad) {
        auto& buffer = NodeAccess::input_buffer(*node);
        if (buffer.empty()) buffer.resize(node->outputs().size());
        Tensor& sum = buffer[nr];
        if (!sum.defined())
            sum = std::move(grad);
        else if (!GradMode::is_enabled() && sum.sizes() == grad.sizes() && sum.dtype() == grad.dtype() &&
                 exclusively_owned(sum))
            sum.add_(grad);  // a gradient used by several consumers: no new tensor per addend
        else
            sum = sum + grad;
    };
    for (std::size_t i = 0; i < roots.size(); ++i)
        add_to_buffer(roots[i].node.get(), roots[i].input_nr, std::move(root_grads[i]));

    // 3. Run nodes whose gradients are complete, newest first.
    auto later_first = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
    std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
    for (const auto& root : roots)
        if (NodeAccess::pending_consumers(*root.node) == 0) {
            NodeAccess::pending_consumers(*root.node) = -1;  // queued once even if given twice
            ready.push(root.node.get());
        }

    std::vector<std::function<void()>> callbacks;
    struct CallbackScope {
        std::vector<std::function<void()>>* outer = queued_callbacks;
        explicit CallbackScope(std::vector<std::function<void()>>* mine) { queued_callbacks = mine; }
        ~CallbackScope() { queued_callbacks = outer; }
    } callback_scope(&callbacks);
    AutoGradMode grad_mode(create_graph);
    while (!ready.empty()) {
        Node* node = ready.top();
        ready.pop();
        std::vector<Tensor> grads = std::move(NodeAccess::input_buffer(*node));
        grads.resize(node->outputs().size());
        bool any_defined = false;
        for (std::uint32_t i = 0; i < grads.size(); ++i) {
            grads[i] = apply_hooks(*node, i, std::move(grads[i]));
            if (grads[i].defined()) any_defined = true;
        }
        auto* accumulator = dynamic_cast<AccumulateGrad*>(node);
        if (accumulator && grads[0].defined()) grads[0] = accumulator->run_leaf_hooks(grads[0]);
        for (auto& capture : captures)
            if (capture.node == node && grads[capture.output_nr].defined())
                capture.grad = grads[capture.output_nr];

        std::vector<Tensor> input_grads;
        const auto edges = node->next_edges();  // copy: release() may clear them
        if (any_defined && !(accumulator && !accumulate)) {
            TG_CHECK(!node->released(), node->name(),
                     "trying to backward through the graph a second time (the first backward "
                     "freed it); call backward(grad, /*retain_graph=*/true) the first time");
            detail::RunningNodeScope running(node);
            input_grads = node->apply(std::move(grads));
            if (detail::anomaly_enabled()) detail::anomaly_check_backward(*node, input_grads);
        }
        if (!keep_graph && !accumulator) {
            node->release();
            NodeAccess::edges(*node).clear();
            NodeAccess::mark_released(*node);
        }
        for (std::size_t i = 0; i < edges.size(); ++i) {
            const Edge& edge = edges[i];
            if (!edge.node) continue;
            Node* next = edge.node.get();
            if (i < input_grads.size() && input_grads[i].defined()) {
                const TensorMeta& expected = next->outputs()[edge.input_nr];
                TG_CHECK(input_grads[i].sizes() == expected.sizes, node->name(),
                         "internal: backward produced a gradient of shape {} for input {} of "
                         "shape {}",
                         input_grads[i].sizes(), i, expected.sizes);
                add_to_buffer(next, edge.input_nr, std::move(input_grads[i]));
            }
            if (--NodeAccess::pending_consumers(*next) == 0) ready.push(next);
        }
    }
    // 4. Callbacks queued by hooks during the pass (a callback may queue more).
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
        auto callback = std::move(callbacks[i]);
        callback();
    }
}

Tensor default_root_grad(const Tensor& t, const Tensor& given, std::string_view op) {
    if (given.defined()) {
        TG_CHECK(given.sizes() == t.sizes(), op, "gradient of shape {} given for an output of shape {}",
                 given.sizes(), t.sizes());
        return given.dtype() == t.dtype() ? given : given.to(t.dtype());
    }
    TG_CHECK(t.numel() == 1, op,
             "a gradient can be created implicitly only for one-element outputs, got shape {}; "
             "pass a gradient of that shape (e.g. tg::ones_like(output))",
             t.sizes());
    return ones_like(t);
}

void collect_roots(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grads,
                   std::string_view op, std::vector<Edge>& roots, std::vector<Tensor>& root_grads) {
    TG_CHECK(grads.empty() || grads.size() == tensors.size(), op,
             "{} outputs but {} gradients given", tensors.size(), grads.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        detail::check_defined(t, op);
        TG_CHECK(t.requires_grad(), op,
                 "output {} (shape {}) does not require grad and has no grad_fn: no input of "
                 "the computation had requires_grad_(), or it ran under NoGradGuard",
                 i, t.sizes());
        roots.push_back(detail::gradient_edge(t));
        root_grads.push_back(default_root_grad(t, grads.empty() ? Tensor() : grads[i], op));
    }
}

}  // namespace

namespace detail {

Edge gradient_edge(const Tensor& t) {
    auto& impl = impl_of(t);
    AutogradMeta* meta = impl.autograd();
    if (!meta || !meta->requires_grad) return {};
    if (meta->grad_fn) return {meta->grad_fn, meta->output_nr};
    std::shared_ptr<Node> accumulator = meta->grad_accumulator.lock();
    if (!accumulator) {
        accumulator = std::make_shared<AccumulateGrad>(t.unsafe_impl_ptr());
        meta->grad_accumulator = accumulator;
    }
    return {accumulator, 0};
}

}  // namespace detail

namespace autograd {

void queue_callback(std::function<void()> callback) {
    TG_CHECK(queued_callbacks != nullptr, "queue_callback", "no backward pass is running on this thread");
    TG_CHECK(static_cast<bool>(callback), "queue_callback", "the callback is empty");
    queued_callbacks->push_back(std::move(callback));
}

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              bool retain_graph, bool create_graph) {
    std::vector<Edge> roots;
    std::vector<Tensor> root_grads;
    collect_roots(tensors, grad_tensors, "backward", roots, root_grads);
    std::vector<Capture> none;
    run_backward(roots, std::move(root_grads), retain_graph || create_graph, create_graph, true, none);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool create_graph, bool allow_unused) {
    std::vector<Edge> roots;
    std::vector<Tensor> root_grads;
    collect_roots(outputs, grad_outputs, "autograd::grad", roots, root_grads);
    std::vector<Capture> captures;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        detail::check_defined(inputs[i], "autograd::grad");
        TG_CHECK(inputs[i].requires_grad(), "autograd::grad",
                 "input {} (shape {}) does not require grad", i, inputs[i].sizes());
        Edge edge = detail::gradient_edge(inputs[i]);
        captures.push_back({edge.node.get(), edge.input_nr, {}});
    }
    run_backward(roots, std::move(root_grads), retain_graph || create_graph, create_graph, false,
                 captures);
    std::vector<Tensor> result;
    for (std::size_t i = 0; i < captures.size(); ++i) {
        TG_CHECK(captures[i].grad.defined() || allow_unused, "autograd::grad",
                 "input {} (shape {}) was not used to compute the outputs; pass "
                 "allow_unused=true to get an undefined gradient for it",
                 i, inputs[i].sizes());
        result.push_back(captures[i].grad);
    }
    return result;
}

}  // namespace autograd
}  // namespace tg
