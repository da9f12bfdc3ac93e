// The ONNX messages to and from bytes, with onnx.proto's field numbers: TensorProto
// (initializers, tensor attributes) and ValueInfoProto (graph inputs and outputs) both ways,
// the dtype codes, and a whole ModelProto read into plain structs (import.cpp maps those to
// a jit::Graph). Internal to lib/onnx.
#pragma once

#include <cstdint>
#include <string>
#include <map>
#include <string_view>
#include <vector>

#include "io/protobuf.hpp"
#include "tapegrad/jit.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::onnx::detail {

using summary::detail::ProtoReader;
using summary::detail::ProtoWriter;

// onnx.TensorProto.DataType of a tapegrad dtype, and back (false: no tapegrad dtype).
std::int64_t onnx_type(Dtype dtype);
bool dtype_from_onnx(std::int64_t type, Dtype& dtype);
std::string onnx_type_name(std::int64_t type);  // "FLOAT16", ... for error messages

// The dim_param a dynamic batch dim is written with.
inline constexpr std::string_view kBatchDim = "batch";

TG_API ProtoWriter tensor_proto(const std::string& name, const Tensor& t);  // exported for test_onnx_import
ProtoWriter value_info(const std::string& name, const jit::Value& v);

// A TensorProto read back: the name and the tensor (a copy of the file's bytes). Sizes are
// checked against the data (raw_data or the typed repeated field), dims must be >= 0 and
// their product at most `max_elements`; an unsupported dtype or external data throws.
struct NamedTensor {
    std::string name;
    Tensor tensor;
};
NamedTensor read_tensor(std::string_view bytes, const std::string& context, std::int64_t max_elements);

// The domain of tapegrad's own ops in saved graphs (onnx::save).
inline constexpr std::string_view kTapegradDomain = "ai.tapegrad";

// AttributeProto.AttributeType
namespace attr_type {
enum AttrType : std::int64_t { kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kFloats = 6, kInts = 7, kStrings = 8 };
}
std::string attr_type_name(std::int64_t type);  // "INTS", ... for error messages

// A ModelProto's graph as read: what import needs of it, nothing interpreted yet.
struct OnnxAttr {
    std::string name;
    std::int64_t type = 0;
    float f = 0;
    std::int64_t i = 0;
    std::string s;
    Tensor t;
    std::vector<float> floats;
    std::vector<std::int64_t> ints;
    std::vector<std::string> strings;
};

struct OnnxNode {
    std::size_t index = 0;  // its position in the graph, for error messages
    std::string op_type, domain, name;
    std::vector<std::string> inputs, outputs;
    std::vector<OnnxAttr> attrs;
};

struct OnnxValueInfo {
    std::string name;
    std::int64_t elem_type = 0;
    bool has_shape = false;
    std::vector<std::int64_t> dims;  // -1: symbolic (dim_param) or unknown
};

struct OnnxModel {
    std::map<std::string, std::int64_t> opsets;  // domain -> version ("" is ai.onnx)
    std::string graph_name;
    std::vector<OnnxNode> nodes;
    std::vector<NamedTensor> initializers;
    std::vector<OnnxValueInfo> inputs, outputs;
};

// Reads a ModelProto; malformed bytes throw "onnx import: <source>: <message>: ...".
// Tensors are limited to `max_elements` each.
OnnxModel parse_model(std::string_view bytes, const std::string& source, std::int64_t max_elements);

}  // namespace tg::onnx::detail
