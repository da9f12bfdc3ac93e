// tg::onnx::export_model: a jit::Graph as an ONNX ModelProto (opset 17), encoded with
// the hand-written protobuf writer the TensorBoard files use (lib/io/protobuf.hpp). Why
// not libonnx-dev: the ~25 fields we write take a page of code, while the library brings
// protobuf's runtime and generated classes into every user's link line for a file we only
// ever write; the model is checked by python3-onnx's checker and run by ONNX Runtime in
// test/scripts/onnx_export.sh, independent readers of our bytes.
//
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, ...).
#include "tapegrad/onnx.hpp"

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "io/atomic_file.hpp"
#include "io/protobuf.hpp"
#include "ops/nearest.hpp"
#include "onnx/proto.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/error.hpp"
#include "tensor/check.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/ops.hpp"

namespace tg::onnx {

namespace {

using summary::detail::ProtoWriter;
using detail::onnx_type;
using detail::tensor_proto;
using detail::value_info;
using jit::Graph;
using jit::Node;

// AttributeProto.AttributeType
enum AttrType : std::uint64_t { kFloat = 1, kInt = 2, kString = 3, kInts = 7, kStrings = 8 };

class NodeBuilder {
public:
    NodeBuilder(std::string op_type, std::vector<std::string> inputs, std::vector<std::string> outputs, std::string name)
        : op_type_(std::move(op_type)), inputs_(std::move(inputs)), outputs_(std::move(outputs)), name_(std::move(name)) {}
    NodeBuilder& i(const char* name, std::int64_t v) {
        return attribute(name, kInt, [&](ProtoWriter& a) { a.int_field(3, v); });
    }
    NodeBuilder& f(const char* name, double v) {
        return attribute(name, kFloat, [&](ProtoWriter& a) { a.float_field(2, static_cast<float>(v)); });
    }
    NodeBuilder& s(const char* name, const std::string& v) {
        return attribute(name, kString, [&](ProtoWriter& a) { a.bytes_field(4, v); });
    }
    NodeBuilder& ints(const char* name, const std::vector<std::int64_t>& v) {
        return attribute(name, kInts, [&](ProtoWriter& a) {
            for (auto x : v) a.int_field(8, x);
        });
    }
    NodeBuilder& strings(const char* name, const std::vector<std::string>& v) {
        return attribute(name, kStrings, [&](ProtoWriter& a) {
            for (const auto& x : v) a.bytes_field(9, x);
        });
    }
    const std::vector<std::string>& inputs() const { return inputs_; }
    ProtoWriter encode() const {
        ProtoWriter n;
        for (const auto& in : inputs_) n.bytes_field(1, in);
        for (const auto& out : outputs_) n.bytes_field(2, out);
        n.bytes_field(3, name_);
        n.bytes_field(4, op_type_);
        for (const auto& a : attrs_) n.message_field(5, a);
        return n;
    }

private:
    // AttributeProto: name = 1, the value's field (filled by `value`), type = 20.
    template <class Fill>
    NodeBuilder& attribute(const char* name, AttrType type, Fill&& value) {
        ProtoWriter a;
        a.bytes_field(1, name);
        value(a);
        a.uint_field(20, type);
        attrs_.push_back(a);
        return *this;
    }

    std::string op_type_;
    std::vector<std::string> inputs_, outputs_;
    std::string name_;
    std::vector<ProtoWriter> attrs_;
};

std::vector<std::int64_t> pair(const std::vector<std::int64_t>& v, std::int64_t fallback) {
    if (v.empty()) return {fallback, fallback};
    if (v.size() == 1) return {v[0], v[0]};
    return v;
}

class Exporter {
public:
    explicit Exporter(const Graph& g) : g_(g) {}

    std::string model(const std::string& graph_name) {
        for (const auto& node : g_.nodes()) emit(node);
        ProtoWriter graph;
        for (const auto& n : nodes_) graph.message_field(1, n.encode());
        graph.bytes_field(2, graph_name);
        // Parameters read only by recurrent nodes were re-laid out into their own constants.
        std::set<std::string> used;
        for (const auto& n : nodes_) used.insert(n.inputs().begin(), n.inputs().end());
        for (const auto& [id, data] : g_.initializers())
            if (used.count(name(id))) graph.message_field(5, tensor_proto(name(id), data));
        for (const auto& [cname, data] : constants_) graph.message_field(5, tensor_proto(cname, data));
        for (int id : g_.inputs()) graph.message_field(11, value_info(name(id), g_.value(id)));
        for (int id : g_.outputs()) graph.message_field(12, value_info(name(id), g_.value(id)));
        ProtoWriter opset;
        opset.bytes_field(1, "");
        opset.int_field(2, kOpsetVersion);
        ProtoWriter model;
        model.int_field(1, 8);  // IR version 8 goes with opset 17
        model.bytes_field(2, "tapegrad");
        model.bytes_field(3, "0.1");
        model.message_field(7, graph);
        model.message_field(8, opset);
        return model.bytes();
    }

private:
    const std::string& name(int id) const { return g_.value(id).name; }
    const jit::Value& value(int id) const { return g_.value(id); }
    // The name of node input k; empty for an absent optional input (ONNX's "no input").
    std::string input_name(const Node& n, std::size_t k) const {
        return k < n.inputs.size() && n.inputs[k] >= 0 ? name(n.inputs[k]) : std::string();
    }

