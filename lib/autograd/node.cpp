#include <vector>

#include "tapegrad/autograd.hpp"

namespace tg {

namespace {
thread_local std::uint64_t next_sequence_nr = 0;
}

Node::Node() : sequence_nr_(next_sequence_nr++) {}

// Destroying the last handle of a long chain (an RNN over 10,000 steps) would recurse
// once per node through the shared_ptr destructors and overflow the stack. Instead the
// first destructor on this thread drains a work list: a node being destroyed hands its
// edges to the list, and whichever of them it held last dies in the loop below, not
// inside this destructor.
Node::~Node() {
    // A node the engine released (or a leaf's accumulator) has no edges: nothing to hand
    // over, and no thread_local to look up (per-op overhead, issue 15).
    if (next_edges_.empty()) return;
    thread_local std::vector<std::shared_ptr<Node>> pending;
    thread_local bool draining = false;
    for (auto& edge : next_edges_)
        if (edge.node) pending.push_back(std::move(edge.node));
    next_edges_.clear();
    if (draining) return;
    draining = true;
    while (!pending.empty()) {
        std::shared_ptr<Node> node = std::move(pending.back());
        pending.pop_back();
        node.reset();  // may run ~Node, which only appends to `pending`
    }
    draining = false;
}

void Node::add_output_hook(std::uint32_t output_nr, GradHook hook) {
    hooks_.emplace_back(output_nr, std::move(hook));
}

}  // namespace tg
