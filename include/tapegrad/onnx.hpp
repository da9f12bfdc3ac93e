// tg::onnx: a traced graph as an ONNX model (opset 17) for ONNX Runtime and every other
// ONNX consumer; a graph saved with its weights and loaded back; ONNX models (ours,
// PyTorch's torch.onnx.export) imported as a runnable jit::Graph.
//
//   model.eval();
//   tg::onnx::export_model(model, tg::zeros({1, 784}), "mlp.onnx");   // batch dim dynamic
//   tg::onnx::export_model(tg::jit::trace(fn, inputs), "fn.onnx");
//   tg::onnx::save(graph, "mlp.tg.onnx");                              // lossless, for tapegrad
//   tg::jit::Graph g = tg::onnx::load("mlp.tg.onnx");                   // or any ONNX model
//
// Which op becomes which ONNX op: docs/graphs-and-onnx.md. A node with no ONNX mapping
// (or one that only makes sense in training: batch norm on batch statistics, training
// dropout) throws a tg::Error naming the node and its op.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/jit.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn {
class Module;
}

namespace tg::onnx {

inline constexpr std::int64_t kOpsetVersion = 17;

struct ExportOptions {
    std::vector<std::string> input_names{};   // default "input", ...
    std::vector<std::string> output_names{};  // default "output", ...
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

// Saving a graph with its weights, losslessly: an ONNX file whose nodes are tapegrad's own
// ops (domain "ai.tapegrad", one ONNX node per graph node, attributes as traced, reals as
// float64), value names and initializers as in the graph. load() gives back a graph that
// runs the same kernels on the same weights: bitwise the same outputs. Only tapegrad reads
// these nodes; for ONNX Runtime and other runtimes, use export_model.
std::string to_saved_graph(const jit::Graph& graph, const std::string& graph_name = "tapegrad");
void save(const jit::Graph& graph, const std::string& path);

// Reads an ONNX model as a jit::Graph: what save() wrote, what export_model wrote, or a
// model from another exporter (PyTorch's torch.onnx.export, opset 13-17) built from the
// ops docs/graphs-and-onnx.md lists. Graph inputs become placeholders (a symbolic first
// dim is the dynamic batch), initializers keep their names, outputs their names; shape
// computations on constants (PyTorch's Shape -> Gather -> Concat -> Reshape) are folded at
// import. Shapes are inferred by running the graph once at batch 1 and 2 on zeros.
//
// The file is untrusted input: a malformed, truncated or inconsistent model (sizes that
// disagree with the data, an unknown op or dtype, a missing attribute, a value read before
// it is defined, a tensor over `ImportOptions::max_elements`, a dry run over
// `max_operations`) throws a tg::Error naming the file, the node and the problem.
struct ImportOptions {
    // The largest tensor (elements) the import may make, weights and inferred
    // intermediates at batch 2 alike; larger needs say so instead of allocating.
    std::int64_t max_elements = std::int64_t{1} << 26;
    // The most arithmetic the dry run may do (multiply-adds, summed over its nodes): a small
    // file cannot keep the import busy for minutes. 2^36 is a few seconds to a minute.
    std::int64_t max_operations = std::int64_t{1} << 36;
};
jit::Graph load(const std::string& path, const ImportOptions& options = {});
// The same from the bytes of a ModelProto; `source` names it in errors.
jit::Graph from_onnx(std::string_view bytes, const std::string& source = "<bytes>", const ImportOptions& options = {});

}  // namespace tg::onnx

TG_PUBLIC_END