    [[noreturn]] void unsupported(const Node& node, const std::string& why) const {
        const std::string where = node.outputs.empty() || node.outputs[0] < 0 ? node.kind : name(node.outputs[0]);
        throw Error(fmt::format("onnx export: node '{}' (op '{}') {}", where, node.kind, why));
    }

    std::string fresh(const std::string& stem) { return fmt::format("{}__{}", stem, counter_++); }

    std::string constant(const Tensor& t, const std::string& stem = "const") {
        std::string n = fresh(stem);
        constants_.emplace_back(n, t);
        return n;
    }
    std::string ints_const(const std::vector<std::int64_t>& v) { return constant(from_vector(v, {static_cast<std::int64_t>(v.size())})); }
    std::string scalar_const(double v, Dtype d) { return constant(scalar_tensor(v, d)); }

    NodeBuilder& add(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs) {
        nodes_.emplace_back(op, std::move(ins), std::move(outs), fresh(op));
        return nodes_.back();
    }
    // A temporary output name.
    std::string tmp() { return fresh("t"); }

    void emit(const Node& n) {
        auto in = [&](std::size_t k) { return input_name(n, k); };
        const std::string out = n.outputs.empty() ? std::string() : name(n.outputs[0]);
        const Dtype dt = n.outputs.empty() ? kFloat32 : value(n.outputs[0]).dtype;
        const std::string& k = n.kind;
        // linear, conv2d and conv_transpose2d take (input, weight[, bias]).
        auto inputs_with_optional_bias = [&] {
            std::vector<std::string> ins{in(0), in(1)};
            if (!in(2).empty()) ins.push_back(in(2));
            return ins;
        };
        // The attributes Conv and ConvTranspose share; the caller adds pads and group.
        auto add_conv = [&](const std::string& op) -> NodeBuilder& {
            const Shape& w = value(n.inputs[1]).shape;
            return add(op, inputs_with_optional_bias(), {out})
                .ints("kernel_shape", {w[2], w[3]})
                .ints("strides", pair(n.ints("stride"), 1))
                .ints("dilations", pair(n.ints("dilation"), 1));
        };
        static const std::map<std::string, std::string> same = {
            {"mul", "Mul"},   {"div", "Div"},       {"maximum", "Max"}, {"minimum", "Min"},       {"neg", "Neg"},
            {"exp", "Exp"},   {"log", "Log"},       {"sqrt", "Sqrt"},   {"abs", "Abs"},           {"sign", "Sign"},
            {"sin", "Sin"},   {"cos", "Cos"},       {"erf", "Erf"},     {"reciprocal", "Reciprocal"}, {"relu", "Relu"},
            {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"softsign", "Softsign"},
            {"selu", "Selu"}, {"mm", "MatMul"},     {"bmm", "MatMul"},  {"clone", "Identity"},
        };
        if (auto it = same.find(k); it != same.end()) {
            std::vector<std::string> ins;
            for (std::size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(i));
            add(it->second, ins, {out});
        } else if (k == "add" || k == "sub") {
            std::string b = in(1);
            if (n.f("alpha") != 1.0) {
                const std::string scaled = tmp();
                add("Mul", {b, scalar_const(n.f("alpha"), value(n.inputs[1]).dtype)}, {scaled});
                b = scaled;
            }
            add(k == "add" ? "Add" : "Sub", {in(0), b}, {out});
        } else if (k == "pow") {
            add("Pow", {in(0), n.inputs.size() == 2 ? in(1) : scalar_const(n.f("exponent"), dt)}, {out});
        } else if (k == "square") {
            add("Mul", {in(0), in(0)}, {out});
        } else if (k == "rsqrt") {
            const std::string s = tmp();
            add("Sqrt", {in(0)}, {s});
            add("Reciprocal", {s}, {out});
        } else if (k == "expm1") {
            const std::string e = tmp();
            add("Exp", {in(0)}, {e});
            add("Sub", {e, scalar_const(1.0, dt)}, {out});
        } else if (k == "log1p") {
            const std::string s = tmp();
            add("Add", {in(0), scalar_const(1.0, dt)}, {s});
            add("Log", {s}, {out});
        } else if (k == "clamp" || k == "hardtanh" || k == "relu6") {
            double lo = 0, hi = 6;
            if (k == "clamp") lo = n.f("min"), hi = n.f("max");
            if (k == "hardtanh") lo = n.f("min_val"), hi = n.f("max_val");
            add("Clip", {in(0), std::isinf(lo) ? std::string() : scalar_const(lo, dt),
                         std::isinf(hi) ? std::string() : scalar_const(hi, dt)},
                {out});
        } else if (k == "softplus") {
            // ONNX's Softplus has neither beta nor threshold: libtorch's
            // x > threshold / beta ? x : log(1 + exp(beta x)) / beta, built from it. The defaults
            // (1, 20) stay one Softplus node (the linear branch differs by < exp(-20) there).
            const double beta = n.f("beta"), threshold = n.f("threshold");
            if (beta == 1.0 && threshold == 20.0) {
                add("Softplus", {in(0)}, {out});
            } else {
                const std::string scaled = tmp(), soft = tmp(), curve = tmp(), above = tmp();
                add("Mul", {in(0), scalar_const(beta, dt)}, {scaled});
                add("Softplus", {scaled}, {soft});
                add("Div", {soft, scalar_const(beta, dt)}, {curve});
                add("Greater", {scaled, scalar_const(threshold, dt)}, {above});
                add("Where", {above, in(0), curve}, {out});
            }
        } else if (k == "hardsigmoid") {
            add("HardSigmoid", {in(0)}, {out}).f("alpha", 1.0 / 6.0).f("beta", 0.5);
        } else if (k == "silu") {
            const std::string s = tmp();
            add("Sigmoid", {in(0)}, {s});
            add("Mul", {in(0), s}, {out});
        } else if (k == "elu") {
            add("Elu", {in(0)}, {out}).f("alpha", n.f("alpha"));
        } else if (k == "leaky_relu") {
            add("LeakyRelu", {in(0)}, {out}).f("alpha", n.f("negative_slope"));
        } else if (k == "gelu") {
            // Opset 17 has no Gelu: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form.
            const std::string inner = tmp(), one_plus = tmp(), half_x = tmp();
            if (n.s("approximate") == "tanh") {
                const std::string x3 = tmp(), poly = tmp(), scaled = tmp();
                add("Mul", {in(0), in(0)}, {x3 + "_sq"});
                add("Mul", {x3 + "_sq", in(0)}, {x3});
                add("Mul", {x3, scalar_const(0.044715, dt)}, {poly + "_c"});
                add("Add", {in(0), poly + "_c"}, {poly});
                add("Mul", {poly, scalar_const(std::sqrt(2.0 / M_PI), dt)}, {scaled});
                add("Tanh", {scaled}, {inner});
            } else {
                const std::string scaled = tmp();
                add("Mul", {in(0), scalar_const(M_SQRT1_2, dt)}, {scaled});
                add("Erf", {scaled}, {inner});
            }
            add("Add", {inner, scalar_const(1.0, dt)}, {one_plus});
            add("Mul", {in(0), scalar_const(0.5, dt)}, {half_x});
            add("Mul", {half_x, one_plus}, {out});
        } else if (k == "softmax") {
            add("Softmax", {in(0)}, {out}).i("axis", n.i("dim"));
        } else if (k == "log_softmax") {
            add("LogSoftmax", {in(0)}, {out}).i("axis", n.i("dim"));
        } else if (k == "logsumexp") {
            add("ReduceLogSumExp", {in(0)}, {out}).ints("axes", {n.i("dim")}).i("keepdims", n.i("keepdim"));
        } else if (k == "sum") {
            const auto& dims = n.ints("dims");
            std::vector<std::string> ins{in(0)};
            if (!dims.empty()) ins.push_back(ints_const(dims));
            add("ReduceSum", ins, {out}).i("keepdims", n.i("keepdim"));
        } else if (k == "view") {
            add("Reshape", {in(0), ints_const(n.ints("shape"))}, {out});
        } else if (k == "permute") {
            add("Transpose", {in(0)}, {out}).ints("perm", n.ints("dims"));
        } else if (k == "expand") {
            add("Expand", {in(0), ints_const(n.ints("sizes"))}, {out});
        } else if (k == "narrow") {
            add("Slice", {in(0), ints_const({n.i("start")}), ints_const({n.i("start") + n.i("length")}),
                          ints_const({n.i("dim")})},
                {out});
        } else if (k == "cat") {
            std::vector<std::string> ins;
            for (std::size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(i));
            add("Concat", ins, {out}).i("axis", n.i("dim"));
        } else if (k == "to") {
            add("Cast", {in(0)}, {out}).i("to", onnx_type(static_cast<Dtype>(n.i("dtype"))));
        } else if (k == "addmm") {
            add("Gemm", {in(1), in(2), in(0)}, {out}).f("alpha", n.f("alpha")).f("beta", n.f("beta"));
        } else if (k == "linear") {
            add("Gemm", inputs_with_optional_bias(), {out}).i("transB", 1);
        } else if (k == "conv2d") {
            add_conv("Conv")
                .ints("pads", n.ints("pads"))
                .i("group", n.has("groups") ? n.i("groups") : 1);
        } else if (k == "conv_transpose2d") {
            // ONNX's weight layout (C_in, C_out / group, kh, kw) and output size are libtorch's.
            const auto padding = pair(n.ints("padding"), 0);
            add_conv("ConvTranspose")
                .ints("pads", {padding[0], padding[1], padding[0], padding[1]})
                .ints("output_padding", pair(n.ints("output_padding"), 0))
                .i("group", n.i("groups"));
        } else if (k == "unfold" || k == "fold") {
            // ONNX has no im2col. unfold is a depthwise Conv whose C * kh * kw output channels
            // each pick one kernel cell (one-hot weights; channel c * kh * kw + cell, unfold's
            // row order), flattened to (N, C * kh * kw, L); fold is the ConvTranspose with the
            // same weights (the adjoint), output_padding restoring the rows the floor dropped.
            const auto kernel = pair(n.ints("kernel_size"), 1), dilation = pair(n.ints("dilation"), 1);
            const auto padding = pair(n.ints("padding"), 0), stride = pair(n.ints("stride"), 1);
            const Shape& in_shape = value(n.inputs[0]).shape;
            if (in_shape.size() != (k == "unfold" ? 4u : 3u))
                unsupported(n, "has an unbatched input; export the batched form");
            const std::int64_t cells = kernel[0] * kernel[1];
            const std::int64_t C = k == "unfold" ? in_shape[1] : in_shape[1] / cells;
            const std::string weight =
                constant(eye(cells, dt).repeat({C, 1}).reshape({C * cells, 1, kernel[0], kernel[1]}));
            const std::vector<std::int64_t> pads{padding[0], padding[1], padding[0], padding[1]};
            if (k == "unfold") {
                const std::string windows = tmp();
                add("Conv", {in(0), weight}, {windows})
                    .ints("kernel_shape", kernel).ints("strides", stride).ints("dilations", dilation)
                    .ints("pads", pads).i("group", C);
                add("Reshape", {windows, ints_const({0, C * cells, -1})}, {out});
            } else {
                const auto size = pair(n.ints("output_size"), 1);
                std::vector<std::int64_t> windows(2), output_padding(2);
                for (int d = 0; d < 2; ++d) {
                    const std::int64_t extent = dilation[d] * (kernel[d] - 1) + 1;
                    windows[d] = (size[d] + 2 * padding[d] - extent) / stride[d] + 1;
                    output_padding[d] = size[d] - ((windows[d] - 1) * stride[d] - 2 * padding[d] + extent);
                }
                const std::string grid = tmp();
                add("Reshape", {in(0), ints_const({0, C * cells, windows[0], windows[1]})}, {grid});
                add("ConvTranspose", {grid, weight}, {out})
                    .ints("kernel_shape", kernel).ints("strides", stride).ints("dilations", dilation)
                    .ints("pads", pads).ints("output_padding", output_padding).i("group", C);
            }
        } else if (k == "max_pool2d" || k == "avg_pool2d") {
            if (value(n.inputs[0]).shape.size() != 4) unsupported(n, "has a 3-D input; ONNX pools take (N, C, H, W)");
            const auto kernel = pair(n.ints("kernel"), 1);
            const auto stride = n.ints("stride").empty() ? kernel : pair(n.ints("stride"), 1);
            std::vector<std::int64_t> pads;
            if (n.has("pads")) {
                pads = n.ints("pads");
            } else {
                const auto p = pair(n.ints("padding"), 0);
                pads = {p[0], p[1], p[0], p[1]};
            }
            auto& node = add(k == "max_pool2d" ? "MaxPool" : "AveragePool", {in(0)}, {out})
                             .ints("kernel_shape", kernel)
                             .ints("strides", stride)
                             .ints("pads", pads);
            if (n.has("ceil_mode")) node.i("ceil_mode", n.i("ceil_mode"));
            if (n.has("dilation")) node.ints("dilations", pair(n.ints("dilation"), 1));
            if (k == "avg_pool2d") node.i("count_include_pad", n.has("count_include_pad") ? n.i("count_include_pad") : 0);
        } else if (k == "adaptive_avg_pool2d") {
            const auto o = pair(n.ints("output_size"), 1);
            if (o[0] != 1 || o[1] != 1) unsupported(n, "has an output size other than 1x1 (only GlobalAveragePool maps)");
            add("GlobalAveragePool", {in(0)}, {out});
        } else if (k == "batch_norm") {
            if (n.i("training") != 0 || in(1).empty())
                unsupported(n, "normalises with batch statistics (training mode); call eval() before exporting");
            const std::int64_t C = value(n.inputs[0]).shape[1];
            const std::string scale = in(3).empty() ? constant(ones({C}, dt)) : in(3);
            const std::string bias = in(4).empty() ? constant(zeros({C}, dt)) : in(4);
            add("BatchNormalization", {in(0), scale, bias, in(1), in(2)}, {out})
                .f("epsilon", n.f("eps"))
                .f("momentum", 1.0 - n.f("momentum"));
        } else if (k == "dropout") {
            if (n.i("training") != 0) unsupported(n, "is a training-mode dropout; call eval() before exporting");
            add("Identity", {in(0)}, {out});
        } else if (k == "embedding") {
            add("Gather", {in(1), in(0)}, {out}).i("axis", 0);
        } else if (k == "gru" || k == "lstm" || k == "rnn") {
            emit_recurrent(n);
        } else if (!emit_selection(n, out, dt) && !emit_layout(n, out, dt) && !emit_normalization(n, out, dt)) {
            unsupported(n, "has no ONNX mapping (docs/graphs-and-onnx.md lists the ones that do)");
        }
    }

