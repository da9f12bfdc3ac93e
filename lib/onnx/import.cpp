// tg::onnx::load / from_onnx: an ONNX ModelProto read with the bounds-checked protobuf
// decoder (lib/io/protobuf.hpp) and rebuilt as a jit::Graph.
//
// Two kinds of node are read. Nodes in the "ai.tapegrad" domain are what onnx::save wrote:
// a tapegrad kind with its traced attributes, taken over as they are. Nodes of the
// standard domain (our export_model, PyTorch's torch.onnx.export) are mapped back onto
// tapegrad kinds: the inverse of export.cpp's table, a few ONNX ops becoming two or three
// nodes (Gemm with transA, GRU's time-major Y). Values known at import (initializers,
// Constant nodes, shape arithmetic) are folded: a node whose inputs are all constant is run
// once here and becomes a constant, and PyTorch's Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape chains become a view whose batch entry is -1.
//
// Shapes come from a dry run: every node is executed as it is added, on zeros at batch 1
// and (when an input has a symbolic batch dim) at batch 2; a dim that differs between the
// two runs is the batch. The dry run also checks what the file claims (a conv's weight
// against its input, ...) with the ops' own error messages. Before each node runs, the
// size of what it makes is bounded from its input shapes and attributes, so a small file
// cannot ask for gigabytes (ImportOptions::max_elements).
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "io/atomic_file.hpp"
#include "jit/kernels.hpp"
#include "onnx/arity.hpp"
#include "onnx/proto.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/onnx.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::onnx {

namespace {

using detail::OnnxAttr;
using detail::OnnxModel;
using detail::OnnxNode;
using detail::OnnxValueInfo;
using detail::attr_type_name;
using jit::Attribute;
using jit::Graph;

using detail::kTapegradDomain;
using namespace detail::attr_type;
// Attribute integers beyond this are refused: sizes, strides and pads stay far from
// int64 overflow in the ops' own arithmetic (products of two of them fit).
constexpr std::int64_t kMaxAttributeInt = std::int64_t{1} << 31;

// ---- building the graph -------------------------------------------------------------------

// An entry of a shape computed at import: a number, or the batch size (PyTorch's x.size(0)).
struct Sym {
    std::int64_t value = 0;
    bool batch = false;
};

// What an ONNX value name stands for while importing.
struct Slot {
    int id = -1;                     // its graph value, once it is one
    Tensor constant;                 // known at import
    std::optional<std::vector<Sym>> shape;  // a shape holding the batch size symbolically
    bool scalar_shape = false;       // that shape is a 0-d tensor (one entry)
    // A ConstantOfShape whose shape holds the batch (PyTorch's zero initial RNN state): its
    // shape and fill value; read only as an RNN's initial state, where zeros are the default.
    std::optional<std::vector<Sym>> filled;
    double fill = 0;
    Tensor at[2];                    // the dry run's tensors at batch 1 and 2
};

using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Ints = std::vector<std::int64_t>;

std::int64_t elements(const Shape& s) {
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
}

// ONNX's Slice / Shape bounds on a dim of `size`: negatives count from the end, both clamped
// to [0, size], the end not before the start.
std::pair<std::int64_t, std::int64_t> slice_range(std::int64_t start, std::int64_t end, std::int64_t size) {
    auto clamp_index = [&](std::int64_t i) { return std::clamp(i < 0 ? i + size : i, std::int64_t{0}, size); };
    const std::int64_t b = clamp_index(start);
    return {b, std::max(b, clamp_index(end))};
}

double numel_of(const Shape& s) {
    double n = 1;
    for (auto d : s) n *= static_cast<double>(std::max<std::int64_t>(d, 0));
    return n;
}

class Importer {
public:
    Importer(OnnxModel model, std::string source, const ImportOptions& options)
        : m_(std::move(model)),
          source_(std::move(source)),
          max_elements_(options.max_elements),
          max_operations_(options.max_operations) {}

    Graph build() {
        TG_CHECK(max_elements_ > 0, "onnx import", "ImportOptions::max_elements must be positive, got {}", max_elements_);
        for (const auto& [domain, version] : m_.opsets) {
            if (domain.empty()) {
                if (version < 13 || version > 17)
                    fail_model(fmt::format("opset {} of the ONNX domain; import reads opsets 13 to 17 (export "
                                           "with opset_version=17)", version));
            } else if (domain != kTapegradDomain) {
                fail_model(fmt::format("opset domain '{}' is not one import knows (only the ONNX ops and "
                                       "'ai.tapegrad')", domain));
            }
        }
        for (const auto& n : m_.nodes) {
            for (const auto& o : n.outputs) names_.insert(o), producer_.emplace(o, &n);
            for (const auto& i : n.inputs) names_.insert(i);
        }
        for (const auto& v : m_.inputs) names_.insert(v.name);
        for (const auto& v : m_.outputs) names_.insert(v.name);
        for (auto& init : m_.initializers) {
            if (init.name.empty()) fail_model("an initializer has no name");
            define(init.name, "initializer").constant = init.tensor;
            names_.insert(init.name);
        }
        std::set<std::string> initializer_names;
        for (const auto& init : m_.initializers) initializer_names.insert(init.name);
        std::vector<const OnnxValueInfo*> placeholders;
        for (const auto& in : m_.inputs)
            if (!initializer_names.count(in.name)) placeholders.push_back(&in);  // IR < 4 lists weights as inputs
        for (const auto* in : placeholders)
            if (in->has_shape && !in->dims.empty() && in->dims[0] < 0) runs_ = 2;
        for (const auto* in : placeholders) add_placeholder(*in);

        for (const auto& n : m_.nodes) {
            node_ = &n;
            if (n.domain == kTapegradDomain) import_tapegrad(n);
            else if (n.domain.empty() || n.domain == "ai.onnx") import_onnx(n);
            else fail(fmt::format("is in domain '{}', which import does not know", n.domain));
        }
        node_ = nullptr;
        if (m_.outputs.empty()) fail_model("the graph has no outputs");
        for (const auto& out : m_.outputs) {
            const auto it = slots_.find(out.name);
            if (it == slots_.end()) fail_model(fmt::format("graph output '{}' is never defined", out.name));
            if (it->second.shape) fail_model(fmt::format("graph output '{}' is the batch size, not a tensor", out.name));
            graph_.add_output(value_id(out.name));
        }
        add_live_nodes();
        graph_.validate();
        return std::move(graph_);
    }

private:
    // ---- errors ----
    [[noreturn]] void fail_model(const std::string& what) const {
        throw Error(fmt::format("onnx import: {}: {}", source_, what));
    }
    std::string node_label() const {
        const OnnxNode& n = *node_;
        const std::string op = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
        return n.name.empty() ? fmt::format("node {} ({})", n.index, op) : fmt::format("node {} '{}' ({})", n.index, n.name, op);
    }
    [[noreturn]] void fail(const std::string& what) const {
        if (node_ == nullptr) fail_model(what);
        throw Error(fmt::format("onnx import: {}: {} {}", source_, node_label(), what));
    }

    // ---- values ----
    Slot& define(const std::string& name, const char* what) {
        if (name.empty()) fail(fmt::format("defines an {} without a name", what));
        auto [it, fresh] = slots_.try_emplace(name);
        if (!fresh) fail(fmt::format("defines '{}' a second time (ONNX values are assigned once)", name));
        return it->second;
    }
    Slot& slot(const std::string& name) {
        auto it = slots_.find(name);
        if (it == slots_.end())
            fail(fmt::format("reads '{}' before anything defines it (the nodes are not in topological order, or "
                             "form a cycle, or the name is undefined)", name));
        return it->second;
    }
    bool present(std::size_t k) const { return k < node_->inputs.size() && !node_->inputs[k].empty(); }
    const std::string& input(std::size_t k) const {
        if (!present(k)) fail(fmt::format("lacks its input {} (it has {})", k, node_->inputs.size()));
        return node_->inputs[k];
    }
    std::string output(std::size_t k) const { return k < node_->outputs.size() ? node_->outputs[k] : std::string(); }
    bool is_constant(const std::string& name) { return slot(name).constant.defined(); }
    Tensor at(const std::string& name, int r) {
        Slot& s = slot(name);
        if (s.shape) fail(fmt::format("uses the shape '{}' (which holds the batch size) as data; import folds "
                                      "shapes only into Reshape, Concat, Gather, Unsqueeze, Squeeze and Cast",
                                      name));
        if (s.filled) fail(fmt::format("uses '{}', a ConstantOfShape whose shape holds the batch size; import maps "
                                       "it only as a recurrent op's zero initial state", name));
        return s.constant.defined() ? s.constant : s.at[r];
    }
    Shape shape_at(const std::string& name, int r) { return at(name, r).sizes(); }
    // The value's integers: a constant (initializer, Constant, folded) of any integer count.
    Ints constant_ints(std::size_t k) {
        const std::string& name = input(k);
        Slot& s = slot(name);
        if (!s.constant.defined())
            fail(fmt::format("needs its input {} ('{}') as a constant (an initializer or a Constant node), it is computed "
                             "in the graph", k, name));
        if (s.constant.dtype() != kInt64) fail(fmt::format("needs integers in its input {} ('{}'), it holds {}", k, name, dtype_name(s.constant.dtype())));
        return s.constant.contiguous().to_vector<std::int64_t>();
    }
    double constant_scalar(std::size_t k) {
        const std::string& name = input(k);
        Slot& s = slot(name);
        if (!s.constant.defined() || s.constant.numel() != 1)
            fail(fmt::format("needs its input {} ('{}') as a one-element constant", k, name));
        return s.constant.to(kFloat64).contiguous().to_vector<double>()[0];
    }
    int value_id(const std::string& name) {
        Slot& s = slot(name);
        if (s.id >= 0) return s.id;
        if (s.shape) fail(fmt::format("uses the shape '{}' (which holds the batch size) as a tensor", name));
        s.id = graph_.add_value({name, s.constant.sizes(), s.constant.dtype(), false});
        graph_.add_initializer(s.id, s.constant);
        return s.id;
    }
    std::string fresh(const std::string& stem) {
        std::string name = stem;
        for (int k = 1; names_.count(name); ++k) name = fmt::format("{}_{}", stem, k);
        names_.insert(name);
        return name;
    }

    void add_placeholder(const OnnxValueInfo& in) {
        Dtype dtype;
        const std::string what = fmt::format("graph input '{}'", in.name);
        if (!in.has_shape) fail_model(what + " has no shape (import needs one, the batch dim may be symbolic)");
        if (!detail::dtype_from_onnx(in.elem_type, dtype))
            fail_model(fmt::format("{} has type {}; import reads float32, float64, int64 and bool", what,
                                   detail::onnx_type_name(in.elem_type)));
        Shape shape(in.dims);
        for (std::size_t d = 0; d < shape.size(); ++d)
            if (shape[d] < 0) {
                if (d != 0) fail_model(fmt::format("{} has a symbolic dim {}; only the first (batch) dim may be", what, d));
                shape[d] = 1;
            }
        const bool dynamic = !in.dims.empty() && in.dims[0] < 0;
        if (numel_of(shape) * (dynamic ? 2 : 1) > static_cast<double>(max_elements_))
            fail_model(fmt::format("{} of shape {} is larger than max_elements ({})", what, shape, max_elements_));
        Slot& s = define(in.name, "input");
        s.id = graph_.add_value({in.name, shape, dtype, dynamic});
        graph_.add_input(s.id);
        for (int r = 0; r < runs_; ++r) {
            Shape at_r = shape;
            if (dynamic) at_r[0] = r + 1;
            s.at[r] = zeros(at_r, dtype);
        }
    }

