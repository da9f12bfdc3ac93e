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
#include <string_view>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

using GradList = std::vector<Tensor>;

// True when grad mode is on and any input requires grad: only then is a node recorded.
inline bool needs_grad(const Tensor& a) { return GradMode::is_enabled() && a.requires_grad(); }
template <class... Ts>
bool needs_grad(const Tensor& a, const Ts&... rest) {
    return GradMode::is_enabled() && (a.requires_grad() || (rest.requires_grad() || ...));
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

// A tape node whose backward is a closure written next to the op's forward.
class FunctionNode final : public Node {
public:
    FunctionNode(std::string_view name, BackwardFn backward, std::size_t saved_bytes)
        : name_(name), backward_(std::move(backward)), saved_bytes_(saved_bytes) {}
    std::string_view name() const override { return name_; }
    std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
    void release() override {
        backward_ = nullptr;
        saved_bytes_ = 0;
    }
    std::size_t saved_bytes() const override { return saved_bytes_; }

private:
    std::string_view name_;  // op names are string literals
    BackwardFn backward_;
    std::size_t saved_bytes_;
};

// Attaches a new node for op `name` to `outputs` with edges to `inputs`. `backward` maps
// the output gradients (undefined ones filled with zeros) to one gradient per input.
void record_node(std::string_view name, const Tensor* inputs, std::size_t num_inputs,
                 const std::vector<Tensor*>& outputs, BackwardFn backward,
                 std::size_t saved_bytes = 0);

// Single-output form: backward(const Tensor& grad_output) -> GradList.
template <class F>
void record(std::string_view name, std::initializer_list<Tensor> inputs, Tensor& output,
            F&& backward, std::size_t saved_bytes = 0) {
    record_node(name, inputs.begin(), inputs.size(), {&output},
                [f = std::forward<F>(backward)](std::vector<Tensor>& g) { return f(g[0]); },
                saved_bytes);
}
template <class F>
void record(std::string_view name, const std::vector<Tensor>& inputs, Tensor& output,
            F&& backward, std::size_t saved_bytes = 0) {
    record_node(name, inputs.data(), inputs.size(), {&output},
                [f = std::forward<F>(backward)](std::vector<Tensor>& g) { return f(g[0]); },
                saved_bytes);
}

// The node being applied by the engine on this thread (null outside backward).
Node* current_node();
Node* exchange_current_node(Node* node);
struct RunningNodeScope {
    explicit RunningNodeScope(Node* node) : previous(exchange_current_node(node)) {}
    ~RunningNodeScope() { exchange_current_node(previous); }
    RunningNodeScope(const RunningNodeScope&) = delete;
    RunningNodeScope& operator=(const RunningNodeScope&) = delete;
    Node* previous;
};

// Throws "op: cannot write in place to a tensor that requires grad ..." unless allowed.
void check_inplace(const Tensor& target, std::string_view op);
// Marks an in-place write to `target`'s storage.
void bump_version(const Tensor& target);

}  // namespace tg::detail