    // Input k as dtype d: a Cast where the graph's value has another dtype (comparisons and
    // where promote their operands, ONNX wants them alike).
    std::string input_as(const Node& n, std::size_t k, Dtype d) {
        if (value(n.inputs[k]).dtype == d) return name(n.inputs[k]);
        const std::string cast = tmp();
        add("Cast", {name(n.inputs[k])}, {cast}).i("to", onnx_type(d));
        return cast;
    }

    // Comparisons, logic, where, index selection, arg/top-k, cumulative and product
    // reductions, losses. False when the kind is none of these.
    bool emit_selection(const Node& n, const std::string& out, Dtype dt) {
        const std::string& k = n.kind;
        static const std::map<std::string, std::string> comparisons = {
            {"eq", "Equal"}, {"ne", "Equal"}, {"lt", "Less"}, {"le", "LessOrEqual"}, {"gt", "Greater"}, {"ge", "GreaterOrEqual"}};
        if (auto it = comparisons.find(k); it != comparisons.end()) {
            Dtype d = promote_types(value(n.inputs[0]).dtype, value(n.inputs[1]).dtype);
            if (d == kBool && k != "eq" && k != "ne") d = kInt64;  // ONNX orders numbers only (false < true holds)
            const std::string equal = k == "ne" ? tmp() : out;
            add(it->second, {input_as(n, 0, d), input_as(n, 1, d)}, {equal});
            if (k == "ne") add("Not", {equal}, {out});
        } else if (k == "logical_and" || k == "logical_or") {  // nonzero is true: a Cast to bool says so
            add(k == "logical_and" ? "And" : "Or", {input_as(n, 0, kBool), input_as(n, 1, kBool)}, {out});
        } else if (k == "logical_not") {
            add("Not", {input_as(n, 0, kBool)}, {out});
        } else if (k == "isnan" || k == "isinf" || k == "isfinite") {
            if (!is_floating_point(value(n.inputs[0]).dtype)) unsupported(n, "tests an integer tensor (a constant answer)");
            if (k == "isnan") {
                add("IsNaN", {name(n.inputs[0])}, {out});
            } else if (k == "isinf") {
                add("IsInf", {name(n.inputs[0])}, {out});
            } else {
                const std::string nan = tmp(), inf = tmp(), either = tmp();
                add("IsNaN", {name(n.inputs[0])}, {nan});
                add("IsInf", {name(n.inputs[0])}, {inf});
                add("Or", {nan, inf}, {either});
                add("Not", {either}, {out});
            }
        } else if (k == "where") {
            add("Where", {name(n.inputs[0]), input_as(n, 1, dt), input_as(n, 2, dt)}, {out});
        } else if (k == "masked_fill") {
            add("Where", {name(n.inputs[1]), scalar_const(n.f("value"), dt), name(n.inputs[0])}, {out});
        } else if (k == "index_select") {
            std::string index = name(n.inputs[1]);
            if (value(n.inputs[1]).shape.empty()) {  // a 0-dim index keeps the dim (size 1), as libtorch
                index = tmp();
                add("Reshape", {name(n.inputs[1]), ints_const({1})}, {index});
            }
            add("Gather", {name(n.inputs[0]), index}, {out}).i("axis", n.i("dim"));
        } else if (k == "gather") {
            add("GatherElements", {name(n.inputs[0]), name(n.inputs[1])}, {out}).i("axis", n.i("dim"));
        } else if (k == "argmax" || k == "argmin") {
            add(k == "argmax" ? "ArgMax" : "ArgMin", {name(n.inputs[0])}, {out}).i("axis", n.i("dim")).i("keepdims", 1);
        } else if (k == "topk") {
            // ONNX's TopK breaks ties by the lower index first, as tapegrad's stable order does.
            if (n.i("sorted") == 0) unsupported(n, "lists the top k in input order (sorted=false); ONNX's order is unspecified");
            add("TopK", {name(n.inputs[0]), ints_const({n.i("k")})}, {tmp(), out})
                .i("axis", n.i("dim"))
                .i("largest", n.i("largest"))
                .i("sorted", 1);
        } else if (k == "prod") {
            add("ReduceProd", {input_as(n, 0, dt)}, {out}).ints("axes", {n.i("dim")}).i("keepdims", n.i("keepdim"));
        } else if (k == "cumsum") {
            add("CumSum", {input_as(n, 0, dt), constant(scalar_tensor(static_cast<double>(n.i("dim")), kInt64))}, {out});
        } else if (k == "mean") {
            auto& node = add("ReduceMean", {name(n.inputs[0])}, {out}).i("keepdims", n.i("keepdim"));
            if (!n.ints("dims").empty()) node.ints("axes", n.ints("dims"));
        } else if (k == "var" || k == "std") {
            // mean((x - mean x)^2), times N / (N - 1) unbiased: N must then be known here.
            const jit::Value& x = value(n.inputs[0]);
            std::vector<std::int64_t> axes = n.ints("dims");
            if (axes.empty())
                for (std::size_t d = 0; d < x.shape.size(); ++d) axes.push_back(static_cast<std::int64_t>(d));
            std::int64_t count = 1;
            for (auto& d : axes) {
                if (d < 0) d += static_cast<std::int64_t>(x.shape.size());
                if (d == 0 && x.dynamic_batch && n.i("unbiased") != 0)
                    unsupported(n, "is an unbiased variance over the dynamic batch dim (its N is not known)");
                count *= x.shape[static_cast<std::size_t>(d)];
            }
            const std::string centre = tmp(), diff = tmp(), square = tmp();
            add("ReduceMean", {name(n.inputs[0])}, {centre}).ints("axes", axes).i("keepdims", 1);
            add("Sub", {name(n.inputs[0]), centre}, {diff});
            add("Mul", {diff, diff}, {square});
            std::string v = k == "var" && n.i("unbiased") == 0 ? out : tmp();
            add("ReduceMean", {square}, {v}).ints("axes", axes).i("keepdims", n.i("keepdim"));
            if (n.i("unbiased") != 0) {
                const std::string scaled = k == "var" ? out : tmp();
                add("Mul", {v, scalar_const(static_cast<double>(count) / static_cast<double>(count - 1), dt)}, {scaled});
                v = scaled;
            }
            if (k == "std") add("Sqrt", {v}, {out});
        } else if (k == "cross_entropy") {
            add("SoftmaxCrossEntropyLoss", {name(n.inputs[0]), name(n.inputs[1])}, {out}).s("reduction", "none");
        } else if (k == "nll_loss") {
            add("NegativeLogLikelihoodLoss", {name(n.inputs[0]), name(n.inputs[1])}, {out}).s("reduction", "none");
        } else {
            return false;
        }
        return true;
    }

