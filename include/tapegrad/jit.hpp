// tg::jit: a traced graph of a function or module, run with feeds and fetches (TF-1's
// Session.run), printed, drawn, exported (tapegrad/onnx.hpp).
//
//   tg::jit::Graph g = tg::jit::trace(model, tg::randn({1, 784}), {.dynamic_batch = true});
//   auto logits = g.run({{"input", batch}})[0];            // every output
//   auto [h] = ...; g.run({{"input", batch}}, {"relu_1"});  // only what "relu_1" needs
//   std::cout << g;                                        // one line per node
//
// trace() runs the function once eagerly and records every op (grad or not) with its
// attributes. What cannot be recorded faithfully throws a tg::Error naming it: item()
// on a traced value (data-dependent control flow), an op without a trace hook, a tensor
// written through data_ptr. Python-level control flow (C++ ifs and loops on sizes) is
// unrolled for the example's shapes, as in torch.jit.trace. docs/graphs-and-onnx.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tapegrad/serialize.hpp"
#include "tapegrad/shape.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn {
class Module;
}

namespace tg::jit {

namespace detail {
// The executor's plans of a graph (lib/jit/executor.hpp).
struct ExecutorState;
std::shared_ptr<ExecutorState> new_executor_state();
}  // namespace detail

// An op attribute: integer (bools, enums), real, list of integers or string.
using Attribute = std::variant<std::int64_t, double, std::vector<std::int64_t>, std::string>;

// A value in the graph: a placeholder, an initializer (parameter or constant) or an op's
// output. `shape` is the traced shape; with `dynamic_batch` its first dim is the batch
// (None in TF-1, a named dim in ONNX) and may differ at run time.
struct Value {
    std::string name{};
    Shape shape{};
    Dtype dtype = kFloat32;
    bool dynamic_batch = false;
};

struct Node {
    std::string kind{};  // the op's name: "conv2d", "add", "gru", ...
    std::vector<std::pair<std::string, Attribute>> attributes{};
    std::vector<int> inputs{};   // value ids; -1 = an absent optional input (no bias)
    std::vector<int> outputs{};  // value ids

    bool has(const std::string& name) const;
    // Typed attribute reads; a missing or mistyped attribute throws naming the node.
    std::int64_t i(const std::string& name) const;
    double f(const std::string& name) const;
    const std::vector<std::int64_t>& ints(const std::string& name) const;
    const std::string& s(const std::string& name) const;
};

using Feeds = std::map<std::string, Tensor>;

class Graph {
public:
    const std::vector<Value>& values() const { return values_; }
    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<int>& inputs() const { return inputs_; }    // placeholders, in order
    const std::vector<int>& outputs() const { return outputs_; }  // in the function's order
    // Parameters (by named_parameters / named_buffers names) and constants.
    const std::vector<std::pair<int, Tensor>>& initializers() const { return initializers_; }
    const Value& value(int id) const { return values_.at(static_cast<std::size_t>(id)); }
    // The id of the value called `name`; throws listing the names when there is none.
    int find(const std::string& name) const;

    // Feeds every placeholder and returns the outputs.
    std::vector<Tensor> run(const Feeds& feeds) const;
    // Returns the fetched values (outputs or any intermediate, by name) in order, running
    // only the nodes they depend on; only the placeholders they need must be fed.
    //
    // The first run for a fetch set, fed set and feed shapes (and strides) makes a plan:
    // the schedule with its kernels resolved, where each value is released, chains of
    // elementwise nodes fused into one pass, and the byte size of every block the nodes
    // take. Later runs with the same key reuse it and place those blocks in one arena laid
    // out by liveness, so they take no memory from the allocator except for the fetched
    // values they return (which never alias the arena). docs/graphs-and-onnx.md, "Executor".
    //
    // Thread safety: run may be called from several threads at once on one graph (or on
    // copies of it). Each plan's arena serves one run at a time; a run that finds it in use
    // runs the same plan with ordinary allocation. Changing the graph (add_*, rename) while
    // another thread runs it is a data race, as for a standard container.
    std::vector<Tensor> run(const Feeds& feeds, const std::vector<std::string>& fetches) const;
    // How many nodes the last run executed (the rest were not needed by its fetches); a
    // fused chain counts its members.
    std::size_t last_run_node_count() const;

