// Tape -> GraphDef. The tape already is a dataflow graph (each node has edges to the nodes
// that produced its inputs), so this is a walk plus naming: TensorBoard groups nodes by
// '/'-separated name prefixes, which is why scope paths and dotted parameter names
// ("fc1.weight" -> "fc1/weight") make the graph fold by module.
//
// Messages and field numbers (tensorflow/core/framework/*.proto):
//   GraphDef        node = 1 (NodeDef), versions = 4 (VersionDef: producer = 1)
//   NodeDef         name = 1, op = 2, input = 3 (repeated), attr = 5 (map<string, AttrValue>)
//   AttrValue       list = 1 (ListValue), type = 6 (DataType), shape = 7 (TensorShapeProto)
//   ListValue       shape = 7 (repeated TensorShapeProto)
//   TensorShapeProto dim = 2 (Dim: size = 1)
// A map field is a repeated message {key = 1, value = 2}.
#include "io/graph_def.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "io/protobuf.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/variable_store.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::summary::detail {

namespace {

// GraphDef's producer version: any recent one; TensorBoard only displays it.
constexpr std::uint64_t kProducerVersion = 22;

ProtoWriter shape_proto(const Shape& shape) {
    ProtoWriter proto;
    for (std::int64_t size : shape) {
        ProtoWriter dim;
        dim.int_field(1, size);
        proto.message_field(2, dim);
    }
    return proto;
}

void add_attr(ProtoWriter& node, std::string_view key, const ProtoWriter& value) {
    ProtoWriter entry;
    entry.bytes_field(1, key);
    entry.message_field(2, value);
    node.message_field(5, entry);
}

void add_type_attr(ProtoWriter& node, std::string_view key, Dtype dtype) {
    ProtoWriter value;
    value.uint_field(6, tf_data_type(dtype));
    add_attr(node, key, value);
}

void add_output_shapes_attr(ProtoWriter& node, const std::vector<TensorMeta>& outputs) {
    ProtoWriter list;
    for (const TensorMeta& output : outputs) list.message_field(7, shape_proto(output.sizes));
    ProtoWriter value;
    value.message_field(1, list);
    add_attr(node, "_output_shapes", value);
}

// Hands out "base", "base_1", "base_2", ... (TensorFlow's rule), never a name in use.
class UniqueNames {
public:
    std::string get(const std::string& base) {
        std::string name = base;
        std::int64_t& n = counters_[base];
        while (used_.count(name)) name = base + "_" + std::to_string(++n);
        used_.insert(name);
        return name;
    }

private:
    std::unordered_set<std::string> used_;
    std::unordered_map<std::string, std::int64_t> counters_;
};

std::string slash_path(std::string name) {
    std::replace(name.begin(), name.end(), '.', '/');
    return name;
}

// The gradient accumulator of a leaf, if the tape made one (without creating one).
const Node* accumulator_of(const Tensor& t) {
    if (!t.defined() || !t.is_leaf() || !t.requires_grad()) return nullptr;
    const AutogradMeta* meta = impl_of(t).autograd();
    return meta ? meta->grad_accumulator.get() : nullptr;
}

// The finished GraphDef: its nodes (field 1) and then the producer version (field 4).
std::string with_versions(ProtoWriter& graph) {
    ProtoWriter versions;
    versions.uint_field(1, kProducerVersion);
    graph.message_field(4, versions);
    return graph.bytes();
}

}  // namespace

std::uint64_t tf_data_type(Dtype dtype) {
    switch (dtype) {
        case Dtype::Float32: return 1;  // DT_FLOAT
        case Dtype::Float64: return 2;  // DT_DOUBLE
        case Dtype::Int64: return 9;    // DT_INT64
        case Dtype::Bool: return 10;    // DT_BOOL
    }
    return 0;  // DT_INVALID
}

