// Internal pieces of the engine shared with Tensor's autograd methods.
#pragma once

#include "tapegrad/autograd.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

// Where gradients for `t` go: its grad_fn output, or its leaf accumulator (created on
// first use). Invalid when t does not require grad.
Edge gradient_edge(const Tensor& t);

// Tensor::backward: backward from one output (gradient undefined: ones for a one-element output).
void backward_one(const Tensor& output, const Tensor& gradient, bool retain_graph, bool create_graph);

// An empty edge list, with room from a node the engine released on this thread when there
// is one (attach_node: no allocation for most recorded ops).
std::vector<Edge> take_spare_edges();

// Grants the engine access to a node's protected parts.
}  // namespace tg::detail

namespace tg {
struct NodeAccess {
    static std::vector<Edge>& edges(Node& n) { return n.next_edges_; }
    static std::vector<TensorMeta>& outputs(Node& n) { return n.outputs_; }
    static auto& hooks(Node& n) { return n.hooks_; }
    static void mark_released(Node& n) { n.released_ = true; }
    static int& pending_consumers(Node& n) { return n.pending_consumers_; }
    static bool& visited(Node& n) { return n.visited_; }
    static std::shared_ptr<const std::string>& scope(Node& n) { return n.scope_; }
    static std::vector<Tensor>& input_buffer(Node& n) { return n.input_buffer_; }
};
}  // namespace tg
