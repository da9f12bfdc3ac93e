// libFuzzer target: tg::onnx::load on arbitrary bytes (standard ONNX ops and saved
// tapegrad graphs alike). Every input must load or throw tg::Error; what loads must save
// (losslessly) and load back with the same nodes. The import budgets are kept small so one
// input's dry run stays fast; the size checks are the same at any budget.
#include "fuzz_input.hpp"
#include "tapegrad/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = tgfuzz::as_file(data, size, "input.onnx");
    tg::onnx::ImportOptions options;
    options.max_elements = std::int64_t{1} << 20;
    options.max_operations = std::int64_t{1} << 27;
    tg::jit::Graph graph;
    try {
        graph = tg::onnx::load(path, options);
    } catch (const tg::Error&) {
        return 0;
    }
    for (const auto& [id, tensor] : graph.initializers()) tgfuzz::touch(tensor);
    const tg::jit::Graph again = tg::onnx::from_onnx(tg::onnx::to_saved_graph(graph), "saved", options);
    if (again.nodes().size() != graph.nodes().size() || again.outputs().size() != graph.outputs().size()) std::abort();
    for (std::size_t n = 0; n < graph.nodes().size(); ++n)
        if (again.nodes()[n].kind != graph.nodes()[n].kind) std::abort();
    return 0;
}