    // roll, repeat, split, pad, nearest upsampling. False when the kind is none of these.
    bool emit_layout(const Node& n, const std::string& out, Dtype dt) {
        const std::string& k = n.kind;
        const jit::Value& x = value(n.inputs[0]);
        const auto rank = static_cast<std::int64_t>(x.shape.size());
        if (k == "roll") {
            // Each rolled dim: its last `shift` entries moved to the front (two Slices, a Concat).
            std::vector<std::int64_t> net(x.shape.size(), 0);
            const auto& shifts = n.ints("shifts");
            const auto& dims = n.ints("dims");
            for (std::size_t i = 0; i < dims.size(); ++i) net[static_cast<std::size_t>((dims[i] + rank) % rank)] += shifts[i];
            std::string cur = name(n.inputs[0]);
            for (std::int64_t d = 0; d < rank; ++d) {
                const std::int64_t size = x.shape[static_cast<std::size_t>(d)];
                const std::int64_t s = size == 0 ? 0 : ((net[static_cast<std::size_t>(d)] % size) + size) % size;
                if (s == 0) continue;
                if (d == 0 && x.dynamic_batch) unsupported(n, "rolls the dynamic batch dim");
                const std::string tail = tmp(), head = tmp(), next = tmp();
                add("Slice", {cur, ints_const({size - s}), ints_const({size}), ints_const({d})}, {tail});
                add("Slice", {cur, ints_const({0}), ints_const({size - s}), ints_const({d})}, {head});
                add("Concat", {tail, head}, {next}).i("axis", d);
                cur = next;
            }
            add("Identity", {cur}, {out});
        } else if (k == "repeat") {
            const auto& repeats = n.ints("repeats");
            std::string src = name(n.inputs[0]);
            const auto lead = static_cast<std::int64_t>(repeats.size()) - rank;
            if (lead > 0) {  // leading 1-dims first, as libtorch's repeat
                std::vector<std::int64_t> axes;
                for (std::int64_t i = 0; i < lead; ++i) axes.push_back(i);
                src = tmp();
                add("Unsqueeze", {name(n.inputs[0]), ints_const(axes)}, {src});
            }
            add("Tile", {src, ints_const(repeats)}, {out});
        } else if (k == "split_with_sizes") {
            std::vector<std::string> outs;
            for (int id : n.outputs) outs.push_back(id >= 0 ? name(id) : tmp());
            add("Split", {name(n.inputs[0]), ints_const(n.ints("split_sizes"))}, outs).i("axis", n.i("dim"));
        } else if (k == "pad") {
            // libtorch's list is (before, after) pairs from the last dim backwards; ONNX's is all
            // the begins, then all the ends, from the first dim.
            const std::string& mode = n.s("mode");
            static const std::map<std::string, std::string> modes = {
                {"constant", "constant"}, {"reflect", "reflect"}, {"replicate", "edge"}};
            const auto m = modes.find(mode);
            if (m == modes.end()) unsupported(n, "pads in " + mode + " mode, which opset 17's Pad does not have");
            const auto& pads = n.ints("pads");
            std::vector<std::int64_t> onnx_pads(static_cast<std::size_t>(2 * rank), 0);
            for (std::size_t i = 0; i + 1 < pads.size(); i += 2) {
                const auto d = static_cast<std::size_t>(rank) - 1 - i / 2;
                onnx_pads[d] = pads[i];
                onnx_pads[d + static_cast<std::size_t>(rank)] = pads[i + 1];
            }
            add("Pad", {name(n.inputs[0]), ints_const(onnx_pads), scalar_const(n.f("value"), dt)}, {out}).s("mode", m->second);
        } else if (k == "upsample_nearest2d") {
            // Gathers of the very rows and columns the kernel reads: exact for every size (Resize
            // would recompute them from a float scale and can round an exact index down).
            if (rank != 4) unsupported(n, "has a 3-D input; export the batched (N, C, H, W) form");
            const auto& size = n.ints("output_size");
            auto factor = [&](const char* key) {
                return n.f(key) > 0 ? std::optional<double>(n.f(key)) : std::nullopt;
            };
            const auto rows = tg::detail::nearest_sources(x.shape[2], size[0], factor("scale_h"));
            const auto cols = tg::detail::nearest_sources(x.shape[3], size[1], factor("scale_w"));
            const std::string tall = tmp();
            add("Gather", {name(n.inputs[0]), ints_const(rows)}, {tall}).i("axis", 2);
            add("Gather", {tall, ints_const(cols)}, {out}).i("axis", 3);
        } else {
            return false;
        }
        return true;
    }

