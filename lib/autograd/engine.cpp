// The engine: runs the tape backwards from some outputs. An iterative walk counts, for
// every node, how many consumers will send it a gradient; nodes then run in reverse
// creation order once all their gradients have arrived (summed in their input buffer).
// Without retain_graph each node frees its saved tensors as soon as it has run.
#include "autograd/engine.hpp"

#include <algorithm>
#include <typeinfo>
#include <utility>

#include "autograd/anomaly.hpp"
#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/elementwise.hpp"
#include "tensor/trace.hpp"
#include "tensor/small_objects.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

// True when no other tensor, view or saved copy can see t's buffer, so the engine may add
// into it instead of allocating a sum.
bool exclusively_owned(const Tensor& t) {
    return t.is_contiguous() && t.unsafe_impl_ptr().use_count() == 1 &&
           t.unsafe_impl()->storage().use_count() == 1 && !t.requires_grad();
}

// grad += incoming where both are contiguous with the same shape and float dtype and no
// tracer listens: the kernel alone, the same bits as add_, without add_'s in-place checks,
// broadcasting and trace hook, which were half the cost of accumulating a scalar's
// gradient (per-op overhead, issue 15). add_ serves every other case.
// Both are defined: read through TensorImpl, inline.
void accumulate_into(Tensor& grad, const Tensor& incoming) {
    const TensorImpl& g = impl_of(grad);
    const TensorImpl& in = impl_of(incoming);
    if (g.sizes() == in.sizes() && g.dtype() == in.dtype() && is_floating_point(g.dtype()) && g.is_contiguous() &&
        in.is_contiguous() && detail::active_tracer() == nullptr) {
        detail::visit_floating(g.dtype(), "AccumulateGrad", [&](auto v) {
            using T = decltype(v);
            detail::binary_loop<T, T, T>(grad, incoming, grad, [](T x, T y) { return x + y; });
        });
        detail::bump_version(grad);
        return;
    }
    grad.add_(incoming);
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
            accumulate_into(grad, incoming);
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

struct Capture {
    Node* node;
    std::uint32_t output_nr;
    Tensor grad;
};

// What a backward pass needs besides the nodes: kept per thread between passes, so a small
// graph (per-example training, the REPL) allocates none of it (issue 15, per-op overhead).
// A pass can start inside another (a hook or a backward closure calling autograd::grad):
// each pass leases its own scratch from this thread's spares and returns it cleared.
// Vectors that outlive their use by a few microseconds, recycled on this thread instead of
// freed and allocated again: a node's input buffer (the gradients summed for it) and a
// released node's edge list (attach_node takes it for the next recorded op). At most
// kMaxSpares of each are kept.
constexpr std::size_t kMaxSpares = 64;
struct SpareVectors {
    std::vector<std::vector<Tensor>> buffers;
    std::vector<std::vector<Edge>> edge_lists;
};

template <class T>
void recycle(std::vector<std::vector<T>>& into, std::vector<T>&& v) {
    v.clear();
    if (v.capacity() != 0 && into.size() < kMaxSpares) into.push_back(std::move(v));
}

struct PassScratch {
    std::vector<Node*> visited;        // every node of the pass, to reset its bookkeeping
    std::vector<Node*> stack;          // the counting walk's work list
    std::vector<Node*> ready;          // a heap: the newest complete node on top
    std::vector<std::shared_ptr<Node>> keep_alive;  // edges of released nodes, dropped at the end
};

// All of the engine's per-thread state, in one thread_local that a pass looks up once: in a
// shared library every thread_local lookup is a call into the dynamic linker, and three
// separate ones cost a dozen per pass (issue 15, per-op overhead).
struct EngineThread {
    std::vector<std::unique_ptr<PassScratch>> scratch;  // spare PassScratch, one per nested pass
    SpareVectors spare;
    // Callbacks queued (autograd::queue_callback) during the innermost running backward pass.
    std::vector<std::function<void()>>* queued_callbacks = nullptr;
};
// Not inlined: inline, GCC re-derives the address from the thread_local at every use instead
// of keeping it (a __tls_get_addr call each time, 11 in a pass over four nodes).
[[gnu::noinline]] EngineThread& engine_thread() {
    thread_local EngineThread state;
    return state;
}

class ScratchLease {
public:
    explicit ScratchLease(std::vector<std::unique_ptr<PassScratch>>& spares) : spares_(spares) {
        if (spares_.empty()) {
            scratch_ = std::make_unique<PassScratch>();
        } else {
            scratch_ = std::move(spares_.back());
            spares_.pop_back();
        }
    }
    ~ScratchLease() {
        scratch_->visited.clear();
        scratch_->stack.clear();
        scratch_->ready.clear();
        scratch_->keep_alive.clear();  // may free whole released graphs (Node::~Node drains them)
        spares_.push_back(std::move(scratch_));
    }
    ScratchLease(const ScratchLease&) = delete;
    ScratchLease& operator=(const ScratchLease&) = delete;
    PassScratch& operator*() { return *scratch_; }

private:
    std::vector<std::unique_ptr<PassScratch>>& spares_;
    std::unique_ptr<PassScratch> scratch_;
};

bool is_accumulator(const Node& node) { return typeid(node) == typeid(AccumulateGrad); }

// One backward pass from roots[i] seeded with root_grads[i]. `captures` (for
// autograd::grad) receive the gradient arriving at their edge; with `accumulate` false,
// leaves' .grad() are left alone. The roots' nodes stay alive through `roots`.
void run_backward(const Edge* roots, Tensor* root_grads, std::size_t num_roots, bool keep_graph,
                  bool create_graph, bool accumulate, std::vector<Capture>& captures) {
    EngineThread& thread = engine_thread();  // the pass's one thread_local lookup
    ScratchLease lease(thread.scratch);
    PassScratch& scratch = *lease;
    SpareVectors& spare = thread.spare;
    Node*& running_node = detail::current_node_slot();
    // 1. Count each node's consumers with an explicit stack (no recursion: tapes can be
    //    100k nodes deep). The nodes are alive while the pass runs: the roots hold them, and
    //    a released node's edges move to keep_alive instead of being dropped. `visited` lets
    //    us reset the per-node bookkeeping at the end, even when an exception leaves early.
    struct ResetBookkeeping {
        std::vector<Node*>& nodes;
        ~ResetBookkeeping() {
            for (Node* n : nodes) {
                NodeAccess::pending_consumers(*n) = 0;
                NodeAccess::visited(*n) = false;
                NodeAccess::input_buffer(*n).clear();
            }
        }
    } reset{scratch.visited};
    std::vector<Node*>& stack = scratch.stack;
    auto visit = [&](Node* node) {
        if (NodeAccess::visited(*node)) return;
        NodeAccess::visited(*node) = true;
        scratch.visited.push_back(node);
        stack.push_back(node);
    };
    for (std::size_t i = 0; i < num_roots; ++i) visit(roots[i].node.get());
    while (!stack.empty()) {
        Node* node = stack.back();
        stack.pop_back();
        for (const auto& edge : node->next_edges()) {
            if (!edge.node) continue;
            ++NodeAccess::pending_consumers(*edge.node);
            visit(edge.node.get());
        }
    }

    // 2. Seed the input buffers with the root gradients.
    auto add_to_buffer = [&](Node* node, std::uint32_t nr, Tensor&& grad) {
        auto& buffer = NodeAccess::input_buffer(*node);
        if (buffer.empty()) {
            if (!spare.buffers.empty()) {
                buffer = std::move(spare.buffers.back());
                spare.buffers.pop_back();
            }
            buffer.resize(node->outputs().size());
        }
        Tensor& sum = buffer[nr];
        if (!sum.defined())
            sum = std::move(grad);
        else if (!GradMode::is_enabled() && sum.sizes() == grad.sizes() && sum.dtype() == grad.dtype() &&
                 exclusively_owned(sum))
            accumulate_into(sum, grad);  // a gradient used by several consumers: no new tensor per addend
        else
            sum = sum + grad;
    };
    for (std::size_t i = 0; i < num_roots; ++i)
        add_to_buffer(roots[i].node.get(), roots[i].input_nr, std::move(root_grads[i]));

    // 3. Run nodes whose gradients are complete, newest first.
    auto later_first = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
    std::vector<Node*>& ready = scratch.ready;
    auto make_ready = [&](Node* node) {
        ready.push_back(node);
        std::push_heap(ready.begin(), ready.end(), later_first);
    };
    for (std::size_t i = 0; i < num_roots; ++i) {
        Node* root = roots[i].node.get();
        if (NodeAccess::pending_consumers(*root) == 0) {
            NodeAccess::pending_consumers(*root) = -1;  // queued once even if given twice
            make_ready(root);
        }
    }

    std::vector<std::function<void()>> callbacks;
    struct CallbackScope {
        std::vector<std::function<void()>>*& queued;
        std::vector<std::function<void()>>* outer;
        CallbackScope(std::vector<std::function<void()>>*& slot, std::vector<std::function<void()>>* mine)
            : queued(slot), outer(std::exchange(slot, mine)) {}
        ~CallbackScope() { queued = outer; }
    } callback_scope(thread.queued_callbacks, &callbacks);
    AutoGradMode grad_mode(create_graph);
    while (!ready.empty()) {
        std::pop_heap(ready.begin(), ready.end(), later_first);
        Node* node = ready.back();
        ready.pop_back();
        std::vector<Tensor> grads = std::move(NodeAccess::input_buffer(*node));
        grads.resize(node->outputs().size());
        bool any_defined = false;
        for (std::uint32_t i = 0; i < grads.size(); ++i) {
            if (!NodeAccess::hooks(*node).empty()) grads[i] = apply_hooks(*node, i, std::move(grads[i]));
            if (grads[i].defined()) any_defined = true;
        }
        auto* accumulator = is_accumulator(*node) ? static_cast<AccumulateGrad*>(node) : nullptr;
        if (accumulator && grads[0].defined()) grads[0] = accumulator->run_leaf_hooks(std::move(grads[0]));
        for (auto& capture : captures)
            if (capture.node == node && grads[capture.output_nr].defined())
                capture.grad = grads[capture.output_nr];

        std::vector<Tensor> input_grads;
        if (any_defined && !(accumulator && !accumulate)) {
            TG_CHECK(!node->released(), node->name(),
                     "trying to backward through the graph a second time (the first backward "
                     "freed it); call backward(grad, /*retain_graph=*/true) the first time");
            detail::RunningNodeScope running(running_node, node);
            input_grads = node->apply(std::move(grads));
            if (detail::anomaly_enabled()) detail::anomaly_check_backward(*node, input_grads);
        }
        recycle(spare.buffers, std::move(grads));  // apply() takes the values, not the vector
        auto& edges = NodeAccess::edges(*node);
        const bool release = !keep_graph && !accumulator;
        const std::size_t first_kept = scratch.keep_alive.size();
        if (release) {
            node->release();
            NodeAccess::mark_released(*node);
            // The edges leave the node, but their nodes must live until the pass ends:
            // keep_alive[first_kept + i] is edge i's node from here on.
            for (auto& edge : edges) scratch.keep_alive.push_back(std::move(edge.node));
        }
        for (std::size_t i = 0; i < edges.size(); ++i) {
            const Edge& edge = edges[i];
            Node* next = release ? scratch.keep_alive[first_kept + i].get() : edge.node.get();
            if (!next) continue;
            if (i < input_grads.size() && input_grads[i].defined()) {
                const TensorMeta& expected = next->outputs()[edge.input_nr];
                TG_CHECK(impl_of(input_grads[i]).sizes() == expected.sizes, node->name(),
                         "internal: backward produced a gradient of shape {} for input {} of "
                         "shape {}",
                         input_grads[i].sizes(), i, expected.sizes);
                add_to_buffer(next, edge.input_nr, std::move(input_grads[i]));
            }
            if (--NodeAccess::pending_consumers(*next) == 0) make_ready(next);
        }
        if (release) recycle(spare.edge_lists, std::move(edges));
    }
    // 4. Callbacks queued by hooks during the pass (a callback may queue more).
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
        auto callback = std::move(callbacks[i]);
        callback();
    }
}

