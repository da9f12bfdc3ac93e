// The eager tape behind a tensor, as a TensorFlow GraphDef for TensorBoard's Graphs tab.
#pragma once

#include <cstdint>
#include <string>

#include "tapegrad/dtype.hpp"
#include "tapegrad/jit.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::summary::detail {

// tensorflow.DataType (types.proto) for a tapegrad dtype.
std::uint64_t tf_data_type(Dtype dtype);
inline constexpr std::uint64_t kTfString = 7;  // DT_STRING

// The serialized GraphDef; naming rules are documented at SummaryWriter::add_graph.
std::string build_graph_def(const Tensor& output, const NamedTensors& parameters);
// The same for a traced graph.
std::string build_graph_def(const jit::Graph& graph);

}  // namespace tg::summary::detail