    // layer and instance normalisation. False when the kind is neither.
    bool emit_normalization(const Node& n, const std::string& out, Dtype dt) {
        const std::string& k = n.kind;
        auto in = [&](std::size_t k) { return input_name(n, k); };
        if (k == "layer_norm") {
            const Shape normalized(n.ints("normalized_shape"));
            std::vector<std::string> ins{in(0), in(1).empty() ? constant(ones(normalized, dt)) : in(1)};
            if (!in(2).empty()) ins.push_back(in(2));
            add("LayerNormalization", ins, {out})
                .i("axis", -static_cast<std::int64_t>(normalized.size()))
                .f("epsilon", n.f("eps"));
        } else if (k == "group_norm") {
            // (N, groups, rest) normalised per row is InstanceNormalization with unit scale;
            // then the input's shape back (batch kept by 0) and the per-channel affine.
            const Shape& shape = value(n.inputs[0]).shape;
            const std::int64_t G = n.i("num_groups");
            const std::string rows = tmp(), normed = tmp();
            add("Reshape", {in(0), ints_const({0, G, -1})}, {rows});
            add("InstanceNormalization", {rows, constant(ones({G}, dt)), constant(zeros({G}, dt))}, {normed})
                .f("epsilon", n.f("eps"));
            std::vector<std::int64_t> back(shape.begin(), shape.end()), per_channel(shape.size() - 1, 1);
            back[0] = 0;
            per_channel[0] = shape[1];
            std::string y = in(1).empty() && in(2).empty() ? out : tmp();
            add("Reshape", {normed, ints_const(back)}, {y});
            for (std::size_t p = 1; p <= 2; ++p) {
                if (in(p).empty()) continue;
                const std::string column = tmp(), next = p == 2 || in(2).empty() ? out : tmp();
                add("Reshape", {in(p), ints_const(per_channel)}, {column});
                add(p == 1 ? "Mul" : "Add", {y, column}, {next});
                y = next;
            }
        } else if (k == "instance_norm") {
            const std::int64_t C = value(n.inputs[0]).shape[1];
            const std::string scale = in(3).empty() ? constant(ones({C}, dt)) : in(3);
            const std::string bias = in(4).empty() ? constant(zeros({C}, dt)) : in(4);
            if (n.i("use_input_stats") != 0)
                add("InstanceNormalization", {in(0), scale, bias}, {out}).f("epsilon", n.f("eps"));
            else  // the tracked statistics, per channel: batch norm's inference form
                add("BatchNormalization", {in(0), scale, bias, in(1), in(2)}, {out}).f("epsilon", n.f("eps"));
        } else {
            return false;
        }
        return true;
    }