    // ---- emitting nodes ----

    // Adds a tapegrad node reading `inputs` (ONNX names; "" = absent) and defining `outputs`
    // ("" = unused). Folded into constants instead when every input is one and `fold`.
    void emit(const std::string& kind, const std::vector<std::string>& inputs, Attrs attrs,
              const std::vector<std::string>& outputs, bool fold = true) {
        const jit::detail::Kernel* kernel = jit::detail::find_kernel(kind);
        if (kernel == nullptr) fail(fmt::format("maps to '{}', which has no tapegrad kernel", kind));
        jit::Node node;
        node.kind = kind;
        node.attributes = std::move(attrs);
        check_attributes(node);
        bool all_constant = true;
        for (const auto& name : inputs)
            if (!name.empty() && !is_constant(name)) all_constant = false;
        const int runs = fold && all_constant ? 1 : runs_;
        std::vector<std::vector<Tensor>> results(static_cast<std::size_t>(runs));
        for (int r = 0; r < runs; ++r) {
            std::vector<Tensor> args;
            for (const auto& name : inputs) args.push_back(name.empty() ? Tensor() : at(name, r));
            // A training-mode batch or instance norm updates its running statistics (inputs 1
            // and 2): the dry run must not change the weights it loaded.
            if (kind == "batch_norm" || kind == "instance_norm")
                for (std::size_t k = 1; k < 3 && k < args.size(); ++k)
                    if (args[k].defined()) args[k] = args[k].clone();
            check_budget(node, args);
            try {
                NoGradGuard no_grad;
                results[static_cast<std::size_t>(r)] = (*kernel)(node, args);
            } catch (const Error& e) {
                fail(fmt::format("(as '{}') does not run on its inputs: {}", kind, e.what()));
            }
            if (results[static_cast<std::size_t>(r)].size() < outputs.size())
                fail(fmt::format("defines {} outputs, '{}' makes {}", outputs.size(), kind,
                                 results[static_cast<std::size_t>(r)].size()));
        }
        if (runs == 1 && fold && all_constant) {
            for (std::size_t k = 0; k < outputs.size(); ++k)
                if (!outputs[k].empty()) define(outputs[k], "output").constant = results[0][k];
            return;
        }
        for (const auto& name : inputs) node.inputs.push_back(name.empty() ? -1 : value_id(name));
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            if (outputs[k].empty()) {
                node.outputs.push_back(-1);
                continue;
            }
            const Tensor& t0 = results[0][k];
            if (!t0.defined()) fail(fmt::format("output {} ('{}') is not made by '{}'", k, outputs[k], kind));
            bool dynamic = false;
            if (runs == 2) {
                const Shape& a = t0.sizes();
                const Shape& b = results[1][k].sizes();
                dynamic = a.size() == b.size() && !a.empty() && a[0] != b[0] && std::equal(a.begin() + 1, a.end(), b.begin() + 1);
            }
            Slot& s = define(outputs[k], "output");
            s.id = graph_.add_value({outputs[k], t0.sizes(), t0.dtype(), dynamic});
            for (int r = 0; r < runs; ++r) s.at[r] = results[static_cast<std::size_t>(r)][k];
            node.outputs.push_back(s.id);
        }
        nodes_.push_back({std::move(node), node_ != nullptr && node_->domain != kTapegradDomain});
    }

    // The nodes into the graph, in order, less those a pattern made dead (the Mul, Softplus
    // and Div of export's softplus): only nodes mapped from ONNX ops are dropped, a saved
    // graph keeps every node it had.
    void add_live_nodes() {
        std::vector<bool> used(graph_.values().size(), false), live(nodes_.size(), true);
        for (int id : graph_.outputs()) used[static_cast<std::size_t>(id)] = true;
        for (std::size_t n = nodes_.size(); n-- > 0;) {
            const auto& [node, droppable] = nodes_[n];
            live[n] = !droppable || std::any_of(node.outputs.begin(), node.outputs.end(), [&](int id) {
                return id >= 0 && used[static_cast<std::size_t>(id)];
            });
            if (live[n])
                for (int id : node.inputs)
                    if (id >= 0) used[static_cast<std::size_t>(id)] = true;
        }
        for (std::size_t n = 0; n < nodes_.size(); ++n)
            if (live[n]) graph_.add_node(std::move(nodes_[n].first));
    }

    void check_attributes(const jit::Node& node) {
        for (const auto& [name, value] : node.attributes) {
            auto check = [&](std::int64_t v) {
                if (v > kMaxAttributeInt || v < -kMaxAttributeInt)
                    fail(fmt::format("has attribute '{}' = {}, beyond what import accepts (|value| <= 2^31)", name, v));
            };
            if (const auto* i = std::get_if<std::int64_t>(&value)) check(*i);
            if (const auto* v = std::get_if<Ints>(&value))
                for (auto x : *v) check(x);
        }
        if (node.kind == "to") {
            const std::int64_t d = node.i("dtype");
            if (d < 0 || d > static_cast<std::int64_t>(kFloat64)) fail(fmt::format("casts to dtype {}, which is none of tapegrad's", d));
        }
    }

    // An upper bound of the largest tensor the node's kernel makes (outputs and workspaces),
    // from its input shapes and attributes; checked before it runs.
    void check_budget(const jit::Node& node, const std::vector<Tensor>& args) {
        const std::string& k = node.kind;
        auto dims = [&](std::size_t i) { return i < args.size() && args[i].defined() ? args[i].sizes() : Shape{}; };
        auto dim = [&](std::size_t i, std::size_t d) -> double {
            const Shape s = dims(i);
            return d < s.size() ? static_cast<double>(s[d]) : 1.0;
        };
        auto ints = [&](const char* name) { return node.has(name) ? node.ints(name) : Ints{}; };
        auto sum_of = [](const Ints& v) {
            double s = 0;
            for (auto x : v) s += static_cast<double>(std::abs(x));
            return s;
        };
        auto product = [](const Ints& v) {
            double p = 1;
            for (auto x : v) p *= static_cast<double>(std::abs(x));
            return p;
        };
        double largest = 0;
        for (const auto& a : args)
            if (a.defined()) largest = std::max(largest, numel_of(a.sizes()));
        double need = largest;
        double work = 0;  // multiply-adds and the like, where more than one per output element
        static const std::set<std::string, std::less<>> broadcasting = {
            "add", "sub", "mul", "div", "maximum", "minimum", "pow", "addmm", "eq", "ne", "lt", "le", "gt", "ge",
            "logical_and", "logical_or", "where", "masked_fill"};
        if (broadcasting.count(k)) {
            std::size_t rank = 0;
            for (const auto& a : args)
                if (a.defined()) rank = std::max(rank, a.sizes().size());
            double n = 1;  // the broadcast shape of every input
            for (std::size_t d = 0; d < rank; ++d) {
                double widest = 1;
                for (const auto& a : args) {
                    if (!a.defined() || d >= a.sizes().size()) continue;
                    widest = std::max(widest, static_cast<double>(a.sizes()[a.sizes().size() - 1 - d]));
                }
                n *= widest;
            }
            need = std::max(need, n);
            if (k == "addmm") need = std::max(need, dim(1, 0) * dim(2, 1)), work = dim(1, 0) * dim(1, 1) * dim(2, 1);
        } else if (k == "repeat") {
            need = std::max(need, numel_of(dims(0)) * product(ints("repeats")));
        } else if (k == "pad") {
            double n = 1;  // each dim grows by its two pads at most
            const Shape s = dims(0);
            const Ints pads = ints("pads");
            for (std::size_t d = 0; d < s.size(); ++d) n *= static_cast<double>(s[d]) + sum_of(pads);
            need = std::max(need, n);
        } else if (k == "upsample_nearest2d") {
            const double scale = node.has("scale_h") ? std::abs(node.f("scale_h")) * std::abs(node.f("scale_w")) : 0.0;
            need = std::max(need, std::max(product(ints("output_size")) * dim(0, 0) * dim(0, 1),
                                           numel_of(dims(0)) * (std::isfinite(scale) ? scale : 1e30)));
        } else if (k == "index_select") {  // the input with its `dim` replaced by the index's length
            const Shape s = dims(0);
            const std::int64_t d = node.i("dim") < 0 ? node.i("dim") + static_cast<std::int64_t>(s.size()) : node.i("dim");
            const double along = d >= 0 && d < static_cast<std::int64_t>(s.size()) ? static_cast<double>(s[static_cast<std::size_t>(d)]) : 1.0;
            need = std::max(need, numel_of(s) / std::max(along, 1.0) * numel_of(dims(1)));
        } else if (k == "mm") {
            need = std::max(need, dim(0, 0) * dim(1, 1));
            work = dim(0, 0) * dim(0, 1) * dim(1, 1);
        } else if (k == "bmm") {
            need = std::max(need, dim(0, 0) * dim(0, 1) * dim(1, 2));
            work = dim(0, 0) * dim(0, 1) * dim(0, 2) * dim(1, 2);
        } else if (k == "linear") {
            need = std::max(need, numel_of(dims(0)) / std::max(1.0, dim(0, dims(0).size() - 1)) * dim(1, 0));
            work = numel_of(dims(0)) * dim(1, 0);
        } else if (k == "expand" || k == "view") {
            need = std::max(need, product(ints(k == "view" ? "shape" : "sizes")));
        } else if (k == "embedding") {
            need = std::max(need, numel_of(dims(0)) * dim(1, 1));
        } else if (k == "cat") {
            need = 0;
            for (const auto& a : args) need += a.defined() ? numel_of(a.sizes()) : 0;
        } else if (k == "conv2d" || k == "max_pool2d" || k == "avg_pool2d" || k == "unfold" || k == "conv_transpose2d" ||
                   k == "fold" || k == "adaptive_avg_pool2d") {
            for (const char* name : {"stride", "dilation", "kernel", "kernel_size"})
                for (auto x : ints(name))
                    if (x < 1) fail(fmt::format("has {} {}: every entry must be at least 1", name, Shape(ints(name))));
            for (const char* name : {"padding", "pads", "output_padding", "output_size"})
                for (auto x : ints(name))
                    if (x < 0) fail(fmt::format("has {} {}: entries must not be negative", name, Shape(ints(name))));
            const double N = dim(0, 0), C = dim(0, 1);
            const double pad = 2 * sum_of(ints("padding")) + sum_of(ints("pads")) + 2;
            const double area = (dim(0, 2) + pad) * (dim(0, 3) + pad);
            if (k == "conv2d") {
                const double cells = dim(1, 1) * dim(1, 2) * dim(1, 3);
                need = std::max(need, N * std::max(dim(1, 0), cells) * area);
                work = N * dim(1, 0) * area * cells;
            } else if (k == "conv_transpose2d") {
                const double grow = std::max(product(ints("stride")), 1.0) * product(ints("dilation"));
                const double spatial = (dim(0, 2) + dim(1, 2) + pad) * (dim(0, 3) + dim(1, 3) + pad) * grow +
                                       sum_of(ints("output_padding")) * (dim(0, 2) + dim(0, 3) + pad) * grow;
                need = std::max(need, N * dim(1, 1) * std::max(1.0, static_cast<double>(node.has("groups") ? node.i("groups") : 1)) *
                                          dim(1, 2) * dim(1, 3) * spatial);
                work = numel_of(dims(0)) * dim(1, 1) * dim(1, 2) * dim(1, 3);
            } else if (k == "unfold") {
                need = std::max(need, N * C * product(ints("kernel_size")) * area);
            } else if (k == "fold") {
                need = std::max(need, N * C * product(ints("output_size")));
            } else if (k == "adaptive_avg_pool2d") {
                need = std::max(need, N * C * product(ints("output_size")));
            } else {
                need = std::max(need, N * C * area);
                work = need * product(ints("kernel"));
            }
        } else if (k == "gru" || k == "lstm" || k == "rnn") {
            const double hidden = node.has("hidden_size") ? static_cast<double>(std::abs(node.i("hidden_size"))) : 1.0;
            const double layers = node.has("num_layers") ? static_cast<double>(std::abs(node.i("num_layers"))) : 1.0;
            need = std::max(need, numel_of(dims(0)) / std::max(1.0, dim(0, 2)) * std::max(hidden, 1.0) * 8);
            work = numel_of(dims(0)) / std::max(1.0, dim(0, 2)) * (dim(0, 2) + hidden) * hidden * 8 * layers;
        }
        work_ += std::max(work, need);
        if (work_ > static_cast<double>(max_operations_))
            fail(fmt::format("(as '{}', inputs {}) takes the import's dry run past {} operations "
                             "(ImportOptions::max_operations)", k, input_shapes(args), max_operations_));
        if (need > static_cast<double>(max_elements_))
            fail(fmt::format("(as '{}', inputs {}) would make a tensor of about {:.3g} elements, more than "
                             "ImportOptions::max_elements ({})", k, input_shapes(args), need, max_elements_));
    }
    static std::string input_shapes(const std::vector<Tensor>& args) {
        std::vector<std::string> s;
        for (const auto& a : args) s.push_back(a.defined() ? a.sizes().str() : "None");
        return fmt::format("{}", fmt::join(s, ", "));
    }