std::string build_graph_def(const Tensor& output, const NamedTensors& parameters) {
    constexpr std::string_view op = "add_graph";
    tg::detail::check_defined(output, op);
    const std::shared_ptr<Node> root = output.grad_fn();
    TG_CHECK(root != nullptr, op,
             "the output (shape {}) has no grad_fn, so there is no tape to draw: no input of "
             "its computation required grad, or it ran under NoGradGuard",
             output.sizes());

    // Every node reachable from the root; an explicit stack, as tapes can be 100k deep.
    std::vector<std::shared_ptr<Node>> nodes;
    std::unordered_set<const Node*> seen{root.get()};
    std::vector<std::shared_ptr<Node>> stack{root};
    while (!stack.empty()) {
        std::shared_ptr<Node> node = std::move(stack.back());
        stack.pop_back();
        TG_CHECK(!node->released(), op,
                 "the tape behind the output (shape {}) was freed by backward(); call add_graph "
                 "before backward(), or pass retain_graph=true to backward()",
                 output.sizes());
        for (const Edge& edge : node->next_edges())
            if (edge.node && seen.insert(edge.node.get()).second) stack.push_back(edge.node);
        nodes.push_back(std::move(node));
    }
    // Creation order: a node's inputs come before it, as in a TensorFlow graph.
    std::sort(nodes.begin(), nodes.end(),
              [](const auto& a, const auto& b) { return a->sequence_nr() < b->sequence_nr(); });

    // Names for leaves: the caller's, then the variable store's, then Tensor::name().
    std::unordered_map<const Node*, std::string> leaf_names;
    for (const auto& [name, tensor] : parameters)
        if (const Node* acc = accumulator_of(tensor))
            leaf_names.emplace(acc, slash_path(name.empty() ? tensor.name() : name));
    for (const VariableInfo& info : global_variables())
        if (const Node* acc = accumulator_of(info.tensor)) leaf_names.emplace(acc, info.name);

    UniqueNames unique;
    std::unordered_map<const Node*, std::string> names;
    // Variables first, so their names are not taken by op names.
    for (const auto& node : nodes) {
        if (node->name() != "AccumulateGrad") continue;
        auto it = leaf_names.find(node.get());
        names[node.get()] = unique.get(it != leaf_names.end() && !it->second.empty() ? it->second
                                                                                      : "Variable");
    }
    for (const auto& node : nodes) {
        if (node->name() == "AccumulateGrad") continue;
        const std::string type(node->name());
        names[node.get()] = unique.get(node->scope().empty() ? type : node->scope() + "/" + type);
    }

    ProtoWriter graph;
    for (const auto& node : nodes) {
        ProtoWriter def;
        def.bytes_field(1, names[node.get()]);
        const bool variable = node->name() == "AccumulateGrad";
        def.bytes_field(2, variable ? std::string_view("VariableV2") : node->name());
        for (const Edge& edge : node->next_edges()) {
            if (!edge.node) continue;  // an input that needs no grad leaves no trace on the tape
            std::string input = names[edge.node.get()];
            if (edge.input_nr != 0) input += ":" + std::to_string(edge.input_nr);
            def.bytes_field(3, input);
        }
        const auto& outputs = node->outputs();
        if (variable && !outputs.empty()) {
            add_type_attr(def, "dtype", outputs[0].dtype);
            ProtoWriter shape;
            shape.message_field(7, shape_proto(outputs[0].sizes));
            add_attr(def, "shape", shape);
        } else if (!outputs.empty()) {
            add_type_attr(def, "T", outputs[0].dtype);
        }
        add_output_shapes_attr(def, outputs);
        graph.message_field(1, def);
    }
    return with_versions(graph);
}

std::string build_graph_def(const jit::Graph& graph) {
    // Each value's producer: a NodeDef name, plus ":k" for an op's k-th output.
    std::vector<std::string> source(graph.values().size());
    ProtoWriter out;
    auto leaf = [&](int id, std::string_view op) {
        const jit::Value& v = graph.value(id);
        source[static_cast<std::size_t>(id)] = slash_path(v.name);
        ProtoWriter def;
        def.bytes_field(1, source[static_cast<std::size_t>(id)]);
        def.bytes_field(2, op);
        add_type_attr(def, "dtype", v.dtype);
        Shape shape = v.shape;
        if (v.dynamic_batch && !shape.empty()) shape[0] = -1;  // TF's unknown dim
        ProtoWriter shape_value;
        shape_value.message_field(7, shape_proto(shape));
        add_attr(def, "shape", shape_value);
        add_output_shapes_attr(def, {TensorMeta{shape, v.dtype}});
        out.message_field(1, def);
    };
    for (int id : graph.inputs()) leaf(id, "Placeholder");
    for (const auto& [id, data] : graph.initializers()) leaf(id, "VariableV2");
    for (const jit::Node& node : graph.nodes()) {
        const int first = node.outputs.empty() ? -1 : node.outputs[0];
        const std::string name = first >= 0 ? graph.value(first).name : node.kind;
        ProtoWriter def;
        def.bytes_field(1, name);
        def.bytes_field(2, node.kind);
        for (int id : node.inputs)
            if (id >= 0 && !source[static_cast<std::size_t>(id)].empty()) def.bytes_field(3, source[static_cast<std::size_t>(id)]);
        std::vector<TensorMeta> metas;
        for (std::size_t k = 0; k < node.outputs.size(); ++k) {
            const int id = node.outputs[k];
            if (id < 0) continue;
            source[static_cast<std::size_t>(id)] = k == 0 ? name : name + ":" + std::to_string(k);
            metas.push_back({graph.value(id).shape, graph.value(id).dtype});
        }
        if (!metas.empty()) add_type_attr(def, "T", metas[0].dtype);
        add_output_shapes_attr(def, metas);
        out.message_field(1, def);
    }
    return with_versions(out);
}

}  // namespace tg::summary::detail