    // The weights of a recurrent node, which must be initializers: ONNX wants them
    // re-laid out (gate order, stacked directions), done here once.
    Tensor weight(const Node& n, std::size_t k) {
        const int id = n.inputs[k];
        if (id < 0) return {};
        for (const auto& [init_id, data] : g_.initializers())
            if (init_id == id) return data;
        unsupported(n, fmt::format("has weight '{}' computed in the graph; ONNX export needs it as a parameter", name(id)));
    }

    // tapegrad (libtorch) gate blocks r, z, n (GRU) and i, f, g, o (LSTM) in ONNX's order
    // z, r, h and i, o, f, c.
    static Tensor onnx_gate_order(const Tensor& t, const std::string& kind, std::int64_t H) {
        auto block = [&](std::int64_t b) { return t.narrow(0, b * H, H); };
        if (kind == "gru") return cat({block(1), block(0), block(2)}, 0);
        if (kind == "lstm") return cat({block(0), block(3), block(1), block(2)}, 0);
        return t;
    }

    // One ONNX GRU/LSTM/RNN op per layer (both directions in one op), time-major inside:
    // ONNX Runtime does not implement the batch-first layout attribute, so batch_first
    // inputs and outputs are transposed around the ops.
    void emit_recurrent(const Node& n) {
        const std::string& k = n.kind;
        if (n.inputs[3] >= 0) unsupported(n, "has sequence lengths; export the padded batch without them");
        if (n.i("training") != 0 && n.f("dropout") > 0 && n.i("num_layers") > 1)
            unsupported(n, "applies dropout between layers (training mode); call eval() before exporting");
        const std::int64_t H = n.i("hidden_size"), L = n.i("num_layers"), D = n.i("bidirectional") != 0 ? 2 : 1;
        const bool batch_first = n.i("batch_first") != 0;
        const Dtype dt = value(n.inputs[0]).dtype;
        const std::string op = k == "gru" ? "GRU" : k == "lstm" ? "LSTM" : "RNN";
        const std::int64_t G = k == "gru" ? 3 : k == "lstm" ? 4 : 1;
        NoGradGuard no_grad;
        std::string x = name(n.inputs[0]);
        if (batch_first) {
            const std::string t = tmp();
            add("Transpose", {x}, {t}).ints("perm", {1, 0, 2});
            x = t;
        }
        std::vector<std::string> finals_h, finals_c;
        for (std::int64_t l = 0; l < L; ++l) {
            std::vector<Tensor> W, R, B;
            for (std::int64_t d = 0; d < D; ++d) {
                const std::size_t base = 4 + static_cast<std::size_t>(4 * (l * D + d));
                const Tensor w_ih = weight(n, base), w_hh = weight(n, base + 1);
                Tensor b_ih = weight(n, base + 2), b_hh = weight(n, base + 3);
                if (!b_ih.defined()) b_ih = zeros({G * H}, dt);
                if (!b_hh.defined()) b_hh = zeros({G * H}, dt);
                if (k == "lstm" && n.f("forget_bias") != 0.0)  // tapegrad adds it to the forget gate
                    b_ih = b_ih + cat({zeros({H}, dt), full({H}, n.f("forget_bias"), dt), zeros({2 * H}, dt)}, 0);
                W.push_back(onnx_gate_order(w_ih, k, H));
                R.push_back(onnx_gate_order(w_hh, k, H));
                B.push_back(cat({onnx_gate_order(b_ih, k, H), onnx_gate_order(b_hh, k, H)}, 0));
            }
            const std::string prefix = fmt::format("{}_l{}", name(n.outputs[0]), l);
            std::vector<std::string> ins{x, constant(stack(W, 0), prefix + "_W"), constant(stack(R, 0), prefix + "_R"),
                                         constant(stack(B, 0), prefix + "_B"), std::string()};
            for (std::size_t s = 1; s <= (k == "lstm" ? 2u : 1u); ++s) {
                if (n.inputs[s] < 0) {
                    ins.push_back(std::string());
                    continue;
                }
                const std::string slice = tmp();
                add("Slice", {name(n.inputs[s]), ints_const({l * D}), ints_const({(l + 1) * D}), ints_const({0})}, {slice});
                ins.push_back(slice);
            }
            while (!ins.empty() && ins.back().empty()) ins.pop_back();
            const std::string y = tmp(), y_h = tmp(), y_c = k == "lstm" ? tmp() : std::string();
            std::vector<std::string> outs{y, y_h};
            if (k == "lstm") outs.push_back(y_c);
            auto& node = add(op, ins, outs).i("hidden_size", H).s("direction", D == 2 ? "bidirectional" : "forward");
            if (k == "gru") node.i("linear_before_reset", 1);  // tapegrad's (libtorch's) GRU
            if (k == "rnn") {
                const std::string act = n.i("relu") != 0 ? "Relu" : "Tanh";
                // one activation per direction
                std::vector<std::string> acts(static_cast<std::size_t>(D), act);
                node.strings("activations", acts);
            }
            finals_h.push_back(y_h);
            if (k == "lstm") finals_c.push_back(y_c);
            // Y (T, D, B, H) -> (T, B, D * H): the next layer's input.
            const std::string yt = tmp(), next = tmp();
            add("Transpose", {y}, {yt}).ints("perm", {0, 2, 1, 3});
            add("Reshape", {yt, ints_const({0, 0, -1})}, {next});
            x = next;
        }
        const std::string out = name(n.outputs[0]);
        if (batch_first) add("Transpose", {x}, {out}).ints("perm", {1, 0, 2});
        else add("Identity", {x}, {out});
        auto finish_state = [&](const std::vector<std::string>& parts, std::size_t k_out) {
            if (k_out >= n.outputs.size() || n.outputs[k_out] < 0) return;
            if (parts.size() == 1) add("Identity", {parts[0]}, {name(n.outputs[k_out])});
            else add("Concat", parts, {name(n.outputs[k_out])}).i("axis", 0);
        };
        finish_state(finals_h, 1);
        if (k == "lstm") finish_state(finals_c, 2);
    }

