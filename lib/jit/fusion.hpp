// Elementwise fusion: chains of float32 elementwise nodes whose intermediates nothing
// else reads become one step that computes the chain in one pass over the data, chunk by
// chunk (each chunk's intermediates stay in L1), with one output allocation.
#pragma once

#include <string>
#include <vector>

#include "tapegrad/jit.hpp"

namespace tg::jit::detail {

enum class FusedOp { Add, Sub, Mul, Div, Neg, Relu, LeakyRelu, Sigmoid, Tanh };

// One member of a group: out = op(a, b); an operand k >= 0 is the group's k-th external
// input, k < 0 the result of member -k - 1. param: add/sub's alpha, leaky_relu's slope.
struct FusedStep {
    FusedOp op;
    int a = 0, b = 0;
    double param = 1.0;
};

// How an external input enters the chain: of the chain's shape, one element, or a row
// broadcast over the last dim.
enum class FusedInput { Full, Scalar, Row };

struct FusedGroup {
    std::vector<int> members;    // node indices, in graph order; the last one's output is the group's
    std::vector<int> externals;  // values the members read from outside the group
    std::vector<FusedInput> external_kinds;
    std::vector<FusedStep> steps;
    int output = -1;
};

// The chains among the nodes that run (`runs`): add, sub, mul, div, neg, relu, leaky_relu,
// sigmoid, tanh on float32, each operand of the node's own shape, a scalar or a row
// broadcast over the last dim, linked through values exactly one running node reads and
// that are not fetched (`fetched`). Groups of two or more nodes.
std::vector<FusedGroup> fusion_groups(const Graph& graph, const std::vector<bool>& runs, const std::vector<bool>& fetched);

// The group's output from its external inputs (env-ordered as group.externals), or an
// undefined tensor when the inputs are not of the shapes it was fused for (the caller then
// runs the members one by one).
Tensor run_fused(const FusedGroup& group, const std::vector<Tensor>& externals);

// "fused[add, tanh, mul]" for printing.
std::string fused_label(const Graph& graph, const FusedGroup& group);

}  // namespace tg::jit::detail
