// tg::jit::Graph: attribute access, validation, text and Graphviz printing; run() hands
// over to the executor (lib/jit/executor.hpp).
#include <algorithm>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "jit/executor.hpp"
#include "jit/kernels.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/error.hpp"
#include "tensor/check.hpp"
#include "tapegrad/jit.hpp"
#include "tensor/trace.hpp"

namespace tg::jit {

namespace {

const Attribute& attribute(const Node& node, const std::string& name) {
    for (const auto& [key, value] : node.attributes)
        if (key == name) return value;
    throw Error(fmt::format("jit: node '{}' has no attribute '{}'", node.kind, name));
}

template <class T>
const T& typed(const Node& node, const std::string& name, const char* type) {
    const Attribute& a = attribute(node, name);
    const T* v = std::get_if<T>(&a);
    TG_CHECK(v != nullptr, "jit", "node '{}': attribute '{}' is not {}", node.kind, name, type);
    return *v;
}

std::string attribute_str(const Attribute& a) {
    return std::visit(
        [](const auto& v) -> std::string {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::string>) return fmt::format("\"{}\"", v);
            else if constexpr (std::is_same_v<V, std::vector<std::int64_t>>) return fmt::format("[{}]", fmt::join(v, ", "));
            else return fmt::format("{}", v);
        },
        a);
}

}  // namespace

Graph optimize_for_inference(Graph graph) {
    graph.optimized_for_inference_ = true;
    graph.forget_plans();
    return graph;
}

bool Node::has(const std::string& name) const {
    return std::any_of(attributes.begin(), attributes.end(), [&](const auto& a) { return a.first == name; });
}
std::int64_t Node::i(const std::string& name) const { return typed<std::int64_t>(*this, name, "an integer"); }
double Node::f(const std::string& name) const {
    const Attribute& a = attribute(*this, name);
    if (const auto* v = std::get_if<std::int64_t>(&a)) return static_cast<double>(*v);
    return typed<double>(*this, name, "a real");
}
const std::vector<std::int64_t>& Node::ints(const std::string& name) const {
    return typed<std::vector<std::int64_t>>(*this, name, "a list of integers");
}
const std::string& Node::s(const std::string& name) const { return typed<std::string>(*this, name, "a string"); }

int Graph::add_value(Value value) {
    values_.push_back(std::move(value));
    forget_plans();
    return static_cast<int>(values_.size()) - 1;
}

int Graph::find(const std::string& name) const {
    for (std::size_t k = 0; k < values_.size(); ++k)
        if (values_[k].name == name) return static_cast<int>(k);
    std::vector<std::string> names;
    for (const auto& v : values_) names.push_back(v.name);
    throw Error(fmt::format("jit: the graph has no value named '{}'; its values are {}", name, fmt::join(names, ", ")));
}

void Graph::validate() const {
    const auto n = static_cast<int>(values_.size());
    std::vector<bool> defined(values_.size(), false);
    auto check_id = [&](int id, const std::string& where) {
        TG_CHECK(id >= 0 && id < n, "jit", "{} refers to value {} of a graph with {} values", where, id, n);
    };
    for (int id : inputs_) check_id(id, "a placeholder"), defined[static_cast<std::size_t>(id)] = true;
    for (const auto& [id, data] : initializers_) {
        check_id(id, "an initializer");
        TG_CHECK(data.defined() && data.sizes() == values_[static_cast<std::size_t>(id)].shape, "jit",
                 "initializer '{}' holds a tensor of shape {}, expected {}", values_[static_cast<std::size_t>(id)].name,
                 data.defined() ? data.sizes() : Shape{}, values_[static_cast<std::size_t>(id)].shape);
        defined[static_cast<std::size_t>(id)] = true;
    }
    for (const auto& node : nodes_) {
        TG_CHECK(detail::find_kernel(node.kind) != nullptr, "jit", "node kind '{}' has no executor kernel", node.kind);
        for (int id : node.inputs) {
            if (id < 0) continue;
            check_id(id, "node '" + node.kind + "'");
            TG_CHECK(defined[static_cast<std::size_t>(id)], "jit", "node '{}' reads '{}' before anything defines it",
                     node.kind, values_[static_cast<std::size_t>(id)].name);
        }
        for (int id : node.outputs)
            if (id >= 0) check_id(id, "node '" + node.kind + "'"), defined[static_cast<std::size_t>(id)] = true;
    }
    for (int id : outputs_) {
        check_id(id, "an output");
        TG_CHECK(defined[static_cast<std::size_t>(id)], "jit", "output '{}' is never defined",
                 values_[static_cast<std::size_t>(id)].name);
    }
}

std::vector<Tensor> Graph::run(const Feeds& feeds) const {
    TG_CHECK(executor_ != nullptr, "jit", "run on a moved-from graph");
    return detail::execute(*this, *executor_, feeds, nullptr);
}

std::vector<Tensor> Graph::run(const Feeds& feeds, const std::vector<std::string>& fetches) const {
    TG_CHECK(executor_ != nullptr, "jit", "run on a moved-from graph");
    return detail::execute(*this, *executor_, feeds, &fetches);
}

std::size_t Graph::last_run_node_count() const {
    return executor_ ? executor_->last_run_nodes.load(std::memory_order_relaxed) : 0;
}