// Where backward from output `index` starts: its grad_fn (or its accumulator, for a leaf).
Edge root_edge(const Tensor& t, std::string_view op, std::size_t index) {
    detail::check_defined(t, op);
    TG_CHECK(t.requires_grad(), op,
             "output {} (shape {}) does not require grad and has no grad_fn: no input of "
             "the computation had requires_grad_(), or it ran under NoGradGuard",
             index, t.sizes());
    return detail::gradient_edge(t);
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
        roots.push_back(root_edge(tensors[i], op, i));
        root_grads.push_back(default_root_grad(tensors[i], grads.empty() ? Tensor() : grads[i], op));
    }
}

}  // namespace

namespace detail {

std::vector<Edge> take_spare_edges() {
    auto& lists = engine_thread().spare.edge_lists;
    if (lists.empty()) return {};
    std::vector<Edge> edges = std::move(lists.back());
    lists.pop_back();
    return edges;
}

void backward_one(const Tensor& output, const Tensor& gradient, bool retain_graph, bool create_graph) {
    // Tensor::backward: one root, so no vectors of roots (per-op overhead, issue 15).
    Edge root = root_edge(output, "backward", 0);
    Tensor root_grad = default_root_grad(output, gradient, "backward");
    std::vector<Capture> none;
    run_backward(&root, &root_grad, 1, retain_graph || create_graph, create_graph, true, none);
}

Edge gradient_edge(const Tensor& t) {
    auto& impl = impl_of(t);
    AutogradMeta* meta = impl.autograd();
    if (!meta || !meta->requires_grad) return {};
    if (meta->grad_fn) return {meta->grad_fn, meta->output_nr};
    if (!meta->grad_accumulator) meta->grad_accumulator = detail::make_pooled<AccumulateGrad>(t.unsafe_impl_ptr());
    return {meta->grad_accumulator, 0};
}

}  // namespace detail

namespace autograd {

void queue_callback(std::function<void()> callback) {
    auto* queued = engine_thread().queued_callbacks;
    TG_CHECK(queued != nullptr, "queue_callback", "no backward pass is running on this thread");
    TG_CHECK(static_cast<bool>(callback), "queue_callback", "the callback is empty");
    queued->push_back(std::move(callback));
}

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              bool retain_graph, bool create_graph) {
    std::vector<Edge> roots;
    std::vector<Tensor> root_grads;
    collect_roots(tensors, grad_tensors, "backward", roots, root_grads);
    std::vector<Capture> none;
    run_backward(roots.data(), root_grads.data(), roots.size(), retain_graph || create_graph, create_graph, true,
                 none);
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
    run_backward(roots.data(), root_grads.data(), roots.size(), retain_graph || create_graph, create_graph, false,
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