    // A view of `in` to the shapes `t[0]` (batch 1) and `t[1]` (batch 2): the entry that
    // differs between the two is the batch and becomes -1.
    void emit_view(const std::string& in, const Shape (&t)[2], const std::string& out) {
        Ints shape(t[0].begin(), t[0].end());
        const bool runtime = !is_constant(in) && runs_ == 2;
        if (runtime) {
            if (t[1].size() != t[0].size()) fail(fmt::format("reshapes to {} at batch 1 but {} at batch 2", t[0], t[1]));
            int differing = 0;
            for (std::size_t d = 0; d < shape.size(); ++d)
                if (t[0][d] != t[1][d]) shape[d] = -1, ++differing;
            if (differing > 1)
                fail(fmt::format("reshapes to {} at batch 1 and {} at batch 2: the batch would be in more than one dim",
                                 t[0], t[1]));
        }
        emit("view", {in}, {{"shape", shape}}, {out});
    }
    // The shapes a per-run function gives for `in` at batch 1 and 2.
    template <class F>
    void emit_view_by(const std::string& in, const std::string& out, F&& target) {
        Shape t[2];
        const int runs = is_constant(in) ? 1 : runs_;
        for (int r = 0; r < runs; ++r) t[r] = target(shape_at(in, r), r);
        if (runs == 1) t[1] = t[0];
        emit_view(in, t, out);
    }

    // ---- attributes of ONNX nodes ----
    const OnnxAttr* find_attr(const char* name) const {
        for (const auto& a : node_->attrs)
            if (a.name == name) return &a;
        return nullptr;
    }
    const OnnxAttr* typed_attr(const char* name, std::int64_t type) const {
        const OnnxAttr* a = find_attr(name);
        if (a != nullptr && a->type != type)
            fail(fmt::format("has attribute '{}' of type {}, expected {}", name, attr_type_name(a->type), attr_type_name(type)));
        return a;
    }
    std::int64_t attr_i(const char* name, std::int64_t fallback) const {
        const OnnxAttr* a = typed_attr(name, kInt);
        return a ? a->i : fallback;
    }
    double attr_f(const char* name, double fallback) const {
        const OnnxAttr* a = typed_attr(name, kFloat);
        return a ? a->f : fallback;
    }
    std::string attr_s(const char* name, const std::string& fallback) const {
        const OnnxAttr* a = typed_attr(name, kString);
        return a ? a->s : fallback;
    }
    Ints attr_ints(const char* name, Ints fallback) const {
        const OnnxAttr* a = typed_attr(name, kInts);
        return a ? a->ints : fallback;
    }
    Ints required_ints(const char* name) const {
        const OnnxAttr* a = typed_attr(name, kInts);
        if (a == nullptr) fail(fmt::format("lacks its attribute '{}'", name));
        return a->ints;
    }
    void expect_inputs(std::size_t lo, std::size_t hi) const {
        std::size_t n = node_->inputs.size();
        while (n > lo && node_->inputs[n - 1].empty()) --n;  // trailing optional inputs left out
        if (n < lo || n > hi)
            fail(lo == hi ? fmt::format("has {} inputs, expected {}", n, lo)
                          : fmt::format("has {} inputs, expected {} to {}", n, lo, hi));
        for (std::size_t k = 0; k < lo; ++k) input(k);
    }
    void expect_one_output() const {
        if (node_->outputs.empty() || node_->outputs[0].empty()) fail("has no output");
        for (std::size_t k = 1; k < node_->outputs.size(); ++k)
            if (!node_->outputs[k].empty())
                fail(fmt::format("uses its output {} ('{}'), which import does not provide", k, node_->outputs[k]));
    }
    std::int64_t wrap_axis(std::int64_t axis, std::size_t rank) const {
        const auto r = static_cast<std::int64_t>(rank);
        if (axis < -r || axis >= std::max<std::int64_t>(r, 1)) fail(fmt::format("has axis {} for a tensor of rank {}", axis, rank));
        return axis < 0 ? axis + r : axis;
    }

    // ---- ai.tapegrad: what save() wrote ----

    void import_tapegrad(const OnnxNode& n) {
        Attrs attrs;
        for (const auto& a : n.attrs) {
            switch (a.type) {
                case kInt: attrs.emplace_back(a.name, a.i); break;
                case kFloat: attrs.emplace_back(a.name, static_cast<double>(a.f)); break;
                case kInts: attrs.emplace_back(a.name, a.ints); break;
                case kString: attrs.emplace_back(a.name, a.s); break;
                case kTensor:
                    if (a.t.numel() != 1 || !is_floating_point(a.t.dtype()))
                        fail(fmt::format("has tensor attribute '{}' of shape {}; a real is one float64", a.name, a.t.sizes()));
                    attrs.emplace_back(a.name, a.t.to(kFloat64).contiguous().to_vector<double>()[0]);
                    break;
                default: fail(fmt::format("has attribute '{}' of type {}", a.name, attr_type_name(a.type)));
            }
        }
        check_arity(n);
        emit(n.op_type, n.inputs, std::move(attrs), n.outputs, false);
    }

    // How many inputs each kind's kernel reads, and which may be absent: the kernels index
    // their inputs directly, so a file must not be able to hand them fewer.
    void check_arity(const OnnxNode& n) const {
        const std::string& k = n.op_type;
        std::int64_t layers = 1, directions = 1;
        for (const auto& a : n.attrs) {
            if (a.name == "num_layers" && a.type == kInt) layers = a.i;
            if (a.name == "bidirectional" && a.type == kInt) directions = a.i != 0 ? 2 : 1;
        }
        if (layers < 1 || layers > 1024) fail(fmt::format("has num_layers {}", layers));
        detail::Arity arity;
        if (!detail::saved_arity(k, layers, directions, arity))
            fail(fmt::format("is a kind this tapegrad does not know ('{}')", k));
        const std::size_t count = n.inputs.size();
        if (count < arity.min || count > arity.max)
            fail(arity.min == arity.max ? fmt::format("has {} inputs, '{}' takes {}", count, k, arity.min)
                                        : fmt::format("has {} inputs, '{}' takes at least {}", count, k, arity.min));
        for (std::size_t j = 0; j < count; ++j)
            if (n.inputs[j].empty() && !arity.optional.count(j)) fail(fmt::format("leaves out input {}, which '{}' needs", j, k));
        if (n.outputs.empty() || n.outputs[0].empty()) fail("has no output");
    }

    // ---- the ONNX ops ----