std::string Graph::str() const {
    std::string s = "graph(";
    std::vector<std::string> ins;
    for (int id : inputs_) ins.push_back(fmt::format("%{}: {}", values_[static_cast<std::size_t>(id)].name, detail::shape_text(values_[static_cast<std::size_t>(id)])));
    s += fmt::format("{}) {{\n", fmt::join(ins, ", "));
    for (const auto& [id, data] : initializers_)
        s += fmt::format("  %{}: {} = initializer\n", values_[static_cast<std::size_t>(id)].name,
                         detail::shape_text(values_[static_cast<std::size_t>(id)]));
    auto node_line = [&](const Node& node, const char* indent) {
        std::vector<std::string> outs, args, attrs;
        for (int id : node.outputs)
            outs.push_back(id >= 0 ? fmt::format("%{}: {}", values_[static_cast<std::size_t>(id)].name,
                                                 detail::shape_text(values_[static_cast<std::size_t>(id)]))
                                   : std::string("_"));
        for (int id : node.inputs) args.push_back(id >= 0 ? "%" + values_[static_cast<std::size_t>(id)].name : std::string("None"));
        for (const auto& [key, value] : node.attributes) attrs.push_back(fmt::format("{}={}", key, attribute_str(value)));
        return fmt::format("{}{} = {}({}{}{})\n", indent, fmt::join(outs, ", "), node.kind, fmt::join(args, ", "),
                           attrs.empty() ? "" : ", ", fmt::join(attrs, ", "));
    };
    // A fused chain prints as one block where the executor runs it (at its last member).
    const auto groups = detail::output_fusion(*this);
    std::vector<int> group_at(nodes_.size(), -1);
    std::vector<bool> fused(nodes_.size(), false);
    for (std::size_t k = 0; k < groups.size(); ++k) {
        for (int m : groups[k].members) fused[static_cast<std::size_t>(m)] = true;
        group_at[static_cast<std::size_t>(groups[k].members.back())] = static_cast<int>(k);
    }
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (group_at[n] >= 0) {
            const auto& group = groups[static_cast<std::size_t>(group_at[n])];
            s += fmt::format("  %{} = {} {{  # one pass\n", values_[static_cast<std::size_t>(group.output)].name,
                             detail::fused_label(*this, group));
            for (int m : group.members) s += node_line(nodes_[static_cast<std::size_t>(m)], "    ");
            s += "  }\n";
        } else if (!fused[n]) {
            s += node_line(nodes_[n], "  ");
        }
    }
    std::vector<std::string> outs;
    for (int id : outputs_) outs.push_back("%" + values_[static_cast<std::size_t>(id)].name);
    s += fmt::format("  return {}\n}}\n", fmt::join(outs, ", "));
    return s;
}

std::string Graph::to_dot() const {
    auto quoted = [](const std::string& text) {
        std::string q = "\"";
        for (char c : text) {
            if (c == '"' || c == '\\') q += '\\';
            q += c;
        }
        return q + "\"";
    };
    std::string s = "digraph tapegrad {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
    std::vector<std::string> producer(values_.size());
    for (int id : inputs_) {
        const auto& v = values_[static_cast<std::size_t>(id)];
        producer[static_cast<std::size_t>(id)] = fmt::format("v{}", id);
        s += fmt::format("  v{} [shape=ellipse, label={}];\n", id, quoted(v.name + "\n" + detail::shape_text(v)));
    }
    for (const auto& [id, data] : initializers_) {
        const auto& v = values_[static_cast<std::size_t>(id)];
        producer[static_cast<std::size_t>(id)] = fmt::format("v{}", id);
        s += fmt::format("  v{} [shape=box, style=dashed, label={}];\n", id, quoted(v.name + "\n" + detail::shape_text(v)));
    }
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        const Node& node = nodes_[n];
        const int first = node.outputs.empty() ? -1 : node.outputs[0];
        const std::string label = first >= 0 ? values_[static_cast<std::size_t>(first)].name + "\n" + node.kind : node.kind;
        s += fmt::format("  n{} [shape=box, style=rounded, label={}];\n", n, quoted(label));
        for (int id : node.inputs)
            if (id >= 0 && !producer[static_cast<std::size_t>(id)].empty())
                s += fmt::format("  {} -> n{} [label={}];\n", producer[static_cast<std::size_t>(id)], n,
                                 quoted(detail::shape_text(values_[static_cast<std::size_t>(id)])));
        for (int id : node.outputs)
            if (id >= 0) producer[static_cast<std::size_t>(id)] = fmt::format("n{}", n);
    }
    const auto groups = detail::output_fusion(*this);
    for (std::size_t k = 0; k < groups.size(); ++k) {
        s += fmt::format("  subgraph cluster_fused_{} {{\n    style=dashed;\n    label={};\n", k,
                         quoted(detail::fused_label(*this, groups[k])));
        for (int m : groups[k].members) s += fmt::format("    n{};\n", m);
        s += "  }\n";
    }
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
        const int id = outputs_[k];
        s += fmt::format("  out{} [shape=ellipse, label={}];\n  {} -> out{};\n", k,
                         quoted(values_[static_cast<std::size_t>(id)].name), producer[static_cast<std::size_t>(id)], k);
    }
    return s + "}\n";
}

std::ostream& operator<<(std::ostream& os, const Graph& graph) { return os << graph.str(); }

}  // namespace tg::jit
