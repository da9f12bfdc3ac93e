// The ONNX messages more than one file writes or reads: TensorProto (initializers, tensor
// attributes) and ValueInfoProto (graph inputs and outputs), with onnx.proto's field
// numbers, and the dtype codes. Internal to lib/onnx.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

ProtoWriter tensor_proto(const std::string& name, const Tensor& t);
ProtoWriter value_info(const std::string& name, const jit::Value& v);

// A TensorProto read back: the name and the tensor (a copy of the file's bytes). Sizes are
// checked against the data (raw_data or the typed repeated field), dims must be >= 0 and
// their product at most `max_elements`; an unsupported dtype or external data throws.
struct NamedTensor {
    std::string name;
    Tensor tensor;
};
NamedTensor read_tensor(std::string_view bytes, const std::string& context, std::int64_t max_elements);

}  // namespace tg::onnx::detail