    void import_onnx(const OnnxNode& n) {
        const std::string& op = n.op_type;
        static const std::map<std::string, std::string, std::less<>> unary = {
            {"Neg", "neg"},         {"Exp", "exp"},         {"Log", "log"},     {"Sqrt", "sqrt"},   {"Abs", "abs"},
            {"Sign", "sign"},       {"Sin", "sin"},         {"Cos", "cos"},     {"Erf", "erf"},     {"Reciprocal", "reciprocal"},
            {"Relu", "relu"},       {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"},   {"Softsign", "softsign"},
            {"Not", "logical_not"}, {"IsNaN", "isnan"},
        };
        static const std::map<std::string, std::string, std::less<>> binary = {
            {"Mul", "mul"},          {"Div", "div"},           {"Pow", "pow"},
            {"Max", "maximum"},      {"Min", "minimum"},       {"Equal", "eq"},
            {"Less", "lt"},          {"LessOrEqual", "le"},    {"Greater", "gt"},
            {"GreaterOrEqual", "ge"}, {"And", "logical_and"},  {"Or", "logical_or"},
        };
        if (auto it = unary.find(op); it != unary.end()) {
            expect_inputs(1, 1), expect_one_output();
            emit(it->second, {input(0)}, {}, {output(0)});
        } else if (auto it2 = binary.find(op); it2 != binary.end()) {
            expect_inputs(2, 2), expect_one_output();
            emit(it2->second, {input(0), input(1)}, {}, {output(0)});
        } else if (op == "Add" || op == "Sub") {
            expect_inputs(2, 2), expect_one_output();
            emit(op == "Add" ? "add" : "sub", {input(0), input(1)}, {{"alpha", 1.0}}, {output(0)});
        } else if (op == "Identity" || op == "Dropout") {
            if (op == "Dropout") {
                expect_inputs(1, 3);
                if (present(2) && constant_scalar(2) != 0)
                    fail("is a training-mode dropout; import reads inference graphs");
            } else {
                expect_inputs(1, 1);
            }
            expect_one_output();
            if (Slot& s = slot(input(0)); s.shape) {
                define(output(0), "output") = Slot(s);
                return;
            }
            emit("clone", {input(0)}, {}, {output(0)});
        } else if (op == "Selu") {
            expect_inputs(1, 1), expect_one_output();
            if (std::abs(attr_f("alpha", 1.67326319217681884765625) - 1.6732632423543772) > 1e-6 ||
                std::abs(attr_f("gamma", 1.05070102214813232421875) - 1.0507009873554805) > 1e-6)
                fail("has alpha / gamma other than SELU's constants; tapegrad's selu has no parameters");
            emit("selu", {input(0)}, {}, {output(0)});
        } else if (op == "Softplus") {
            expect_inputs(1, 1), expect_one_output();
            // libtorch's softplus, linear above 20: differs from log(1 + exp(x)) by < exp(-20) there.
            emit("softplus", {input(0)}, {{"beta", 1.0}, {"threshold", 20.0}}, {output(0)});
        } else if (op == "HardSigmoid") {
            expect_inputs(1, 1), expect_one_output();
            if (std::abs(attr_f("alpha", 0.2) - 1.0 / 6.0) > 1e-6 || std::abs(attr_f("beta", 0.5) - 0.5) > 1e-6)
                fail("has alpha / beta other than 1/6 and 0.5 (libtorch's hardsigmoid)");
            emit("hardsigmoid", {input(0)}, {}, {output(0)});
        } else if (op == "Elu") {
            expect_inputs(1, 1), expect_one_output();
            emit("elu", {input(0)}, {{"alpha", attr_f("alpha", 1.0)}}, {output(0)});
        } else if (op == "LeakyRelu") {
            expect_inputs(1, 1), expect_one_output();
            emit("leaky_relu", {input(0)}, {{"negative_slope", attr_f("alpha", 0.01)}}, {output(0)});
        } else if (op == "Clip") {
            expect_inputs(1, 3), expect_one_output();
            const double lo = present(1) ? constant_scalar(1) : -HUGE_VAL;
            const double hi = present(2) ? constant_scalar(2) : HUGE_VAL;
            emit("clamp", {input(0)}, {{"min", lo}, {"max", hi}}, {output(0)});
        } else if (op == "Softmax" || op == "LogSoftmax") {
            expect_inputs(1, 1), expect_one_output();
            emit(op == "Softmax" ? "softmax" : "log_softmax", {input(0)}, {{"dim", attr_i("axis", -1)}}, {output(0)});
        } else if (op == "ReduceSum") {
            expect_inputs(1, 2), expect_one_output();
            const Ints axes = present(1) ? constant_ints(1) : Ints{};
            if (axes.empty() && attr_i("noop_with_empty_axes", 0) != 0) {
                emit("clone", {input(0)}, {}, {output(0)});
                return;
            }
            emit("sum", {input(0)}, {{"dims", axes}, {"keepdim", attr_i("keepdims", 1)}}, {output(0)});
        } else if (op == "ReduceLogSumExp") {
            expect_inputs(1, 1), expect_one_output();
            const Ints axes = attr_ints("axes", {});
            if (axes.size() != 1) fail(fmt::format("reduces over axes {}; import maps one axis (tapegrad's logsumexp)", Shape(axes)));
            emit("logsumexp", {input(0)}, {{"dim", axes[0]}, {"keepdim", attr_i("keepdims", 1)}}, {output(0)});
        } else if (op == "MatMul") {
            import_matmul();
        } else if (op == "Gemm") {
            import_gemm();
        } else if (op == "Transpose") {
            expect_inputs(1, 1), expect_one_output();
            const std::size_t rank = shape_at(input(0), 0).size();
            Ints perm = attr_ints("perm", {});
            if (perm.empty())
                for (std::size_t d = rank; d-- > 0;) perm.push_back(static_cast<std::int64_t>(d));
            emit("permute", {input(0)}, {{"dims", perm}}, {output(0)});
        } else if (op == "Reshape") {
            import_reshape();
        } else if (op == "Flatten") {
            expect_inputs(1, 1), expect_one_output();
            const std::int64_t axis = wrap_axis(attr_i("axis", 1), shape_at(input(0), 0).size() + 1);
            emit_view_by(input(0), output(0), [&](const Shape& s, int) {
                std::int64_t outer = 1, inner = 1;
                for (std::size_t d = 0; d < s.size(); ++d) (static_cast<std::int64_t>(d) < axis ? outer : inner) *= s[d];
                return Shape{outer, inner};
            });
        } else if (op == "Squeeze" || op == "Unsqueeze") {
            import_squeeze(op == "Unsqueeze");
        } else if (op == "Expand") {
            expect_inputs(2, 2), expect_one_output();
            const Ints target = constant_ints(1);
            const Shape in = shape_at(input(0), 0);
            const std::size_t rank = std::max(in.size(), target.size());
            Ints sizes(rank);
            for (std::size_t d = 0; d < rank; ++d) {  // broadcast rules: -1 keeps the input's dim
                const std::int64_t t = d + target.size() >= rank ? target[d + target.size() - rank] : 1;
                const bool has_in = d + in.size() >= rank;
                if (t < 0) fail(fmt::format("expands to {}, with a negative size", Shape(target)));
                sizes[d] = has_in && t == 1 ? -1 : t;
            }
            emit("expand", {input(0)}, {{"sizes", sizes}}, {output(0)});
        } else if (op == "Slice") {
            import_slice();
        } else if (op == "Concat") {
            import_concat();
        } else if (op == "Cast") {
            expect_inputs(1, 1), expect_one_output();
            Dtype to;
            const std::int64_t type = attr_i("to", 0);
            if (!detail::dtype_from_onnx(type, to))
                fail(fmt::format("casts to {}; import reads float32, float64, int64 and bool", detail::onnx_type_name(type)));
            if (Slot& s = slot(input(0)); s.shape) {
                if (to != kInt64) fail("casts the batch size to a non-integer type");
                define(output(0), "output") = s;
                return;
            }
            emit("to", {input(0)}, {{"dtype", static_cast<std::int64_t>(to)}}, {output(0)});
        } else if (op == "Constant") {
            import_constant();
        } else if (op == "Shape") {
            import_shape();
        } else if (op == "Gather") {
            import_gather();
        } else if (op == "Conv") {
            import_conv();
        } else if (op == "ConvTranspose") {
            import_conv_transpose();
        } else if (op == "MaxPool" || op == "AveragePool") {
            import_pool(op == "MaxPool");
        } else if (op == "GlobalAveragePool") {
            expect_inputs(1, 1), expect_one_output();
            emit("adaptive_avg_pool2d", {input(0)}, {{"output_size", Ints{1, 1}}}, {output(0)});
        } else if (op == "BatchNormalization") {
            expect_inputs(5, 5), expect_one_output();
            if (attr_i("training_mode", 0) != 0) fail("normalises with batch statistics (training_mode = 1)");
            emit("batch_norm", {input(0), input(3), input(4), input(1), input(2)},
                 {{"training", std::int64_t{0}}, {"momentum", 1.0 - attr_f("momentum", 0.9)}, {"eps", attr_f("epsilon", 1e-5)}},
                 {output(0)});
        } else if (op == "GRU" || op == "LSTM" || op == "RNN") {
            import_recurrent();
        } else if (op == "Resize") {
            import_resize();
        } else if (op == "ConstantOfShape") {
            import_constant_of_shape();
        } else if (op == "Pad") {
            import_pad();
        } else if (op == "Where") {
            expect_inputs(3, 3), expect_one_output();
            if (!import_softplus_pattern()) emit("where", {input(0), input(1), input(2)}, {}, {output(0)});
        } else if (op == "IsInf") {
            expect_inputs(1, 1), expect_one_output();
            if (attr_i("detect_negative", 1) != 1 || attr_i("detect_positive", 1) != 1)
                fail("detects one sign of infinity only; tapegrad's isinf detects both");
            emit("isinf", {input(0)}, {}, {output(0)});
        } else if (op == "ArgMax" || op == "ArgMin") {
            import_arg(op == "ArgMax" ? "argmax" : "argmin");
        } else if (op == "TopK") {
            import_topk();
        } else if (op == "GatherElements") {
            expect_inputs(2, 2), expect_one_output();
            emit("gather", {input(0), input(1)}, {{"dim", attr_i("axis", 0)}}, {output(0)});
        } else if (op == "ReduceProd" || op == "ReduceMean") {
            expect_inputs(1, 1), expect_one_output();
            const Ints axes = attr_ints("axes", {});
            const std::int64_t keepdims = attr_i("keepdims", 1);
            if (op == "ReduceMean") return emit("mean", {input(0)}, {{"dims", axes}, {"keepdim", keepdims}}, {output(0)});
            if (axes.size() != 1) fail(fmt::format("multiplies over axes {}; import maps one axis (tapegrad's prod)", Shape(axes)));
            emit("prod", {input(0)}, {{"dim", axes[0]}, {"keepdim", keepdims}}, {output(0)});
        } else if (op == "CumSum") {
            expect_inputs(2, 2), expect_one_output();
            if (attr_i("exclusive", 0) != 0 || attr_i("reverse", 0) != 0) fail("is an exclusive or reverse cumulative sum");
            const Ints axis = constant_ints(1);
            if (axis.size() != 1) fail("has an axis input of more than one value");
            emit("cumsum", {input(0)}, {{"dim", axis[0]}}, {output(0)});
        } else if (op == "Tile") {
            expect_inputs(2, 2), expect_one_output();
            const Ints repeats = constant_ints(1);
            if (runs_ == 2 && !is_constant(input(0)) && !repeats.empty() && repeats[0] != 1 &&
                shape_at(input(0), 0)[0] != shape_at(input(0), 1)[0])
                fail("tiles the batch dim");
            emit("repeat", {input(0)}, {{"repeats", repeats}}, {output(0)});
        } else if (op == "Split") {
            import_split();
        } else if (op == "LayerNormalization") {
            expect_inputs(2, 3), expect_one_output();
            const Shape x = shape_at(input(0), 0);
            const std::int64_t axis = wrap_axis(attr_i("axis", -1), x.size());
            Ints normalized(x.begin() + axis, x.end());
            emit("layer_norm", {input(0), input(1), present(2) ? input(2) : std::string()},
                 {{"normalized_shape", normalized}, {"eps", attr_f("epsilon", 1e-5)}}, {output(0)});
        } else if (op == "InstanceNormalization") {
            expect_inputs(3, 3), expect_one_output();
            emit("instance_norm", {input(0), std::string(), std::string(), input(1), input(2)},
                 {{"use_input_stats", std::int64_t{1}}, {"momentum", 0.1}, {"eps", attr_f("epsilon", 1e-5)}}, {output(0)});
        } else if (op == "SoftmaxCrossEntropyLoss" || op == "NegativeLogLikelihoodLoss") {
            expect_inputs(2, 2), expect_one_output();
            if (attr_s("reduction", "mean") != "none")
                fail(fmt::format("has reduction '{}'; import maps reduction 'none' (tapegrad reduces in its own node)",
                                 attr_s("reduction", "mean")));
            if (find_attr("ignore_index")) fail("has ignore_index, which tapegrad's losses have not");
            emit(op == "NegativeLogLikelihoodLoss" ? "nll_loss" : "cross_entropy", {input(0), input(1)}, {}, {output(0)});
        } else {
            fail("is not an op import knows (docs/graphs-and-onnx.md lists those it maps)");
        }
    }

    void import_matmul() {
        expect_inputs(2, 2), expect_one_output();
        const Shape a = shape_at(input(0), 0), b = shape_at(input(1), 0);
        if (a.size() == 2 && b.size() == 2) return emit("mm", {input(0), input(1)}, {}, {output(0)});
        if (a.size() == 3 && b.size() == 3) return emit("bmm", {input(0), input(1)}, {}, {output(0)});
        if (a.size() < 3 || b.size() != 2)
            fail(fmt::format("multiplies shapes {} and {}; import maps 2-D x 2-D, 3-D x 3-D and N-D x 2-D", a, b));
        // (..., K) x (K, M): flattened to a 2-D product and viewed back.
        const std::string flat = fresh(output(0) + "/flat"), product = fresh(output(0) + "/mm");
        emit_view_by(input(0), flat, [](const Shape& s, int) {
            return Shape{elements(s) / std::max<std::int64_t>(s.back(), 1), s.back()};
        });
        emit("mm", {flat, input(1)}, {}, {product});
        emit_view_by(product, output(0), [&](const Shape&, int r) {
            Shape t = shape_at(input(0), is_constant(input(0)) ? 0 : r);
            t[t.size() - 1] = b[1];
            return t;
        });
    }

    void import_gemm() {
        expect_inputs(2, 3), expect_one_output();
        const double alpha = attr_f("alpha", 1.0), beta = attr_f("beta", 1.0);
        std::string a = input(0), b = input(1);
        if (attr_i("transA", 0) != 0) {
            const std::string t = fresh(output(0) + "/transA");
            emit("permute", {a}, {{"dims", Ints{1, 0}}}, {t});
            a = t;
        }
        const bool has_c = present(2);
        const bool bias_vector = has_c && shape_at(input(2), 0).size() == 1;
        if (attr_i("transB", 0) != 0 && alpha == 1.0 && (!has_c || (beta == 1.0 && bias_vector)))
            return emit("linear", {a, b, has_c ? input(2) : std::string()}, {}, {output(0)});  // nn.Linear's export
        if (attr_i("transB", 0) != 0) {
            const std::string t = fresh(output(0) + "/transB");
            emit("permute", {b}, {{"dims", Ints{1, 0}}}, {t});
            b = t;
        }
        if (has_c) return emit("addmm", {input(2), a, b}, {{"beta", beta}, {"alpha", alpha}}, {output(0)});
        if (alpha == 1.0) return emit("mm", {a, b}, {}, {output(0)});
        const std::string product = fresh(output(0) + "/mm");
        emit("mm", {a, b}, {}, {product});
        const std::string scale = fresh(output(0) + "/alpha");
        define(scale, "constant").constant = scalar_tensor(alpha, shape_at(product, 0).empty() ? kFloat32 : at(product, 0).dtype());
        emit("mul", {product, scale}, {}, {output(0)});
    }

    // The target of a Reshape at batch `r`: constants, or a shape holding the batch.
    Shape reshape_target(const Ints* literal, const std::vector<Sym>* symbolic, const Shape& in, int r) {
        Ints t;
        if (literal) t = *literal;
        else
            for (const auto& s : *symbolic) t.push_back(s.batch ? r + 1 : s.value);
        const bool allow_zero = attr_i("allowzero", 0) != 0;
        std::int64_t known = 1;
        int infer = -1;
        for (std::size_t d = 0; d < t.size(); ++d) {
            if (t[d] == 0 && !allow_zero) {
                if (d >= in.size()) fail(fmt::format("copies dim {} (a 0 in {}) of an input of rank {}", d, Shape(t), in.size()));
                t[d] = in[d];
            }
            if (t[d] == -1) {
                if (infer >= 0) fail(fmt::format("has more than one -1 in its shape {}", Shape(t)));
                infer = static_cast<int>(d);
            } else if (t[d] < 0) {
                fail(fmt::format("has a negative size in its shape {}", Shape(t)));
            } else {
                if (t[d] > kMaxAttributeInt) fail(fmt::format("has a size beyond 2^31 in its shape {}", Shape(t)));
                known *= t[d];
                if (known > max_elements_ * 2) fail(fmt::format("reshapes to {}, more elements than its input {}", Shape(t), in));
            }
        }
        if (infer >= 0) {
            if (known == 0 || elements(in) % known != 0)
                fail(fmt::format("cannot reshape {} to {}: the sizes do not divide", in, Shape(t)));
            t[static_cast<std::size_t>(infer)] = elements(in) / known;
        }
        return Shape(t);
    }

    void import_reshape() {
        expect_inputs(2, 2), expect_one_output();
        Slot& target = slot(input(1));
        Ints literal;
        const std::vector<Sym>* symbolic = nullptr;
        if (target.shape) symbolic = &*target.shape;
        else literal = constant_ints(1);
        emit_view_by(input(0), output(0),
                     [&](const Shape& s, int r) { return reshape_target(symbolic ? nullptr : &literal, symbolic, s, r); });
    }

    void import_squeeze(bool unsqueeze) {
        expect_inputs(1, 2), expect_one_output();
        const Ints axes = present(1) ? constant_ints(1) : attr_ints("axes", {});
        if (Slot& s = slot(input(0)); s.shape) {  // the batch size as a 0-d or 1-element shape
            if (s.shape->size() != 1 || axes.size() != 1 || (axes[0] != 0 && axes[0] != -1))
                fail("reshapes a shape holding the batch size other than to one entry");
            Slot copy = s;
            copy.scalar_shape = !unsqueeze;
            define(output(0), "output") = copy;
            return;
        }
        emit_view_by(input(0), output(0), [&](const Shape& in, int) {
            std::vector<std::int64_t> dims(in.begin(), in.end());
            if (unsqueeze) {
                const std::size_t rank = dims.size() + axes.size();
                std::vector<bool> inserted(rank, false);
                for (auto a : axes) {
                    const auto w = static_cast<std::size_t>(wrap_axis(a, rank));
                    if (inserted[w]) fail(fmt::format("repeats axis {}", a));
                    inserted[w] = true;
                }
                Ints out;
                std::size_t k = 0;
                for (std::size_t d = 0; d < rank; ++d) out.push_back(inserted[d] ? 1 : dims[k++]);
                return Shape(out);
            }
            std::vector<bool> drop(dims.size(), axes.empty());
            if (axes.empty())
                for (std::size_t d = 0; d < dims.size(); ++d) drop[d] = dims[d] == 1;
            for (auto a : axes) {
                const auto w = static_cast<std::size_t>(wrap_axis(a, dims.size()));
                if (dims[w] != 1) fail(fmt::format("squeezes axis {} of size {} (input shape {})", a, dims[w], in));
                drop[w] = true;
            }
            Ints out;
            for (std::size_t d = 0; d < dims.size(); ++d)
                if (!drop[d]) out.push_back(dims[d]);
            return Shape(out);
        });
    }

    void import_slice() {
        expect_inputs(3, 5), expect_one_output();
        const Ints starts = constant_ints(1), ends = constant_ints(2);
        Ints axes = present(3) ? constant_ints(3) : Ints{};
        const Ints steps = present(4) ? constant_ints(4) : Ints{};
        if (starts.size() != ends.size() || (!axes.empty() && axes.size() != starts.size()) ||
            (!steps.empty() && steps.size() != starts.size()))
            fail(fmt::format("has starts {}, ends {}, axes {}, steps {} of different lengths", Shape(starts), Shape(ends),
                             Shape(axes), Shape(steps)));
        for (auto s : steps)
            if (s != 1) fail(fmt::format("has steps {}; import maps step 1 (narrow)", Shape(steps)));
        if (axes.empty())
            for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
        if (Slot& s = slot(input(0)); s.filled) {  // a slice of a zero state: the state of some layers
            std::vector<Sym> dims = *s.filled;
            for (std::size_t k = 0; k < axes.size(); ++k) {
                const auto d = static_cast<std::size_t>(wrap_axis(axes[k], dims.size()));
                if (dims[d].batch) fail("slices the batch dim of a ConstantOfShape");
                const auto [b, e] = slice_range(starts[k], ends[k], dims[d].value);
                dims[d].value = e - b;
            }
            Slot copy;
            copy.filled = std::move(dims);
            copy.fill = s.fill;
            define(output(0), "output") = std::move(copy);
            return;
        }
        if (Slot& s = slot(input(0)); s.shape) {
            if (axes.size() != 1 || wrap_axis(axes[0], 1) != 0) fail("slices a shape on an axis it does not have");
            const auto n = static_cast<std::int64_t>(s.shape->size());
            const auto [b, e] = slice_range(starts[0], ends[0], n);
            Slot copy;
            copy.shape = std::vector<Sym>(s.shape->begin() + b, s.shape->begin() + e);
            define(output(0), "output") = copy;
            return;
        }
        const Shape in0 = shape_at(input(0), 0);
        const Shape in1 = runs_ == 2 && !is_constant(input(0)) ? shape_at(input(0), 1) : in0;
        std::string current = input(0);
        std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> cuts;  // dim, start, length
        for (std::size_t k = 0; k < axes.size(); ++k) {
            const std::int64_t d = wrap_axis(axes[k], in0.size());
            const std::int64_t size = in0[static_cast<std::size_t>(d)];
            const auto [b, e] = slice_range(starts[k], ends[k], size);
            if (in1[static_cast<std::size_t>(d)] != size) {  // the batch dim: only the whole of it
                if (starts[k] == 0 && ends[k] >= kMaxAttributeInt) continue;
                fail(fmt::format("slices the batch dim {} (start {}, end {}); import keeps the batch whole", d, starts[k], ends[k]));
            }
            if (b == 0 && e == size) continue;
            cuts.emplace_back(d, b, e - b);
        }
        if (cuts.empty()) return emit("clone", {input(0)}, {}, {output(0)});
        for (std::size_t k = 0; k < cuts.size(); ++k) {
            const auto [d, b, len] = cuts[k];
            const std::string out = k + 1 == cuts.size() ? output(0) : fresh(fmt::format("{}/narrow{}", output(0), k));
            emit("narrow", {current}, {{"dim", d}, {"start", b}, {"length", len}}, {out});
            current = out;
        }
    }

    void import_concat() {
        if (node_->inputs.empty()) fail("has no inputs");
        expect_one_output();
        bool symbolic = false;
        for (std::size_t k = 0; k < node_->inputs.size(); ++k)
            if (slot(input(k)).shape) symbolic = true;
        if (symbolic) {  // a shape being assembled: [batch, -1]
            std::vector<Sym> joined;
            for (std::size_t k = 0; k < node_->inputs.size(); ++k) {
                Slot& s = slot(input(k));
                if (s.shape) {
                    joined.insert(joined.end(), s.shape->begin(), s.shape->end());
                } else {
                    for (auto v : constant_ints(k)) joined.push_back({v, false});
                }
                if (joined.size() > 64) fail("assembles a shape of more than 64 entries");
            }
            Slot out;
            out.shape = std::move(joined);
            define(output(0), "output") = std::move(out);
            return;
        }
        const std::size_t rank = shape_at(input(0), 0).size();
        const OnnxAttr* axis = typed_attr("axis", kInt);
        if (axis == nullptr) fail("lacks its attribute 'axis'");
        emit("cat", node_->inputs, {{"dim", wrap_axis(axis->i, rank)}}, {output(0)});
    }

    void import_constant() {
        expect_inputs(0, 0), expect_one_output();
        if (node_->attrs.size() != 1) fail(fmt::format("has {} attributes, a Constant has one", node_->attrs.size()));
        const OnnxAttr& a = node_->attrs[0];
        Tensor t;
        if (a.name == "value" && a.type == kTensor) t = a.t;
        else if (a.name == "value_float" && a.type == kFloat) t = scalar_tensor(a.f, kFloat32);
        else if (a.name == "value_int" && a.type == kInt) t = from_vector(Ints{a.i}).reshape({});
        else if (a.name == "value_ints" && a.type == kInts) t = from_vector(a.ints, {static_cast<std::int64_t>(a.ints.size())});
        else if (a.name == "value_floats" && a.type == kFloats) t = from_vector(a.floats, {static_cast<std::int64_t>(a.floats.size())});
        else fail(fmt::format("holds '{}' ({}); import reads value, value_float(s) and value_int(s)", a.name, attr_type_name(a.type)));
        define(output(0), "output").constant = t;
    }

    // ONNX's pads (every begin, then every end, first dim first) as libtorch's (before, after)
    // pairs from the last dim backwards; zero pads are a clone (PyTorch writes one before
    // AveragePool).
    void import_pad() {
        expect_inputs(2, 3), expect_one_output();
        if (present(3)) fail("has an axes input; import maps pads over every dim");
        const Ints pads = constant_ints(1);
        const std::size_t rank = shape_at(input(0), 0).size();
        if (pads.size() != 2 * rank) fail(fmt::format("has {} pads for a tensor of rank {}", pads.size(), rank));
        if (std::all_of(pads.begin(), pads.end(), [](auto p) { return p == 0; }))
            return emit("clone", {input(0)}, {}, {output(0)});
        static const std::map<std::string, std::string, std::less<>> modes = {
            {"constant", "constant"}, {"reflect", "reflect"}, {"edge", "replicate"}};
        const auto mode = modes.find(attr_s("mode", "constant"));
        if (mode == modes.end()) fail(fmt::format("pads in mode '{}'", attr_s("mode", "constant")));
        Ints torch_pads;
        std::size_t used = 0;  // the dims from the last one that are padded, as libtorch's shortest list
        for (std::size_t d = 0; d < rank; ++d)
            if (pads[d] != 0 || pads[d + rank] != 0) used = std::max(used, rank - d);
        for (std::size_t i = 0; i < used; ++i) {
            const std::size_t d = rank - 1 - i;
            torch_pads.push_back(pads[d]);
            torch_pads.push_back(pads[d + rank]);
        }
        if (runs_ == 2 && !is_constant(input(0)) && (pads[0] != 0 || pads[rank] != 0)) fail("pads the batch dim");
        const double value = present(2) ? constant_scalar(2) : 0.0;
        emit("pad", {input(0)}, {{"pads", torch_pads}, {"mode", mode->second}, {"value", value}}, {output(0)});
    }

    // Nearest-neighbour Resize as PyTorch's nn.Upsample / F.interpolate(mode="nearest")
    // export it (asymmetric coordinates, floor): libtorch's upsample_nearest2d, by scales
    // (source = floor(out / scale)) or by sizes (source = out * in / size).
    void import_resize() {
        expect_inputs(1, 4), expect_one_output();
        if (attr_s("mode", "nearest") != "nearest" || attr_s("coordinate_transformation_mode", "half_pixel") != "asymmetric" ||
            attr_s("nearest_mode", "round_prefer_floor") != "floor")
            fail(fmt::format("resizes with mode '{}', coordinates '{}', nearest_mode '{}'; import maps PyTorch's nearest "
                             "upsampling (nearest, asymmetric, floor)", attr_s("mode", "nearest"),
                             attr_s("coordinate_transformation_mode", "half_pixel"), attr_s("nearest_mode", "round_prefer_floor")));
        const Shape x = shape_at(input(0), 0);
        if (x.size() != 4) fail(fmt::format("resizes a tensor of shape {}; import maps (N, C, H, W)", x));
        const Tensor scales = present(2) ? slot(input(2)).constant : Tensor();
        if (present(2) && !scales.defined()) fail("has scales computed in the graph; import needs them constant");
        if (scales.defined() && scales.numel() > 0) {
            if (scales.numel() != 4) fail(fmt::format("has {} scales for a 4-D input", scales.numel()));
            const std::vector<double> f = scales.to(kFloat64).contiguous().to_vector<double>();
            if (f[0] != 1.0 || f[1] != 1.0 || !(f[2] > 0) || !(f[3] > 0) || !std::isfinite(f[2]) || !std::isfinite(f[3]))
                fail(fmt::format("has scales [{}]; import maps positive scales of H and W only", fmt::join(f, ", ")));
            const auto oh = static_cast<double>(x[2]) * f[2], ow = static_cast<double>(x[3]) * f[3];
            if (oh * ow * static_cast<double>(x[1]) > static_cast<double>(max_elements_))
                fail(fmt::format("resizes {} by [{}], beyond max_elements", x, fmt::join(f, ", ")));
            return emit("upsample_nearest2d", {input(0)},
                        {{"output_size", Ints{static_cast<std::int64_t>(std::floor(oh)), static_cast<std::int64_t>(std::floor(ow))}},
                         {"scale_h", f[2]}, {"scale_w", f[3]}},
                        {output(0)});
        }
        if (!present(3)) fail("has neither scales nor sizes");
        const Ints sizes = constant_ints(3);
        if (sizes.size() != 4 || sizes[1] != x[1] || (!(runs_ == 2 && !is_constant(input(0))) && sizes[0] != x[0]))
            fail(fmt::format("resizes {} to sizes {}; import maps sizes that change H and W only", x, Shape(sizes)));
        emit("upsample_nearest2d", {input(0)}, {{"output_size", Ints{sizes[2], sizes[3]}}, {"scale_h", 0.0}, {"scale_w", 0.0}},
             {output(0)});
    }

    void import_constant_of_shape() {
        expect_inputs(1, 1), expect_one_output();
        Tensor value = scalar_tensor(0.0, kFloat32);
        if (const OnnxAttr* v = typed_attr("value", kTensor)) {
            if (v->t.numel() != 1) fail(fmt::format("has a value of shape {}; expected one element", v->t.sizes()));
            value = v->t.reshape({});
        }
        Slot& in = slot(input(0));
        if (in.shape) {
            Slot out;
            out.filled = *in.shape;
            out.fill = value.to(kFloat64).item<double>();
            define(output(0), "output") = std::move(out);
            return;
        }
        const Ints dims = constant_ints(0);
        double count = 1;
        for (auto d : dims) {
            if (d < 0) fail(fmt::format("has a negative dim in its shape {}", Shape(dims)));
            count *= static_cast<double>(d);
        }
        if (count > static_cast<double>(max_elements_))
            fail(fmt::format("makes a tensor of shape {}, more than max_elements ({})", Shape(dims), max_elements_));
        define(output(0), "output").constant = full(Shape(dims), value.to(kFloat64).item<double>(), value.dtype());
    }

    void import_shape() {
        expect_inputs(1, 1), expect_one_output();
        const Shape s0 = shape_at(input(0), 0);
        const Shape s1 = !is_constant(input(0)) && runs_ == 2 ? shape_at(input(0), 1) : s0;
        const auto rank = static_cast<std::int64_t>(s0.size());
        const auto [b, e] = slice_range(attr_i("start", 0), attr_i("end", rank), rank);
        std::vector<Sym> entries;
        bool batch = false;
        for (std::int64_t d = b; d < e; ++d) {
            const std::int64_t x = s0[static_cast<std::size_t>(d)], y = s1[static_cast<std::size_t>(d)];
            if (x == y) {
                entries.push_back({x, false});
            } else if (x == 1 && y == 2) {
                entries.push_back({0, true});
                batch = true;
            } else {
                fail(fmt::format("reads dim {} of '{}', which grows with the batch other than as the batch itself", d, input(0)));
            }
        }
        Slot& out = define(output(0), "output");
        if (!batch) {
            Ints v;
            for (const auto& s : entries) v.push_back(s.value);
            out.constant = from_vector(v, {static_cast<std::int64_t>(v.size())});
        } else {
            out.shape = std::move(entries);
        }
    }

    void import_gather() {
        expect_inputs(2, 2), expect_one_output();
        const std::int64_t axis = attr_i("axis", 0);
        if (Slot& data = slot(input(0)); data.shape) {
            const Ints idx = constant_ints(1);
            const auto n = static_cast<std::int64_t>(data.shape->size());
            if (axis != 0 && axis != -1) fail("gathers from a shape on an axis it does not have");
            std::vector<Sym> picked;
            for (auto i : idx) {
                if (i < -n || i >= n) fail(fmt::format("gathers entry {} of a shape of {} entries", i, n));
                picked.push_back((*data.shape)[static_cast<std::size_t>(i < 0 ? i + n : i)]);
            }
            Slot out;
            out.scalar_shape = slot(input(1)).constant.dim() == 0;
            if (std::none_of(picked.begin(), picked.end(), [](const Sym& s) { return s.batch; })) {
                Ints v;
                for (const auto& s : picked) v.push_back(s.value);
                out.constant = out.scalar_shape ? from_vector(v).reshape({}) : from_vector(v, {static_cast<std::int64_t>(v.size())});
            } else {
                out.shape = std::move(picked);
            }
            define(output(0), "output") = std::move(out);
            return;
        }
        const Shape data_shape = shape_at(input(0), 0);
        const std::int64_t d = wrap_axis(axis, data_shape.size());
        if (is_constant(input(1)) && slot(input(1)).constant.dim() <= 1) {
            // x[k] / x[:, k]: narrow(s) on the axis, the axis dropped for a scalar index.
            const Tensor& idx = slot(input(1)).constant;
            if (idx.dtype() != kInt64) fail(fmt::format("has indices of type {}", dtype_name(idx.dtype())));
            const Ints indices = idx.contiguous().to_vector<std::int64_t>();
            const std::int64_t size = data_shape[static_cast<std::size_t>(d)];
            if (runs_ == 2 && !is_constant(input(0)) && shape_at(input(0), 1)[static_cast<std::size_t>(d)] != size)
                fail("gathers constant indices along the batch dim");
            if (idx.dim() == 1) {
                for (auto i : indices)
                    if (i < -size || i >= size) fail(fmt::format("gathers index {} of a dim of size {}", i, size));
                std::string wrapped = input(1);
                if (std::any_of(indices.begin(), indices.end(), [](auto i) { return i < 0; })) {
                    Ints positive = indices;
                    for (auto& i : positive) i = i < 0 ? i + size : i;
                    wrapped = fresh(output(0) + "/indices");
                    define(wrapped, "constant").constant = from_vector(positive, {static_cast<std::int64_t>(positive.size())});
                }
                return emit("index_select", {input(0), wrapped}, {{"dim", d}}, {output(0)});
            }
            std::vector<std::string> parts;
            for (auto i : indices) {
                if (i < -size || i >= size) fail(fmt::format("gathers index {} of a dim of size {}", i, size));
                const std::string part = fresh(fmt::format("{}/narrow{}", output(0), parts.size()));
                emit("narrow", {input(0)}, {{"dim", d}, {"start", i < 0 ? i + size : i}, {"length", std::int64_t{1}}}, {part});
                parts.push_back(part);
            }
            if (indices.empty()) fail("gathers no indices");
            if (idx.dim() == 0)
                return emit_view_by(parts[0], output(0), [&](const Shape& s, int) {
                    Ints out(s.begin(), s.end());
                    out.erase(out.begin() + d);
                    return Shape(out);
                });
            if (parts.size() == 1) return emit("clone", {parts[0]}, {}, {output(0)});
            return emit("cat", parts, {{"dim", d}}, {output(0)});
        }
        if (slot(input(1)).at[0].defined() && slot(input(1)).at[0].dim() == 1 && !(d == 0 && data_shape.size() == 2))
            return emit("index_select", {input(0), input(1)}, {{"dim", d}}, {output(0)});
        if (d != 0 || data_shape.size() != 2)
            fail(fmt::format("gathers computed indices from a tensor of shape {} along axis {}; import maps the "
                             "embedding lookup (2-D data, axis 0)", data_shape, axis));
        emit("embedding", {input(1), input(0)}, {}, {output(0)});
    }

    // Conv and pooling padding: symmetric pads map to `padding`; TF's "same" split (the odd
    // pixel at the end) maps to padding_mode "same", anything else is refused.
    struct Pads {
        Ints symmetric;  // {h, w}, or empty for "same"
        Ints pads;       // {top, left, bottom, right}
    };
    Pads pads_of(const Shape& input_shape, const Ints& kernel, const Ints& stride, const Ints& dilation) {
        if (input_shape.size() != 4) fail(fmt::format("has an input of shape {}; import maps 2-D (N, C, H, W) ops", input_shape));
        const std::string auto_pad = attr_s("auto_pad", "NOTSET");
        Ints pads = attr_ints("pads", {0, 0, 0, 0});
        if (pads.size() != 4) fail(fmt::format("has pads {}; a 2-D op has four", Shape(pads)));
        for (auto p : pads)
            if (p < 0 || p > kMaxAttributeInt) fail(fmt::format("has pads {}", Shape(pads)));
        const auto same = nn::functional::tf_padding(nn::functional::Padding::Same, input_shape[2], input_shape[3],
                                                     Shape(kernel), Shape(stride), Shape(dilation));
        const Ints same_pads{same.top, same.left, same.bottom, same.right};
        if (auto_pad == "VALID") return {{0, 0}, {0, 0, 0, 0}};
        if (auto_pad == "SAME_UPPER") return {{}, same_pads};
        if (auto_pad != "NOTSET") fail(fmt::format("has auto_pad {}; import maps NOTSET, VALID and SAME_UPPER", auto_pad));
        if (pads[0] == pads[2] && pads[1] == pads[3]) return {{pads[0], pads[1]}, pads};
        if (pads == same_pads) return {{}, pads};
        fail(fmt::format("has asymmetric pads {} that are not TF's 'same' ({}) for input {}", Shape(pads), Shape(same_pads), input_shape));
    }
    Ints spatial_attr(const char* name, std::int64_t fallback) const {
        Ints v = attr_ints(name, {fallback, fallback});
        if (v.size() != 2) fail(fmt::format("has {} {}; a 2-D op has two", name, Shape(v)));
        for (auto x : v)
            if (x < 1 || x > kMaxAttributeInt) fail(fmt::format("has {} {}", name, Shape(v)));
        return v;
    }

    void import_conv() {
        expect_inputs(2, 3), expect_one_output();
        const Shape x = shape_at(input(0), 0), w = shape_at(input(1), 0);
        if (w.size() != 4) fail(fmt::format("has a weight of shape {}; import maps 2-D convolutions", w));
        if (const OnnxAttr* ks = typed_attr("kernel_shape", kInts); ks && ks->ints != Ints{w[2], w[3]})
            fail(fmt::format("has kernel_shape {} but a weight of shape {}", Shape(ks->ints), w));
        const Ints stride = spatial_attr("strides", 1), dilation = spatial_attr("dilations", 1);
        const Pads p = pads_of(x, {w[2], w[3]}, stride, dilation);
        const std::int64_t groups = attr_i("group", 1);
        const std::string bias = present(2) ? input(2) : std::string();
        if (!p.symmetric.empty())
            emit("conv2d", {input(0), input(1), bias},
                 {{"stride", stride}, {"padding", p.symmetric}, {"dilation", dilation}, {"pads", p.pads}, {"groups", groups}},
                 {output(0)});
        else
            emit("conv2d", {input(0), input(1), bias},
                 {{"stride", stride}, {"padding_mode", std::string("same")}, {"dilation", dilation}, {"pads", p.pads},
                  {"groups", groups}},
                 {output(0)});
    }

    void import_conv_transpose() {
        expect_inputs(2, 3), expect_one_output();
        const Shape w = shape_at(input(1), 0);
        if (w.size() != 4) fail(fmt::format("has a weight of shape {}; import maps 2-D convolutions", w));
        if (find_attr("output_shape")) fail("has output_shape; import maps pads and output_padding");
        if (attr_s("auto_pad", "NOTSET") != "NOTSET") fail("has auto_pad; import maps explicit pads");
        const Ints pads = attr_ints("pads", {0, 0, 0, 0});
        if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3])
            fail(fmt::format("has pads {}; import maps symmetric pads (libtorch's padding)", Shape(pads)));
        Ints output_padding = attr_ints("output_padding", {0, 0});
        if (output_padding.size() != 2) fail(fmt::format("has output_padding {}", Shape(output_padding)));
        emit("conv_transpose2d", {input(0), input(1), present(2) ? input(2) : std::string()},
             {{"stride", spatial_attr("strides", 1)}, {"padding", Ints{pads[0], pads[1]}}, {"output_padding", output_padding},
              {"groups", attr_i("group", 1)}, {"dilation", spatial_attr("dilations", 1)}},
             {output(0)});
    }

    void import_pool(bool max) {
        expect_inputs(1, 1), expect_one_output();
        const Ints kernel = required_ints("kernel_shape");
        if (kernel.size() != 2) fail(fmt::format("has kernel_shape {}; import maps 2-D pooling", Shape(kernel)));
        const Ints stride = spatial_attr("strides", 1);
        const Ints dilation = max ? spatial_attr("dilations", 1) : Ints{1, 1};
        const Pads p = pads_of(shape_at(input(0), 0), kernel, stride, dilation);
        const std::int64_t ceil_mode = attr_i("ceil_mode", 0), include_pad = attr_i("count_include_pad", 0);
        if (p.symmetric.empty()) {
            if (ceil_mode != 0 || dilation != Ints{1, 1} || include_pad != 0)
                fail("has TF 'same' pads with ceil_mode, dilations or count_include_pad, which TF's pooling has not");
            return emit(max ? "max_pool2d" : "avg_pool2d", {input(0)},
                        {{"kernel", kernel}, {"stride", stride}, {"padding_mode", std::string("same")}, {"pads", p.pads}},
                        {output(0)});
        }
        if (max)
            emit("max_pool2d", {input(0)},
                 {{"kernel", kernel}, {"stride", stride}, {"padding", p.symmetric}, {"dilation", dilation}, {"ceil_mode", ceil_mode}},
                 {output(0)});
        else
            emit("avg_pool2d", {input(0)},
                 {{"kernel", kernel}, {"stride", stride}, {"padding", p.symmetric}, {"ceil_mode", ceil_mode},
                  {"count_include_pad", include_pad}},
                 {output(0)});
    }

    // Where(Greater(x * beta, threshold), x, Softplus(x * beta) / beta): libtorch's softplus
    // with beta and threshold as export_model writes it (ONNX's Softplus has neither), back
    // to one softplus node. Other uses of Where are refused.
    bool import_softplus_pattern() {
        auto made_by = [&](const std::string& name, const char* op) -> const OnnxNode* {
            const auto it = producer_.find(name);
            return it != producer_.end() && it->second->op_type == op && it->second->inputs.size() >= 1 ? it->second : nullptr;
        };
        auto scalar = [&](const std::string& name, double& v) {
            const auto it = slots_.find(name);
            if (it == slots_.end() || !it->second.constant.defined() || it->second.constant.numel() != 1) return false;
            v = it->second.constant.to(kFloat64).contiguous().to_vector<double>()[0];
            return true;
        };
        const OnnxNode* greater = made_by(input(0), "Greater");
        const OnnxNode* scaled = greater && greater->inputs.size() == 2 ? made_by(greater->inputs[0], "Mul") : nullptr;
        const OnnxNode* divided = made_by(input(2), "Div");
        const OnnxNode* soft = divided && divided->inputs.size() == 2 ? made_by(divided->inputs[0], "Softplus") : nullptr;
        double beta = 0, beta_again = 0, threshold = 0;
        const bool matches = scaled && soft && scaled->inputs.size() == 2 && scaled->inputs[0] == input(1) &&
                             soft->inputs[0] == greater->inputs[0] && scalar(scaled->inputs[1], beta) &&
                             scalar(divided->inputs[1], beta_again) && beta == beta_again &&
                             scalar(greater->inputs[1], threshold);
        if (!matches) return false;
        emit("softplus", {input(1)}, {{"beta", beta}, {"threshold", threshold}}, {output(0)});
        return true;
    }

    void import_arg(const char* kind) {
        expect_inputs(1, 1), expect_one_output();
        if (attr_i("select_last_index", 0) != 0) fail("picks the last index of ties; tapegrad picks the first");
        const std::int64_t axis = attr_i("axis", 0);
        if (attr_i("keepdims", 1) != 0) return emit(kind, {input(0)}, {{"dim", axis}}, {output(0)});
        const std::string kept = fresh(output(0) + "/keepdim");
        emit(kind, {input(0)}, {{"dim", axis}}, {kept});
        emit_view_by(kept, output(0), [&](const Shape& s, int) {
            Ints dims(s.begin(), s.end());
            dims.erase(dims.begin() + wrap_axis(axis, s.size()));
            return Shape(dims);
        });
    }

    // TopK's indices are tapegrad's topk node; its values, when used, a gather of the input
    // at them (what the traced graph does too).
    void import_topk() {
        expect_inputs(2, 2);
        if (attr_i("sorted", 1) != 1) fail("lists the top k unsorted");
        const Ints k = constant_ints(1);
        if (k.size() != 1) fail("has a k of more than one value");
        const std::int64_t axis = attr_i("axis", -1);
        const std::string indices = output(1).empty() ? fresh(output(0) + "/indices") : output(1);
        emit("topk", {input(0)}, {{"k", k[0]}, {"dim", axis}, {"largest", attr_i("largest", 1)}, {"sorted", std::int64_t{1}}},
             {indices});
        if (!output(0).empty()) emit("gather", {input(0), indices}, {{"dim", axis}}, {output(0)});
    }

    void import_split() {
        expect_inputs(1, 2);
        const auto& outs = node_->outputs;
        if (outs.empty()) fail("has no outputs");
        const std::int64_t axis = attr_i("axis", 0);
        const Shape x = shape_at(input(0), 0);
        const std::int64_t d = wrap_axis(axis, x.size());
        if (runs_ == 2 && !is_constant(input(0)) && shape_at(input(0), 1)[static_cast<std::size_t>(d)] != x[static_cast<std::size_t>(d)])
            fail("splits the batch dim");
        Ints sizes;
        if (present(1)) {
            sizes = constant_ints(1);
        } else {  // equal parts, the last one smaller (opset 13-17's rule)
            const auto parts = static_cast<std::int64_t>(outs.size());
            const std::int64_t size = x[static_cast<std::size_t>(d)], each = (size + parts - 1) / parts;
            for (std::int64_t p = 0; p < parts; ++p) sizes.push_back(std::max<std::int64_t>(0, std::min(each, size - p * each)));
        }
        if (sizes.size() != outs.size())
            fail(fmt::format("splits into {} parts but has {} outputs", sizes.size(), outs.size()));
        emit("split_with_sizes", {input(0)}, {{"split_sizes", sizes}, {"dim", d}}, outs);
    }

    // ONNX's GRU / LSTM / RNN (one layer, both directions in one op, time-major) as one
    // tapegrad node; the weights are re-laid out here once (libtorch's gate order, one
    // matrix per direction), as export.cpp did the other way.
    void import_recurrent() {
        const std::string& op = node_->op_type;
        const bool lstm = op == "LSTM", gru = op == "GRU";
        const std::int64_t G = lstm ? 4 : gru ? 3 : 1;
        expect_inputs(3, lstm ? 8 : 6);
        if (present(4)) fail("has sequence_lens; import maps full-length sequences");
        if (lstm && present(7)) fail("has peephole weights (input P), which tapegrad's LSTM has not");
        if (find_attr("clip")) fail("has clip, which tapegrad's recurrent ops have not");
        if (attr_i("layout", 0) != 0) fail("has layout = 1 (batch-major); import maps the time-major layout");
        if (lstm && attr_i("input_forget", 0) != 0) fail("has input_forget = 1 (coupled gates)");
        if (gru && attr_i("linear_before_reset", 0) != 1)
            fail("has linear_before_reset = 0; tapegrad's (libtorch's) GRU applies the reset gate after the linear map");
        const std::string direction = attr_s("direction", "forward");
        if (direction != "forward" && direction != "bidirectional")
            fail(fmt::format("has direction '{}'; import maps forward and bidirectional", direction));
        const std::int64_t D = direction == "bidirectional" ? 2 : 1;
        const OnnxAttr* hidden_attr = typed_attr("hidden_size", kInt);
        const Shape x = shape_at(input(0), 0);
        if (x.size() != 3) fail(fmt::format("has an input of shape {}; expected (seq, batch, features)", x));
        Tensor W = slot(input(1)).constant, R = slot(input(2)).constant;
        if (!W.defined() || !R.defined()) fail("has weights computed in the graph; import needs W and R as constants");
        const std::int64_t H = hidden_attr ? hidden_attr->i : (R.dim() == 3 ? R.size(2) : 0);
        if (H < 1 || H > kMaxAttributeInt) fail(fmt::format("has hidden_size {}", H));
        const std::int64_t I = x[2];
        auto check_shape = [&](const Tensor& t, const Shape& want, const char* what) {
            if (t.sizes() != want) fail(fmt::format("has {} of shape {}, expected {}", what, t.sizes(), want));
        };
        check_shape(W, {D, G * H, I}, "W");
        check_shape(R, {D, G * H, H}, "R");
        Tensor B;
        if (present(3)) {
            B = slot(input(3)).constant;
            if (!B.defined()) fail("has a bias computed in the graph; import needs B as a constant");
            check_shape(B, {D, 2 * G * H}, "B");
        }
        std::string activation = "Tanh";
        if (const OnnxAttr* acts = typed_attr("activations", kStrings)) {
            const std::vector<std::string> defaults = lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                                     : gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                           : std::vector<std::string>{"Tanh"};
            std::vector<std::string> want;
            if (!lstm && !gru && !acts->strings.empty() && acts->strings[0] == "Relu") activation = "Relu";
            for (std::int64_t d = 0; d < D; ++d)
                for (const auto& a : defaults) want.push_back(lstm || gru ? a : activation);
            if (acts->strings != want)
                fail(fmt::format("has activations [{}]; tapegrad's {} uses [{}]", fmt::join(acts->strings, ", "), op,
                                 fmt::join(want, ", ")));
        }
        // ONNX gate blocks z, r, h (GRU) and i, o, f, c (LSTM) in libtorch's r, z, n and i, f, g, o.
        const std::vector<std::int64_t> order = gru ? std::vector<std::int64_t>{1, 0, 2}
                                              : lstm ? std::vector<std::int64_t>{0, 2, 3, 1}
                                                     : std::vector<std::int64_t>{0};
        auto torch_order = [&](const Tensor& t) {
            std::vector<Tensor> blocks;
            for (auto b : order) blocks.push_back(t.narrow(0, b * H, H));
            return cat(blocks, 0).contiguous();
        };
        const std::string base = node_->name.empty() ? output(0).empty() ? fresh("rnn") : output(0) : node_->name;
        // PyTorch's zero initial state (ConstantOfShape of [layers, batch, hidden]) is the default.
        auto state = [&](std::size_t k) {
            if (!present(k)) return std::string();
            const Slot& s = slot(input(k));
            return s.filled && s.fill == 0.0 ? std::string() : input(k);
        };
        std::vector<std::string> inputs{input(0), state(5), lstm ? state(6) : std::string(), std::string()};
        {
            NoGradGuard no_grad;
            for (std::int64_t d = 0; d < D; ++d) {
                const std::string suffix = d == 1 ? "_reverse" : "";
                const Tensor bias = B.defined() ? B.select(0, d) : zeros({2 * G * H}, W.dtype());
                const Tensor parts[4] = {torch_order(W.select(0, d)), torch_order(R.select(0, d)),
                                         torch_order(bias.narrow(0, 0, G * H)), torch_order(bias.narrow(0, G * H, G * H))};
                const char* names[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
                for (int k = 0; k < 4; ++k) {
                    const std::string name = fresh(fmt::format("{}.{}{}", base, names[k], suffix));
                    define(name, "weight").constant = parts[k];
                    inputs.push_back(name);
                }
            }
        }
        const std::string kind = gru ? "gru" : lstm ? "lstm" : "rnn";
        const std::string Y = output(0), sequence = fresh((Y.empty() ? base : Y) + "/sequence");
        std::vector<std::string> outputs{sequence, output(1)};
        if (lstm) outputs.push_back(output(2));
        emit(kind, inputs,
             {{"input_size", I}, {"hidden_size", H}, {"num_layers", std::int64_t{1}}, {"bias", std::int64_t{1}},
              {"batch_first", std::int64_t{0}}, {"dropout", 0.0}, {"bidirectional", std::int64_t{D == 2}},
              {"relu", std::int64_t{activation == "Relu"}}, {"forget_bias", 0.0}, {"training", std::int64_t{0}}},
             outputs, false);
        if (Y.empty()) return;
        // Y is (seq, directions, batch, hidden): the node's (seq, batch, directions * hidden) split and permuted.
        const std::string split = fresh(Y + "/split");
        emit_view_by(sequence, split, [&](const Shape& s, int) { return Shape{s[0], s[1], D, H}; });
        emit("permute", {split}, {{"dims", Ints{0, 2, 1, 3}}}, {Y});
    }

    OnnxModel m_;
    std::string source_;
    std::int64_t max_elements_;
    std::int64_t max_operations_;
    double work_ = 0;  // the dry run's operations so far
    Graph graph_;
    std::map<std::string, Slot> slots_;
    std::set<std::string> names_;
    std::map<std::string, const OnnxNode*> producer_;
    std::vector<std::pair<jit::Node, bool>> nodes_;  // with "may be dropped when dead"
    const OnnxNode* node_ = nullptr;
    int runs_ = 1;
};

}  // namespace

