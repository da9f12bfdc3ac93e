// print_tape / to_dot: the tape behind a tensor as text and as Graphviz DOT.
#include <algorithm>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "autograd/engine.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/debug.hpp"
#include "tapegrad/variable_store.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

struct Tape {
    std::vector<std::shared_ptr<Node>> nodes;  // creation order
    std::unordered_map<const Node*, std::size_t> id;
    std::unordered_map<const Node*, std::string> leaf_name;
};

const Node* accumulator_of(const Tensor& t) {
    if (!t.defined() || !t.is_leaf() || !t.requires_grad()) return nullptr;
    const AutogradMeta* meta = impl_of(t).autograd();
    return meta ? meta->grad_accumulator.get() : nullptr;
}

Tape collect(const Tensor& output, const NamedTensors& parameters, std::string_view op) {
    detail::check_defined(output, op);
    TG_CHECK(output.requires_grad(), op,
             "the tensor of shape {} has no tape: it does not require grad (no input of its "
             "computation had requires_grad_(), or it ran under NoGradGuard)",
             output.sizes());
    Tape tape;
    // A leaf's tape is its gradient accumulator (created here if nothing used it yet).
    std::shared_ptr<Node> root = detail::gradient_edge(output).node;
    std::unordered_set<const Node*> seen;
    std::vector<std::shared_ptr<Node>> stack;
    if (root) stack.push_back(root);
    while (!stack.empty()) {
        auto node = std::move(stack.back());
        stack.pop_back();
        if (!seen.insert(node.get()).second) continue;
        for (const Edge& e : node->next_edges())
            if (e.node) stack.push_back(e.node);
        tape.nodes.push_back(std::move(node));
    }
    // Leaves first, then ops in the order they ran.
    std::sort(tape.nodes.begin(), tape.nodes.end(), [](const auto& a, const auto& b) {
        const bool la = a->name() == "AccumulateGrad", lb = b->name() == "AccumulateGrad";
        if (la != lb) return la;
        return a->sequence_nr() < b->sequence_nr();
    });
    for (std::size_t i = 0; i < tape.nodes.size(); ++i) tape.id[tape.nodes[i].get()] = i;
    for (const auto& [name, tensor] : parameters)
        if (const Node* acc = accumulator_of(tensor))
            tape.leaf_name.emplace(acc, name.empty() ? tensor.name() : name);
    for (const VariableInfo& info : global_variables())
        if (const Node* acc = accumulator_of(info.tensor)) tape.leaf_name.emplace(acc, info.name);
    return tape;
}

bool is_leaf_node(const Node& n) { return n.name() == "AccumulateGrad"; }

std::string bytes_text(std::size_t bytes) {
    if (bytes < 10 * 1024) return fmt::format("{} B", bytes);
    if (bytes < 10 * 1024 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024.0);
    return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0));
}

std::string shapes_text(const Node& n) {
    std::string out;
    for (std::size_t k = 0; k < n.outputs().size(); ++k) {
        if (k) out += ", ";
        out += fmt::format("{} {}", n.outputs()[k].sizes, dtype_name(n.outputs()[k].dtype));
    }
    return out;
}

std::string inputs_text(const Tape& tape, const Node& n) {
    std::string out;
    for (std::size_t i = 0; i < n.next_edges().size(); ++i) {
        if (i) out += ", ";
        const Edge& e = n.next_edges()[i];
        if (!e.node) {
            out += "-";
            continue;
        }
        out += fmt::format("%{}", tape.id.at(e.node.get()));
        if (e.input_nr != 0) out += fmt::format(":{}", e.input_nr);
    }
    return out;
}

std::string leaf_label(const Tape& tape, const Node& n) {
    auto it = tape.leaf_name.find(&n);
    return it != tape.leaf_name.end() && !it->second.empty() ? "leaf '" + it->second + "'"
                                                             : std::string("leaf");
}

std::string dot_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

void print_tape(const Tensor& output, std::ostream& os, const NamedTensors& parameters) {
    const Tape tape = collect(output, parameters, "print_tape");
    std::size_t ops = 0, saved = 0;
    for (const auto& n : tape.nodes)
        if (!is_leaf_node(*n)) {
            ++ops;
            saved += n->saved_bytes();
        }
    os << fmt::format("tape of a {} {} tensor: {} ops, {} leaves, {} saved for backward\n",
                      output.sizes(), dtype_name(output.dtype()), ops, tape.nodes.size() - ops,
                      bytes_text(saved));
    for (const auto& n : tape.nodes) {
        const std::size_t id = tape.id.at(n.get());
        if (is_leaf_node(*n)) {
            os << fmt::format("  %{} = {} {}\n", id, leaf_label(tape, *n), shapes_text(*n));
            continue;
        }
        os << fmt::format("  %{} = {}({}) -> {}", id, n->name(), inputs_text(tape, *n), shapes_text(*n));
        if (n->released()) os << "  (released: backward already ran)";
        else if (n->saved_bytes() > 0) os << "  saved " << bytes_text(n->saved_bytes());
        if (!n->scope().empty()) os << "  scope " << n->scope();
        os << "\n";
    }
}

std::string tape_string(const Tensor& output, const NamedTensors& parameters) {
    std::ostringstream os;
    print_tape(output, os, parameters);
    return os.str();
}

std::string to_dot(const Tensor& output, const NamedTensors& parameters) {
    const Tape tape = collect(output, parameters, "to_dot");
    std::ostringstream os;
    os << "digraph tape {\n"
          "  rankdir=TB;\n"
          "  node [shape=box, style=rounded, fontname=\"monospace\", fontsize=10];\n"
          "  edge [fontname=\"monospace\", fontsize=9];\n";
    for (const auto& n : tape.nodes) {
        const std::size_t id = tape.id.at(n.get());
        std::string label;
        if (is_leaf_node(*n)) {
            label = fmt::format("%{} {}\\n{}", id, dot_escape(leaf_label(tape, *n)),
                                dot_escape(shapes_text(*n)));
            os << fmt::format("  n{} [shape=ellipse, style=filled, fillcolor=\"#dde8f5\", label=\"{}\"];\n",
                              id, label);
            continue;
        }
        label = fmt::format("%{} {}", id, dot_escape(std::string(n->name())));
        if (!n->scope().empty()) label += "\\n" + dot_escape(n->scope());
        label += "\\n-> " + dot_escape(shapes_text(*n));
        label += "\\ninputs (" + inputs_text(tape, *n) + ")";
        if (n->released()) label += "\\nreleased";
        else if (n->saved_bytes() > 0) label += "\\nsaved " + bytes_text(n->saved_bytes());
        os << fmt::format("  n{} [label=\"{}\"];\n", id, label);
    }
    for (const auto& n : tape.nodes) {
        const std::size_t id = tape.id.at(n.get());
        for (std::size_t i = 0; i < n->next_edges().size(); ++i) {
            const Edge& e = n->next_edges()[i];
            if (!e.node) continue;
            os << fmt::format("  n{} -> n{} [label=\"{}\"];\n", tape.id.at(e.node.get()), id, i);
        }
    }
    os << "}\n";
    return os.str();
}

}  // namespace tg
