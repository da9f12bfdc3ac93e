// tg::onnx::save: a jit::Graph written losslessly as an ONNX ModelProto whose nodes are
// tapegrad's own ops (domain "ai.tapegrad"): one NodeProto per graph node, op_type = its
// kind, its attributes as traced. Integers, integer lists and strings are ONNX's INT, INTS
// and STRING; a real is a TENSOR attribute holding one float64, since ONNX's FLOAT is 32-bit
// and the loaded graph must compute bit for bit what the saved one did. load() (import.cpp)
// reads it back; ONNX tools can open and inspect it (Netron, onnx.load), but only
// tapegrad runs it.
#include <fmt/format.h>

#include "io/atomic_file.hpp"
#include "onnx/proto.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/onnx.hpp"

namespace tg::onnx {

namespace {

using detail::ProtoWriter;
using namespace detail::attr_type;

ProtoWriter attribute(const std::string& name, const jit::Attribute& value) {
    ProtoWriter a;  // AttributeProto: name = 1, i = 3, s = 4, t = 5, ints = 8, type = 20
    a.bytes_field(1, name);
    std::int64_t type = kInt;
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
        a.int_field(3, *i);
    } else if (const auto* f = std::get_if<double>(&value)) {
        a.message_field(5, detail::tensor_proto("", scalar_tensor(*f, kFloat64)));
        type = kTensor;
    } else if (const auto* v = std::get_if<std::vector<std::int64_t>>(&value)) {
        for (auto x : *v) a.int_field(8, x);
        type = kInts;
    } else {
        a.bytes_field(4, std::get<std::string>(value));
        type = kString;
    }
    a.int_field(20, type);
    return a;
}

}  // namespace

std::string to_saved_graph(const jit::Graph& graph, const std::string& graph_name) {
    graph.validate();
    auto name = [&](int id) { return id < 0 ? std::string() : graph.value(id).name; };
    ProtoWriter g;  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12
    for (const auto& node : graph.nodes()) {
        ProtoWriter n;  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7
        for (int id : node.inputs) n.bytes_field(1, name(id));
        for (int id : node.outputs) n.bytes_field(2, name(id));
        n.bytes_field(3, node.outputs.empty() ? node.kind : name(node.outputs[0]));
        n.bytes_field(4, node.kind);
        for (const auto& [key, value] : node.attributes) n.message_field(5, attribute(key, value));
        n.bytes_field(7, detail::kTapegradDomain);
        g.message_field(1, n);
    }
    g.bytes_field(2, graph_name);
    for (const auto& [id, data] : graph.initializers()) g.message_field(5, detail::tensor_proto(name(id), data));
    for (int id : graph.inputs()) g.message_field(11, detail::value_info(name(id), graph.value(id)));
    for (int id : graph.outputs()) g.message_field(12, detail::value_info(name(id), graph.value(id)));
    ProtoWriter model;  // ModelProto: ir_version = 1, producer = 2, 3, graph = 7, opset_import = 8
    model.int_field(1, 8);
    model.bytes_field(2, "tapegrad");
    model.bytes_field(3, "0.1");
    model.message_field(7, g);
    for (const auto& [domain, version] : {std::pair<std::string_view, std::int64_t>{"", kOpsetVersion}, {detail::kTapegradDomain, 1}}) {
        ProtoWriter opset;
        opset.bytes_field(1, domain);
        opset.int_field(2, version);
        model.message_field(8, opset);
    }
    return model.bytes();
}

void save(const jit::Graph& graph, const std::string& path) {
    const std::string bytes = to_saved_graph(graph);
    io::AtomicFile file(path, "onnx::save");
    file.write(bytes.data(), bytes.size());
    file.commit();
}

}  // namespace tg::onnx
