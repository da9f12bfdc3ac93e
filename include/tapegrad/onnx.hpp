// tg::onnx: writing a traced graph as an ONNX model (opset 17), for ONNX Runtime and
// every other ONNX consumer.
//
//   model.eval();
//   tg::onnx::export_model(model, tg::zeros({1, 784}), "mlp.onnx");   // batch dim dynamic
//   tg::onnx::export_model(tg::jit::trace(fn, inputs), "fn.onnx");
//
// Which op becomes which ONNX op: docs/graphs-and-onnx.md. A node with no ONNX mapping
// (or one that only makes sense in training: batch norm on batch statistics, training
// dropout) throws a tg::Error naming the node and its op.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/jit.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn {
class Module;
}

namespace tg::onnx {

inline constexpr std::int64_t kOpsetVersion = 17;

struct ExportOptions {
    std::vector<std::string> input_names;   // default "input", ...
    std::vector<std::string> output_names;  // default "output", ...
    bool dynamic_batch = true;              // the inputs' first dim is a named ("batch") dim
    std::string graph_name = "tapegrad";
};

// The serialized ModelProto.
std::string to_onnx(const jit::Graph& graph, const std::string& graph_name = "tapegrad");
// Writes the model atomically (a temporary file renamed into place).
void export_model(const jit::Graph& graph, const std::string& path);
// Traces module.forward in eval mode (its mode is restored afterwards) and writes it.
void export_model(nn::Module& module, const Tensor& example_input, const std::string& path,
                  const ExportOptions& options = {});

}  // namespace tg::onnx
