// What an op uses to put itself on the tape: SavedTensor for what its backward needs,
// and record() to attach a FunctionNode (its backward closure) to its output.
//
//   Tensor out = ...forward...;
//   if (detail::needs_grad(a, b))
//       detail::record("mul", {a, b}, out, [sa = SavedTensor(a), sb = SavedTensor(b)](
//           const Tensor& g) -> GradList { return {g * sb.unpack(), g * sa.unpack()}; });
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <type_traits>
#include <string_view>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/tensor.hpp"
#include "tensor/small_objects.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

using GradList = std::vector<Tensor>;

// Tensor::requires_grad() read inline (the method is a call into the library, and every
// recorded op asks it of each input several times; issue 15, per-op overhead).
inline bool requires_grad_of(const Tensor& t) {
    const TensorImpl* impl = t.unsafe_impl();
    return impl && impl->requires_grad();
}

// True when grad mode is on and any input requires grad: only then is a node recorded.
inline bool needs_grad(const Tensor& a) { return GradMode::is_enabled() && requires_grad_of(a); }
template <class... Ts>
bool needs_grad(const Tensor& a, const Ts&... rest) {
    return GradMode::is_enabled() && (requires_grad_of(a) || (requires_grad_of(rest) || ...));
}
bool needs_grad(const std::vector<Tensor>& inputs);

// A tensor kept for the backward pass. Unpacking checks the storage's version, so an
// in-place write between forward and backward is an error, not a wrong gradient.
// An op's own output is saved without its grad_fn (which would be a reference cycle);
// unpacking it while recording a double backward re-attaches the running node.
class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& tensor, bool is_output = false);
    Tensor unpack() const;
    std::size_t bytes() const;
    bool defined() const { return data_.defined(); }

private:
    Tensor data_;
    std::uint64_t version_ = 0;
    bool is_output_ = false;
};

using BackwardFn = std::function<GradList(std::vector<Tensor>& grad_outputs)>;

// A tape node whose backward is a closure written next to the op's forward. The closure
// lives inside the node (ClosureNode<F>): one allocation per recorded op for both, where a
// std::function member would allocate the captures apart (per-op overhead, issue 15).
class FunctionNode : public Node {
public:
    FunctionNode(std::string_view name, std::size_t saved_bytes) : name_(name), saved_bytes_(saved_bytes) {}
    std::string_view name() const override { return name_; }
    std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
    void release() override {
        drop_backward();
        saved_bytes_ = 0;
    }
    std::size_t saved_bytes() const override { return saved_bytes_; }

protected:
    virtual bool has_backward() const = 0;
    virtual GradList run_backward(std::vector<Tensor>& grad_outputs) = 0;
    virtual void drop_backward() = 0;  // frees the captures (saved tensors)

private:
    std::string_view name_;  // op names are string literals
    std::size_t saved_bytes_;
};

template <class F>
class ClosureNode final : public FunctionNode {
public:
    ClosureNode(std::string_view name, F&& backward, std::size_t saved_bytes)
        : FunctionNode(name, saved_bytes), backward_(std::move(backward)) {}

protected:
    bool has_backward() const override { return backward_.has_value(); }
    GradList run_backward(std::vector<Tensor>& grad_outputs) override { return (*backward_)(grad_outputs); }
    void drop_backward() override { backward_.reset(); }

private:
    std::optional<F> backward_;
};

// Attaches `node` (a new node for its op) to `outputs` with edges to `inputs`; its backward
// maps the output gradients (undefined ones filled with zeros) to one gradient per input.
void attach_node(std::shared_ptr<FunctionNode> node, const Tensor* inputs, std::size_t num_inputs,
                 Tensor* const* outputs, std::size_t num_outputs);
// The bytes of the SavedTensors built since the last node was attached (they are its).
std::size_t take_pending_saved_bytes();

template <class F>
void record_closure(std::string_view name, const Tensor* inputs, std::size_t num_inputs, Tensor* const* outputs,
                    std::size_t num_outputs, F&& backward) {
    // What the node keeps is exactly what its SavedTensors counted: one way to count.
    using Closure = std::decay_t<F>;
    attach_node(make_pooled<ClosureNode<Closure>>(name, Closure(std::forward<F>(backward)),
                                                       take_pending_saved_bytes()),
                inputs, num_inputs, outputs, num_outputs);
}

// Multi-output form: backward(std::vector<Tensor>& grad_outputs) -> GradList.
template <class F>
void record_node(std::string_view name, const Tensor* inputs, std::size_t num_inputs,
                 const std::vector<Tensor*>& outputs, F&& backward) {
    record_closure(name, inputs, num_inputs, outputs.data(), outputs.size(), std::forward<F>(backward));
}

// Single-output form: backward(const Tensor& grad_output) -> GradList.
template <class F>
void record(std::string_view name, std::initializer_list<Tensor> inputs, Tensor& output,
            F&& backward) {
    Tensor* out = &output;
    record_closure(name, inputs.begin(), inputs.size(), &out, 1,
                   [f = std::forward<F>(backward)](std::vector<Tensor>& g) { return f(g[0]); });
}
template <class F>
void record(std::string_view name, const std::vector<Tensor>& inputs, Tensor& output,
            F&& backward) {
    Tensor* out = &output;
    record_closure(name, inputs.data(), inputs.size(), &out, 1,
                   [f = std::forward<F>(backward)](std::vector<Tensor>& g) { return f(g[0]); });
}

// The node being applied by the engine on this thread (null outside backward).
Node* current_node();
// This thread's slot of it: the engine looks it up once per pass and sets it around each
// node it runs (RunningNodeScope), not twice per node.
Node*& current_node_slot();
struct RunningNodeScope {
    RunningNodeScope(Node*& slot, Node* node) : slot(slot), previous(std::exchange(slot, node)) {}
    ~RunningNodeScope() { slot = previous; }
    RunningNodeScope(const RunningNodeScope&) = delete;
    RunningNodeScope& operator=(const RunningNodeScope&) = delete;
    Node*& slot;
    Node* previous;
};

// Throws "op: cannot write in place to a tensor that requires grad ..." unless allowed.
void check_inplace(const Tensor& target, std::string_view op);
// Marks an in-place write to `target`'s storage.
void bump_version(const Tensor& target);

}  // namespace tg::detail