bool detail::saved_arity(std::string_view kind, std::int64_t layers, std::int64_t directions, Arity& arity) {
    static const std::set<std::string, std::less<>> unary = {
        "neg", "exp", "log", "sqrt", "abs", "sign", "square", "sin", "cos", "rsqrt", "reciprocal", "expm1", "log1p",
        "erf", "relu", "sigmoid", "tanh", "softplus", "silu", "selu", "softsign", "relu6", "hardsigmoid", "hardtanh",
        "elu", "leaky_relu", "gelu", "softmax", "log_softmax", "logsumexp", "sum", "view", "permute", "expand",
        "narrow", "flip", "clone", "to", "unfold", "fold", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
        "dropout", "clamp", "mean", "var", "std", "upsample_nearest2d", "pad", "logical_not", "isnan", "isinf",
        "isfinite", "argmax", "argmin", "topk", "prod", "cumsum", "cumprod", "logcumsumexp", "roll", "repeat",
        "split_with_sizes"};
    static const std::set<std::string, std::less<>> binary = {
        "add", "sub", "mul", "div", "maximum", "minimum", "mm", "bmm", "embedding", "eq", "ne", "lt", "le", "gt", "ge",
        "logical_and", "logical_or", "masked_fill", "index_select", "gather", "cross_entropy", "nll_loss"};
    arity = Arity{};
    if (unary.count(kind)) arity.min = arity.max = 1;
    else if (binary.count(kind)) arity.min = arity.max = 2;
    else if (kind == "pow") arity.min = 1, arity.max = 2;
    else if (kind == "addmm" || kind == "where") arity.min = arity.max = 3;
    else if (kind == "layer_norm" || kind == "group_norm") arity.min = arity.max = 3, arity.optional = {1, 2};
    else if (kind == "linear" || kind == "conv2d" || kind == "conv_transpose2d") arity.min = arity.max = 3, arity.optional = {2};
    else if (kind == "batch_norm" || kind == "instance_norm") arity.min = arity.max = 5, arity.optional = {1, 2, 3, 4};
    else if (kind == "cat") arity.min = 1, arity.max = SIZE_MAX;
    else if (kind == "gru" || kind == "lstm" || kind == "rnn") {
        // input, h0, c0, lengths, then (weight_ih, weight_hh, bias_ih, bias_hh) per layer and direction
        arity.min = arity.max = 4 + static_cast<std::size_t>(4 * layers * directions);
        arity.optional = {1, 2, 3};
        for (std::size_t j = 4; j < arity.min; ++j)
            if ((j - 4) % 4 >= 2) arity.optional.insert(j);
    } else {
        return false;
    }
    return true;
}

jit::Graph from_onnx(std::string_view bytes, const std::string& source, const ImportOptions& options) {
    TG_CHECK(options.max_elements > 0 && options.max_operations > 0, "onnx import",
             "ImportOptions::max_elements and max_operations must be positive, got {} and {}", options.max_elements,
             options.max_operations);
    return Importer(detail::parse_model(bytes, source, options.max_elements), source, options).build();
}

jit::Graph load(const std::string& path, const ImportOptions& options) {
    const std::vector<unsigned char> bytes = io::read_file(path, "onnx::load");
    return from_onnx(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "'" + path + "'", options);
}

}  // namespace tg::onnx