    // One line per node: "%relu_1 = relu(%linear_0)"; the elementwise chains the executor
    // fuses when fetching the outputs are shown as one "fused" block listing its members.
    std::string str() const;
    std::string to_dot() const;  // Graphviz; a fused chain is a dashed cluster

    // The graph with a node appended: for builders (tests, import); trace() is the usual way.
    // Each drops the plans made so far.
    int add_value(Value value);
    void add_node(Node node) {
        nodes_.push_back(std::move(node));
        forget_plans();
    }
    void add_input(int value) {
        inputs_.push_back(value);
        forget_plans();
    }
    void add_output(int value) {
        outputs_.push_back(value);
        forget_plans();
    }
    void add_initializer(int value, Tensor data) {
        initializers_.emplace_back(value, std::move(data));
        forget_plans();
    }
    void rename(int value, std::string name) {
        values_.at(static_cast<std::size_t>(value)).name = std::move(name);
        forget_plans();
    }
    // Checks ids, producers before consumers and that every kind has an executor kernel.
    void validate() const;
    // Whether this graph came from optimize_for_inference (below).
    bool optimized_for_inference() const { return optimized_for_inference_; }

private:
    std::vector<Value> values_;
    std::vector<Node> nodes_;
    std::vector<int> inputs_, outputs_;
    std::vector<std::pair<int, Tensor>> initializers_;
    // The executor's plans; copies share them until one of them changes (forget_plans gives
    // it fresh ones). Plans refer to nodes and values by id, never by address.
    mutable std::shared_ptr<detail::ExecutorState> executor_ = detail::new_executor_state();
    void forget_plans() { executor_ = detail::new_executor_state(); }
    bool optimized_for_inference_ = false;
    friend Graph optimize_for_inference(Graph graph);
};

std::ostream& operator<<(std::ostream& os, const Graph& graph);

// The graph for serving (torch.jit.optimize_for_inference; TF-1's optimize_for_inference
// tool). Its runs compute each float32 linear layer whose weight is an initializer on
// oneDNN's inner product, with the weight reordered once into the blocked layout that
// kernel reads fastest and a following ReLU applied as it writes the output (when nothing
// else reads or fetches the linear's own output). Results match the plain graph's to
// float32 rounding, not bitwise (another summation order). The packed copy is remade when
// a weight changes through tapegrad (in-place ops, optimizer steps: its version());
// writes through data_ptr() are not seen. Without oneDNN, and for shapes it declines, runs
// are those of the plain graph. docs/graphs-and-onnx.md, "Inference kernels".
Graph optimize_for_inference(Graph graph);

// Every member of these aggregates has an initializer ({} at least), so designated
// initializers such as {.dynamic_batch = true} compile cleanly under -Wextra.
struct TraceOptions {
    std::vector<std::string> input_names{};   // default "input", "input_1", ...
    std::vector<std::string> output_names{};  // default "output", "output_1", ...
    // The inputs' first dim is the batch: TF-1's shape=[None, 784].
    bool dynamic_batch = false;
    // Names for tensors the function reads that are not inputs (its weights); others
    // become constants named "const_N".
    NamedTensors parameters{};
};

using TracedFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

Graph trace(const TracedFunction& fn, const std::vector<Tensor>& example_inputs, const TraceOptions& options = {});
// module.forward(example_input); parameters and buffers keep their named_parameters /
// named_buffers names. The module is traced in its current mode (call eval() first for
// inference: dropout off, batch norm on running statistics).
Graph trace(nn::Module& module, const Tensor& example_input, const TraceOptions& options = {});

// The kinds trace() can record and run (each op with a trace hook and an executor kernel).
std::vector<std::string> traceable_kinds();

}  // namespace tg::jit

TG_PUBLIC_END