    const Graph& g_;
    std::vector<NodeBuilder> nodes_;
    std::vector<std::pair<std::string, Tensor>> constants_;
    int counter_ = 0;
};

}  // namespace

std::string to_onnx(const jit::Graph& graph, const std::string& graph_name) {
    graph.validate();
    return Exporter(graph).model(graph_name);
}

void export_model(const jit::Graph& graph, const std::string& path) {
    const std::string bytes = to_onnx(graph);
    io::AtomicFile file(path, "onnx::export_model");
    file.write(bytes.data(), bytes.size());
    file.commit();
}

void export_model(nn::Module& module, const Tensor& example_input, const std::string& path,
                  const ExportOptions& options) {
    const bool was_training = module.is_training();
    module.eval();
    jit::Graph graph;
    try {
        jit::TraceOptions trace_options;
        trace_options.input_names = options.input_names;
        trace_options.output_names = options.output_names;
        trace_options.dynamic_batch = options.dynamic_batch;
        graph = jit::trace(module, example_input, trace_options);
    } catch (...) {
        module.train(was_training);
        throw;
    }
    module.train(was_training);
    const std::string bytes = to_onnx(graph, options.graph_name);
    io::AtomicFile file(path, "onnx::export_model");
    file.write(bytes.data(), bytes.size());
    file.commit();
}

}  // namespace tg::onnx
