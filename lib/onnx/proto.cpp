// TensorProto and ValueInfoProto both ways (onnx/onnx.proto field numbers in comments).
#include "onnx/proto.hpp"

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "tapegrad/creation.hpp"
#include "tapegrad/error.hpp"
#include "tensor/check.hpp"

namespace tg::onnx::detail {

std::int64_t onnx_type(Dtype d) {
    switch (d) {
        case kFloat32: return 1;
        case kFloat64: return 11;
        case kInt64: return 7;
        case kBool: return 9;
    }
    return 0;
}

bool dtype_from_onnx(std::int64_t type, Dtype& dtype) {
    switch (type) {
        case 1: dtype = kFloat32; return true;
        case 11: dtype = kFloat64; return true;
        case 7: dtype = kInt64; return true;
        case 9: dtype = kBool; return true;
        default: return false;
    }
}

std::string onnx_type_name(std::int64_t type) {
    static const char* const names[] = {"UNDEFINED", "FLOAT", "UINT8",  "INT8",   "UINT16",    "INT16",
                                        "INT32",     "INT64", "STRING", "BOOL",   "FLOAT16",   "DOUBLE",
                                        "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    if (type >= 0 && type < static_cast<std::int64_t>(std::size(names))) return names[type];
    return fmt::format("type {}", type);
}

ProtoWriter tensor_proto(const std::string& name, const Tensor& t) {
    ProtoWriter p;
    for (auto d : t.sizes()) p.int_field(1, d);  // dims
    p.int_field(2, onnx_type(t.dtype()));        // data_type
    p.bytes_field(8, name);                      // name
    const Tensor c = t.contiguous();
    std::string raw(static_cast<std::size_t>(c.numel()) * element_size(c.dtype()), '\0');
    if (!raw.empty()) {
        // raw_data is little-endian; so is every machine we build for (x86-64, aarch64 LE).
        if (c.dtype() == kFloat32) std::memcpy(raw.data(), c.data_ptr<float>(), raw.size());
        else if (c.dtype() == kFloat64) std::memcpy(raw.data(), c.data_ptr<double>(), raw.size());
        else if (c.dtype() == kInt64) std::memcpy(raw.data(), c.data_ptr<std::int64_t>(), raw.size());
        else std::memcpy(raw.data(), c.data_ptr<bool>(), raw.size());
    }
    p.bytes_field(9, raw);  // raw_data
    return p;
}

ProtoWriter value_info(const std::string& name, const jit::Value& v) {
    ProtoWriter shape;  // TensorShapeProto: dim = 1 (dim_value = 1 or dim_param = 2)
    for (std::size_t d = 0; d < v.shape.size(); ++d) {
        ProtoWriter dim;
        if (d == 0 && v.dynamic_batch) dim.bytes_field(2, kBatchDim);
        else dim.int_field(1, v.shape[d]);
        shape.message_field(1, dim);
    }
    ProtoWriter tensor_type;  // TypeProto.Tensor: elem_type = 1, shape = 2
    tensor_type.int_field(1, onnx_type(v.dtype));
    tensor_type.message_field(2, shape);
    ProtoWriter type;  // TypeProto: tensor_type = 1
    type.message_field(1, tensor_type);
    ProtoWriter info;  // ValueInfoProto: name = 1, type = 2
    info.bytes_field(1, name);
    info.message_field(2, type);
    return info;
}

NamedTensor read_tensor(std::string_view bytes, const std::string& context, std::int64_t max_elements) {
    ProtoReader r(bytes, context);
    std::vector<std::int64_t> dims, int64_data, int32_data;
    std::vector<float> float_data;
    std::vector<double> double_data;
    std::int64_t type = 0;
    std::string name;
    std::string_view raw;
    bool has_raw = false, external = false;
    while (r.next()) {
        switch (r.field()) {
            case 1: r.ints(dims); break;
            case 2: type = r.int64(); break;
            case 4: r.floats(float_data); break;
            case 5: r.ints(int32_data); break;  // int32, bool, ... are varints in int32_data
            case 7: r.ints(int64_data); break;
            case 8: name = std::string(r.bytes()); break;
            case 9: raw = r.bytes(), has_raw = true; break;
            case 10: r.doubles(double_data); break;
            case 13: r.bytes(), external = true; break;  // external_data
            case 14: external = external || r.uint() == 1; break;  // data_location EXTERNAL
            default: break;
        }
    }
    const std::string where = name.empty() ? context : fmt::format("{} '{}'", context, name);
    if (external) throw Error(fmt::format("{}: the tensor's data is in an external file, which import does not read", where));
    Dtype dtype;
    if (!dtype_from_onnx(type, dtype))
        throw Error(fmt::format("{}: data type {} is not supported (float32, float64, int64, bool are)", where,
                                onnx_type_name(type)));
    std::int64_t count = 1;
    for (auto d : dims) {
        if (d < 0) throw Error(fmt::format("{}: negative dim in {}", where, Shape(dims)));
        if (d != 0 && count > max_elements / d)
            throw Error(fmt::format("{}: dims {} hold more than {} elements", where, Shape(dims), max_elements));
        count *= d;
    }
    if (count > max_elements) throw Error(fmt::format("{}: dims {} hold more than {} elements", where, Shape(dims), max_elements));
    const auto n = static_cast<std::size_t>(count);
    const std::size_t width = element_size(dtype);
    // The data must match the dims before anything is allocated: the dims alone could ask
    // for gigabytes that a small file does not hold.
    auto check_count = [&](const char* field, std::size_t have) {
        if (have != n)
            throw Error(fmt::format("{}: dims {} ({}) need {} elements, {} holds {}", where, Shape(dims),
                                    dtype_name(dtype), n, field, have));
    };
    if (has_raw) {
        if (raw.size() != n * width)
            throw Error(fmt::format("{}: dims {} ({}) need {} bytes of raw_data, the file has {}", where, Shape(dims),
                                    dtype_name(dtype), n * width, raw.size()));
    } else if (dtype == kFloat32) {
        check_count("float_data", float_data.size());
    } else if (dtype == kFloat64) {
        check_count("double_data", double_data.size());
    } else if (dtype == kInt64) {
        check_count("int64_data", int64_data.size());
    } else {
        check_count("int32_data", int32_data.size());
    }
    Tensor t = empty(Shape(dims), dtype);
    if (n == 0) return {name, t};
    switch (dtype) {
        case kFloat32: std::memcpy(t.data_ptr<float>(), has_raw ? static_cast<const void*>(raw.data()) : float_data.data(), n * width); break;
        case kFloat64: std::memcpy(t.data_ptr<double>(), has_raw ? static_cast<const void*>(raw.data()) : double_data.data(), n * width); break;
        case kInt64: std::memcpy(t.data_ptr<std::int64_t>(), has_raw ? static_cast<const void*>(raw.data()) : int64_data.data(), n * width); break;
        case kBool: {  // any non-zero byte is true (a raw byte of 2 is not a valid C++ bool)
            bool* out = t.data_ptr<bool>();
            for (std::size_t k = 0; k < n; ++k) out[k] = has_raw ? raw[k] != 0 : int32_data[k] != 0;
            break;
        }
    }
    return {name, t};
}

// ---- ModelProto ----

std::string attr_type_name(std::int64_t type) {
    static const char* const names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS"};
    if (type >= 0 && type < static_cast<std::int64_t>(std::size(names))) return names[type];
    return fmt::format("type {}", type);
}

namespace {

using namespace attr_type;

OnnxAttr read_attribute(std::string_view bytes, const std::string& context, std::int64_t max_elements) {
    ProtoReader r(bytes, context);
    OnnxAttr a;
    while (r.next()) {
        switch (r.field()) {
            case 1: a.name = std::string(r.bytes()); break;
            case 2: a.f = r.float32(); break;
            case 3: a.i = r.int64(); break;
            case 4: a.s = std::string(r.bytes()); break;
            case 5: a.t = read_tensor(r.bytes(), context + " tensor", max_elements).tensor; break;
            case 7: r.floats(a.floats); break;
            case 8: r.ints(a.ints); break;
            case 9: a.strings.emplace_back(r.bytes()); break;
            case 20: a.type = r.int64(); break;
            default: break;  // g, graphs, sparse tensors, doc strings: skipped unread
        }
    }
    if (a.type == kTensor && !a.t.defined()) r.fail(fmt::format("attribute '{}' is a TENSOR without a tensor", a.name));
    return a;
}

OnnxValueInfo read_value_info(std::string_view bytes, const std::string& context) {
    OnnxValueInfo v;
    ProtoReader r(bytes, context);
    bool tensor_type = false, other_type = false;
    while (r.next()) {
        if (r.field() == 1) {
            v.name = std::string(r.bytes());
        } else if (r.field() == 2) {  // TypeProto
            ProtoReader type(r.bytes(), context + " type");
            while (type.next()) {
                if (type.field() != 1) {
                    other_type = other_type || type.field() == 4 || type.field() == 5 || type.field() == 9;
                    continue;
                }
                tensor_type = true;
                ProtoReader tensor(type.bytes(), context + " tensor_type");
                while (tensor.next()) {
                    if (tensor.field() == 1) {
                        v.elem_type = tensor.int64();
                    } else if (tensor.field() == 2) {
                        v.has_shape = true;
                        ProtoReader shape(tensor.bytes(), context + " shape");
                        while (shape.next()) {
                            if (shape.field() != 1) continue;
                            ProtoReader dim(shape.bytes(), context + " dim");
                            std::int64_t value = -1;
                            while (dim.next())
                                if (dim.field() == 1) value = dim.int64();
                            if (value < -1) dim.fail(fmt::format("negative dim {}", value));
                            v.dims.push_back(value);
                        }
                    }
                }
            }
        }
    }
    if (other_type || (!tensor_type && !v.name.empty()))
        r.fail(fmt::format("'{}' is not a tensor (sequences, maps and optionals are not imported)", v.name));
    return v;
}

}  // namespace

OnnxModel parse_model(std::string_view bytes, const std::string& source, std::int64_t max_elements) {
    OnnxModel m;
    const std::string where = "onnx import: " + source;
    ProtoReader model(bytes, where + ": ModelProto");
    std::string_view graph_bytes;
    bool has_graph = false;
    while (model.next()) {
        if (model.field() == 7) {
            graph_bytes = model.bytes();
            has_graph = true;
        } else if (model.field() == 8) {
            ProtoReader opset(model.bytes(), where + ": opset_import");
            std::string domain;
            std::int64_t version = 0;
            while (opset.next()) {
                if (opset.field() == 1) domain = std::string(opset.bytes());
                else if (opset.field() == 2) version = opset.int64();
            }
            m.opsets[domain == "ai.onnx" ? std::string() : domain] = version;
        }
    }
    if (!has_graph) throw Error(where + ": not an ONNX model (no graph in the ModelProto)");
    ProtoReader graph(graph_bytes, where + ": graph");
    while (graph.next()) {
        switch (graph.field()) {
            case 1: {
                OnnxNode n;
                n.index = m.nodes.size();
                const std::string context = fmt::format("{}: node {}", where, n.index);
                ProtoReader node(graph.bytes(), context);
                while (node.next()) {
                    switch (node.field()) {
                        case 1: n.inputs.emplace_back(node.bytes()); break;
                        case 2: n.outputs.emplace_back(node.bytes()); break;
                        case 3: n.name = std::string(node.bytes()); break;
                        case 4: n.op_type = std::string(node.bytes()); break;
                        case 5: n.attrs.push_back(read_attribute(node.bytes(), context + " attribute", max_elements)); break;
                        case 7: n.domain = std::string(node.bytes()); break;
                        default: break;
                    }
                }
                m.nodes.push_back(std::move(n));
                break;
            }
            case 2: m.graph_name = std::string(graph.bytes()); break;
            case 5:
                m.initializers.push_back(detail::read_tensor(
                    graph.bytes(), fmt::format("{}: initializer {}", where, m.initializers.size()), max_elements));
                break;
            case 15: graph.fail("sparse initializers are not imported");
            case 11: m.inputs.push_back(read_value_info(graph.bytes(), where + ": graph input")); break;
            case 12: m.outputs.push_back(read_value_info(graph.bytes(), where + ": graph output")); break;
            default: break;
        }
    }
    return m;
}

}  // namespace tg::onnx::detail
